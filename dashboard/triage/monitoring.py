"""What the Prometheus metrics report, asked of the snapshot (dashboard.exports.metrics turns
it into metric families).

Counters are counts of rows the snapshot never deletes (records, replays, resolutions, audit
entries, ingest runs), or Kafka's high watermarks, so they only grow and any number of
processes reading one snapshot report the same values: two exporters never double count, and
a restarted one carries on from the snapshot's totals.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from dashboard.adapters.db import Connection
from dashboard.triage.overview import DlqSize, dlq_size, last_good_ingest, oldest_open
from dashboard.triage.states import IN_KAFKA, RESOLVED
from ingest.store import REACHED_KAFKA_SQL

# The audit's actions that replay one record (a dry run's single entry names no record).
REPLAY_ACTIONS = ("replay", "replay-with-new-url")
RESOLVE_ACTION = "resolve"


@dataclass(frozen=True)
class LastIngest:
    finished_at: datetime
    seconds: float
    status: str  # ok, failed, interrupted
    records: int
    reached_kafka: bool  # ingest.store.REACHED_KAFKA_SQL

    @property
    def failed_to_start(self) -> bool:
        """An outage's failed attempts (ingest.store.record_failed_attempt): its time is
        the outage's length so far, not a run's. Not a run that read Kafka and failed
        before it stored a record (a failed write, say): that one is a run, with its time."""
        return self.status == "failed" and not self.reached_kafka


@dataclass(frozen=True)
class MonitoringNumbers:
    size: DlqSize  # the backlog by state, records in the topic, watermarks, unparseable
    entered: int  # records ever written to the topic: the sum of the high watermarks
    ingested: int  # records in the snapshot (gone ones included)
    ingested_unparseable: int
    oldest_open_at: datetime | None
    replays: dict[str, int]  # audit entries of single-record replays, by result
    resolves: dict[str, int]  # audit entries of single-record resolves, by result
    resolutions: dict[str, int]  # resolved records, by how (dashboard, review-group, ...)
    replay_returns: int  # records that arrived again after a replay of their trace id
    ingest_runs: dict[str, int]  # by status
    last_ingest: LastIngest | None  # the latest run, whatever its status
    last_ok_at: datetime | None  # when the last run that finished ok did: the snapshot's age
    backlog_by_category: dict[str | None, int]  # raw category (lower case; None: none)


def monitoring_numbers(con: Connection, topic: str) -> MonitoringNumbers:
    size = dlq_size(con, topic)
    return MonitoringNumbers(
        size=size,
        entered=sum(p.high for p in size.partitions),
        ingested=_count(con, "SELECT count(*) FROM records WHERE topic = ?", topic),
        ingested_unparseable=_count(
            con, "SELECT count(*) FROM records WHERE topic = ? AND parse_error IS NOT NULL", topic
        ),
        oldest_open_at=oldest_open(con, topic),
        replays=_audit_results(con, topic, REPLAY_ACTIONS),
        resolves=_audit_results(con, topic, (RESOLVE_ACTION,)),
        resolutions=_grouped(
            con, "SELECT source, count(*) FROM resolutions WHERE topic = ? GROUP BY ALL", topic
        ),
        replay_returns=_count(
            con,
            """SELECT count(DISTINCT (r."partition", r."offset")) FROM records r
               JOIN replays p ON p.topic = r.topic AND p.trace_id = r.trace_id
                   AND r.kafka_timestamp > p.replayed_at
                   AND NOT (r."partition" = p."partition" AND r."offset" = p."offset")
               WHERE r.topic = ?""",
            topic,
        ),
        ingest_runs=_grouped(
            con,
            "SELECT status, count(*) FROM ingest_runs WHERE topic = ? AND "
            "finished_at IS NOT NULL GROUP BY ALL",
            topic,
        ),
        last_ingest=_last_ingest(con, topic),
        last_ok_at=last_good_ingest(con, topic),
        backlog_by_category=_by_category(con, topic),
    )


def _count(con: Connection, sql: str, topic: str) -> int:
    row = con.execute(sql, [topic]).fetchone()
    return int(row[0]) if row else 0


def _grouped(con: Connection, sql: str, topic: str) -> dict[str, int]:
    return {str(key): int(n) for key, n in con.execute(sql, [topic]).fetchall()}


def _audit_results(con: Connection, topic: str, actions: tuple[str, ...]) -> dict[str, int]:
    rows = con.execute(
        """SELECT result, count(*) FROM audit_log
           WHERE topic = ? AND "offset" IS NOT NULL AND list_contains(?, action)
           GROUP BY ALL""",
        [topic, list(actions)],
    ).fetchall()
    return {str(result): int(n) for result, n in rows}


def _last_ingest(con: Connection, topic: str) -> LastIngest | None:
    row = con.execute(
        f"""SELECT finished_at, finished_at - started_at, status, records_ingested,
                  {REACHED_KAFKA_SQL}
           FROM ingest_runs r WHERE topic = ? AND finished_at IS NOT NULL
           ORDER BY finished_at DESC LIMIT 1""",
        [topic],
    ).fetchone()
    if row is None:
        return None
    took: timedelta = row[1]
    return LastIngest(row[0], took.total_seconds(), str(row[2]), int(row[3]), bool(row[4]))


def _by_category(con: Connection, topic: str) -> dict[str | None, int]:
    rows = con.execute(
        f"""SELECT lower(nullif(trim(error_category), '')), count(*)
            FROM records r
            WHERE topic = ? AND {IN_KAFKA} AND state <> '{RESOLVED}'
            GROUP BY ALL""",
        [topic],
    ).fetchall()
    return {category: int(n) for category, n in rows}

"""Reading DLQ records back out of the snapshot (the runbook's `list`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dashboard.adapters.db import Connection
from dashboard.triage.states import records_with_state_sql

LISTED_COLUMNS = (
    "topic",
    "partition",
    "offset",
    "timestamp",
    "trace_id",
    "retry_count",
    "error_category",
    "attachment_url",
    "domain",
    "error_signature",
    "error_message",
    "parse_error",
    "state",
)


@dataclass(frozen=True)
class ListedRecord:
    topic: str
    partition: int
    offset: int
    timestamp: datetime | None
    trace_id: str | None
    retry_count: int | None
    error_category: str | None
    attachment_url: str | None
    domain: str | None
    error_signature: str | None
    error_message: str | None
    parse_error: str | None
    state: str

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in LISTED_COLUMNS}


@dataclass(frozen=True)
class RecordPage:
    records: list[ListedRecord]
    total: int  # how many records match, beyond the limit
    unparseable_hidden: int  # unresolved records left out because they could not be parsed


@dataclass(frozen=True)
class SnapshotInfo:
    records: int
    last_ingest_at: datetime | None
    last_run_status: str | None


def list_records(
    con: Connection,
    topic: str,
    *,
    limit: int = 100,
    include_all: bool = False,
    newest_first: bool = False,
) -> RecordPage:
    """Unresolved, readable records still in Kafka, oldest first, as the runbook's `list`
    shows them; `include_all` lists every record of the snapshot instead."""
    # The runbook's list shows what is left to look at: unresolved (replayed records are
    # still waiting for their outcome, so they are listed too) and still in Kafka.
    state = (
        "CASE WHEN r.gone_from_kafka_at IS NOT NULL THEN 'gone' "
        "WHEN r.state <> 'unresolved' THEN r.state "
        "WHEN r.parse_error IS NOT NULL THEN 'unparseable' ELSE 'unresolved' END"
    )
    where = "r.topic = $topic"
    if not include_all:
        where += f" AND {state} IN ('unresolved', 'replayed')"
    direction = "DESC" if newest_first else "ASC"
    base = f"""
        FROM {records_with_state_sql()} r
        WHERE {where}
    """
    rows = con.execute(
        f"""
        SELECT r.topic, r."partition", r."offset", r.kafka_timestamp, r.trace_id,
               r.retry_count, r.error_category, r.attachment_url, r."domain",
               r.error_signature, r.error_message, r.parse_error, {state} AS state
        {base}
        ORDER BY r.kafka_timestamp {direction} NULLS LAST, r."partition", r."offset" {direction}
        LIMIT $limit
        """,
        {"topic": topic, "limit": limit},
    ).fetchall()
    total_row = con.execute(f"SELECT count(*) {base}", {"topic": topic}).fetchone()
    hidden = 0
    if not include_all:
        hidden_row = con.execute(
            f"""SELECT count(*) FROM {records_with_state_sql()} r
                WHERE r.topic = $topic AND {state} = 'unparseable'""",
            {"topic": topic},
        ).fetchone()
        hidden = int(hidden_row[0]) if hidden_row else 0
    return RecordPage(
        [ListedRecord(*row) for row in rows],
        int(total_row[0]) if total_row else 0,
        hidden,
    )


def snapshot_info(con: Connection, topic: str) -> SnapshotInfo:
    count = con.execute("SELECT count(*) FROM records WHERE topic = ?", [topic]).fetchone()
    last = con.execute(
        "SELECT finished_at, status FROM ingest_runs WHERE topic = ? AND finished_at IS NOT NULL "
        "ORDER BY run_id DESC LIMIT 1",
        [topic],
    ).fetchone()
    return SnapshotInfo(
        int(count[0]) if count else 0,
        last[0] if last else None,
        last[1] if last else None,
    )

"""Reading DLQ records back out of the snapshot (the runbook's `list`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dashboard.adapters.db import Connection
from dashboard.triage.overview import last_good_ingest
from dashboard.triage.states import (
    BACKLOG,
    UNPARSEABLE,
    choices_condition,
    record_state_label,
)

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
    "gone",
    "state",
)


@dataclass(frozen=True)
class RecordRow:
    """One record as lists show it (Messages page, history, the runbook's list)."""

    topic: str
    partition: int
    offset: int
    timestamp: datetime | None
    trace_id: str | None
    retry_count: int | None
    error_category: str | None
    domain: str | None
    error_message: str | None
    attachment_url: str | None
    error_signature: str | None
    state: str  # one of STATES (dashboard.triage.states)
    parse_error: str | None
    gone: bool
    replay_outcome: str | None = None  # waiting, failed-again, succeeded (replayed records)

    @property
    def coordinates(self) -> str:
        return f"{self.topic}:{self.partition}:{self.offset}"

    @property
    def state_label(self) -> str:
        """Its state as lists show it, gone and unparseable beside it."""
        return record_state_label(self.state, self.gone, self.parse_error)

    def as_dict(self) -> dict[str, Any]:
        """The runbook list's columns, its state word (as in URLs and options) included."""
        return {name: getattr(self, name) for name in LISTED_COLUMNS}


def row_sql(alias: str = "r", state: str = "", replay_outcome: str = "") -> str:
    """A `RecordRow`'s columns from `alias`, a `records` row (its kept state) unless the state
    and replay outcome are given from elsewhere."""
    return f"""{alias}.topic, {alias}."partition", {alias}."offset", {alias}.kafka_timestamp,
        {alias}.trace_id, {alias}.retry_count, {alias}.error_category, {alias}."domain",
        {alias}.error_message, {alias}.attachment_url, {alias}.error_signature,
        {state or alias + ".state"}, {alias}.parse_error, {alias}.gone_from_kafka_at IS NOT NULL,
        {replay_outcome or alias + ".replay_outcome"}"""


@dataclass(frozen=True)
class RecordPage:
    records: list[RecordRow]
    total: int  # how many records match, beyond the limit
    unparseable_hidden: int  # backlog records left out because they could not be parsed


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
    """The backlog's readable records, oldest first, as the runbook's `list` shows them;
    `include_all` lists every record of the snapshot instead."""
    # The runbook's list shows what is left to look at: the backlog (replayed records are
    # still waiting for their outcome, so they are listed too).
    backlog, unparseable = choices_condition((BACKLOG,)), choices_condition((UNPARSEABLE,))
    where = "r.topic = $topic"
    if not include_all:
        where += f" AND {backlog} AND NOT {unparseable}"
    direction = "DESC" if newest_first else "ASC"
    base = f"""
        FROM records r
        WHERE {where}
    """
    rows = con.execute(
        f"""
        SELECT {row_sql()}
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
            f"""SELECT count(*) FROM records r
                WHERE r.topic = $topic AND {backlog} AND {unparseable}""",
            {"topic": topic},
        ).fetchone()
        hidden = int(hidden_row[0]) if hidden_row else 0
    return RecordPage(
        [RecordRow(*row) for row in rows],
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
        last_good_ingest(con, topic),
        last[1] if last else None,
    )

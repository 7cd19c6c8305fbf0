"""Searching the whole snapshot and reading one record in full (the Messages page, the CLI's
bulk filters).

A `MessageFilter` is the one description of "which records": the page builds it from its
widgets (bound to the URL's query parameters), the Patterns page links to it, and bulk
actions act on exactly what it matches.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Final, Literal

from dashboard.adapters.db import Connection
from dashboard.triage.patterns import NO_TEXT_LABEL, NONE_LABEL
from dashboard.triage.states import STATE_EXPRESSION, records_with_state_sql, state_joins

SortKey = Literal["time", "offset", "trace_id", "retry_count", "error_category", "domain"]
SORT_COLUMNS: Final[dict[str, str]] = {
    "time": "kafka_timestamp",
    "offset": '"partition", "offset"',
    "trace_id": "trace_id",
    "retry_count": "retry_count",
    "error_category": "error_category",
    "domain": '"domain"',
}
STATE_CHOICES: Final = (
    "unresolved",
    "replayed",
    "replay-failed",
    "ready-to-resolve",
    "resolved",
    "unparseable",
    "gone",
)


@dataclass(frozen=True)
class MessageFilter:
    """Every field narrows the search; empty fields do not."""

    trace: str = ""  # substring of the trace id
    url: str = ""  # substring of the attachment URL
    domain: str = ""  # substring of the domain
    error: str = ""  # substring of the error text
    signature: str = ""  # exact error signature (from a pattern group)
    category: tuple[str, ...] = ()  # "(none)" selects records without a category
    retry_count: tuple[int, ...] = ()
    event: str = ""  # "type / subtype" as the Patterns page groups it
    file_type: str = ""
    partition: int | None = None
    offset_from: int | None = None
    offset_to: int | None = None
    time_from: datetime | None = None
    time_to: datetime | None = None
    hour: int | None = None  # hour of day, UTC
    day: str = ""  # YYYY-MM-DD, UTC
    header_key: str = ""
    header_value: str = ""
    states: tuple[str, ...] = ()  # any of STATE_CHOICES; empty = all

    def where(self, topic: str) -> tuple[str, dict[str, object]]:
        """SQL conditions on the `records_with_state_sql()` relation, with parameters."""
        clauses = ["topic = $topic"]
        params: dict[str, object] = {"topic": topic}

        def like(column: str, name: str, value: str) -> None:
            if value.strip():
                clauses.append(f"{column} ILIKE ${name} ESCAPE '\\'")
                params[name] = "%" + _escape_like(value.strip()) + "%"

        like("trace_id", "trace", self.trace)
        if self.url.strip():
            # A case-insensitive literal regular expression: RE2 scans long URLs several
            # times faster than ILIKE, which lower-cases every value first.
            clauses.append("regexp_matches(attachment_url, $url)")
            params["url"] = "(?i)" + _literal_pattern(self.url.strip())
        like('"domain"', "domain", self.domain)
        like("error_message", "error", self.error)
        if self.signature:
            if self.signature == NO_TEXT_LABEL:
                clauses.append("error_signature IS NULL")
            else:
                clauses.append("error_signature = $signature")
                params["signature"] = self.signature
        if self.category:
            named = [c for c in self.category if c != NONE_LABEL]
            options = []
            if named:
                options.append("error_category IN (SELECT unnest($categories))")
                params["categories"] = [c.lower() for c in named]
            if NONE_LABEL in self.category:
                options.append("error_category IS NULL")
            clauses.append("(" + " OR ".join(options) + ")")
        if self.retry_count:
            clauses.append("retry_count IN (SELECT unnest($retry_counts))")
            params["retry_counts"] = list(self.retry_count)
        if self.event:
            clauses.append(
                "coalesce(event_type, '?') || ' / ' || coalesce(event_subtype, '?') = $event"
            )
            params["event"] = self.event
        if self.file_type:
            clauses.append("file_type = $file_type")
            params["file_type"] = self.file_type.lower()
        if self.partition is not None:
            clauses.append('"partition" = $partition')
            params["partition"] = self.partition
        if self.offset_from is not None:
            clauses.append('"offset" >= $offset_from')
            params["offset_from"] = self.offset_from
        if self.offset_to is not None:
            clauses.append('"offset" <= $offset_to')
            params["offset_to"] = self.offset_to
        if self.time_from is not None:
            clauses.append("kafka_timestamp >= $time_from")
            params["time_from"] = self.time_from
        if self.time_to is not None:
            clauses.append("kafka_timestamp < $time_to")
            params["time_to"] = self.time_to
        if self.hour is not None:
            clauses.append("hour(kafka_timestamp) = $hour")
            params["hour"] = self.hour
        if self.day:
            clauses.append("strftime(kafka_timestamp, '%Y-%m-%d') = $day")
            params["day"] = self.day
        if self.header_key.strip() or self.header_value.strip():
            conditions = []
            if self.header_key.strip():
                conditions.append("contains(lower(h.key), $header_key)")
                params["header_key"] = self.header_key.strip().lower()
            if self.header_value.strip():
                # BLOB -> VARCHAR spells non-UTF-8 bytes as \xNN and never fails.
                conditions.append("contains(lower(CAST(h.value AS VARCHAR)), $header_value)")
                params["header_value"] = self.header_value.strip().lower()
            clauses.append(f"len(list_filter(headers, lambda h: {' AND '.join(conditions)})) > 0")
        if self.states:
            options = []
            for state in self.states:
                if state == "unparseable":
                    options.append("parse_error IS NOT NULL")
                elif state == "gone":
                    options.append("gone_from_kafka_at IS NOT NULL")
                elif state == "replay-failed":
                    options.append("(state = 'replayed' AND replay_outcome = 'failed-again')")
                elif state == "ready-to-resolve":
                    options.append("(state = 'replayed' AND replay_outcome = 'succeeded')")
                elif state in ("unresolved", "replayed", "resolved"):
                    options.append(f"(state = '{state}' AND gone_from_kafka_at IS NULL)")
                else:
                    raise ValueError(f"unknown state {state!r}")
            clauses.append("(" + " OR ".join(options) + ")")
        return " AND ".join(clauses), params

    def is_empty(self) -> bool:
        return self == MessageFilter()

    def describe(self) -> str:
        """One line saying what the filter selects, for previews, audit reasons and titles."""
        parts = []
        for f in fields(self):
            value = getattr(self, f.name)
            if value in ("", (), None):
                continue
            if isinstance(value, tuple):
                value = ",".join(str(v) for v in value)
            elif isinstance(value, datetime):
                value = value.isoformat()
            parts.append(f"{f.name}={value}")
        return " ".join(parts) if parts else "all records"


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


_RE2_SPECIAL: Final = frozenset("\\.+*?()|[]{}^$")


def _literal_pattern(text: str) -> str:
    """`text` as an RE2 pattern that matches it literally."""
    return "".join("\\" + c if c in _RE2_SPECIAL else c for c in text)


@dataclass(frozen=True)
class MessageRow:
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
    state: str
    parse_error: str | None
    gone: bool
    replay_outcome: str | None = None  # waiting, failed-again, succeeded (replayed records)

    @property
    def coordinates(self) -> str:
        return f"{self.topic}:{self.partition}:{self.offset}"


@dataclass(frozen=True)
class SearchResult:
    rows: list[MessageRow]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def count(con: Connection, topic: str, flt: MessageFilter) -> int:
    """How many records the filter matches (what the Messages page's caption says)."""
    where, params = flt.where(topic)
    source = records_with_state_sql() if flt.states else "records"
    row = con.execute(f"SELECT count(*) FROM {source} r WHERE {where}", params).fetchone()
    return int(row[0]) if row else 0


def search(
    con: Connection,
    topic: str,
    flt: MessageFilter,
    sort: str = "time",
    descending: bool = True,
    page: int = 1,
    page_size: int = 50,
) -> SearchResult:
    where, params = flt.where(topic)
    order = SORT_COLUMNS[sort]
    direction = "DESC" if descending else "ASC"
    order_by = ", ".join(f"{col.strip()} {direction} NULLS LAST" for col in order.split(","))
    # Without a state condition, filter and sort the records alone and look the state up for
    # the one page shown: joining the whole table to its resolutions costs more than the rest.
    source = records_with_state_sql() if flt.states else "records"

    order_by_p = ", ".join(f"p.{col.strip()} {direction} NULLS LAST" for col in order.split(","))

    def fetch(page: int) -> list[MessageRow]:
        rows = con.execute(
            f"""
            WITH page AS (
                SELECT * FROM {source} r WHERE {where}
                ORDER BY {order_by}, "partition", "offset"
                LIMIT $limit OFFSET $skip
            )
            SELECT p.topic, p."partition", p."offset", p.kafka_timestamp, p.trace_id,
                   p.retry_count, p.error_category, p."domain", p.error_message,
                   p.attachment_url, {STATE_EXPRESSION}, p.parse_error,
                   p.gone_from_kafka_at IS NOT NULL, rp.replay_outcome
            FROM page p {state_joins("p")}
            ORDER BY {order_by_p}, p."partition", p."offset"
            """,
            {**params, "limit": page_size, "skip": (page - 1) * page_size},
        ).fetchall()
        return [MessageRow(*row) for row in rows]

    rows = fetch(max(1, page))
    if page <= 1 and len(rows) < page_size:
        return SearchResult(rows, len(rows), 1, page_size)  # the first page holds them all
    total = count(con, topic, flt)
    last_page = max(1, -(-total // page_size))
    if page > last_page:
        page = last_page
        rows = fetch(page)
    return SearchResult(rows, total, max(1, page), page_size)


@dataclass(frozen=True)
class RecordDetail:
    """One record in full: what the runbook's `view` shows, and the raw bytes."""

    columns: dict[str, Any]
    headers: list[tuple[str, str]]  # values as text (\\xNN where not UTF-8)
    value_text: str | None  # the value as text, None for a tombstone
    original_task: dict[str, Any] | None
    history: list[MessageRow] = field(default_factory=list)  # other records, same trace id

    @property
    def metadata(self) -> dict[str, Any] | None:
        task = self.original_task or {}
        meta = task.get("metadata")
        return meta if isinstance(meta, dict) else None


def record_detail(con: Connection, topic: str, partition: int, offset: int) -> RecordDetail | None:
    cursor = con.execute(
        f"""SELECT * EXCLUDE ("value", headers, "key"),
                   "key", "value", headers
            FROM {records_with_state_sql()} r
            WHERE topic = ? AND "partition" = ? AND "offset" = ?""",
        [topic, partition, offset],
    )
    names = [d[0] for d in cursor.description]
    row = cursor.fetchone()
    if row is None:
        return None
    columns = dict(zip(names, row, strict=True))
    key, value, headers = columns.pop("key"), columns.pop("value"), columns.pop("headers")
    columns["key"] = _as_text(key)
    value_text = _as_text(value)
    task: dict[str, Any] | None = None
    if value_text is not None and columns.get("parse_error") is None:
        try:
            document = json.loads(value_text)
        except ValueError:
            document = None
        if isinstance(document, dict) and isinstance(document.get("original_task"), dict):
            task = document["original_task"]
    history: list[MessageRow] = []
    if columns.get("trace_id"):
        history = _history(con, topic, str(columns["trace_id"]), partition, offset)
    return RecordDetail(
        columns=columns,
        headers=[(h["key"], _as_text(h["value"]) or "") for h in headers or []],
        value_text=value_text,
        original_task=task,
        history=history,
    )


def _history(
    con: Connection, topic: str, trace_id: str, partition: int, offset: int
) -> list[MessageRow]:
    rows = con.execute(
        f"""
        SELECT topic, "partition", "offset", kafka_timestamp, trace_id, retry_count,
               error_category, "domain", error_message, attachment_url, state, parse_error,
               gone_from_kafka_at IS NOT NULL, replay_outcome
        FROM {records_with_state_sql()} r
        WHERE topic = ? AND trace_id = ? AND NOT ("partition" = ? AND "offset" = ?)
        ORDER BY kafka_timestamp, "partition", "offset" LIMIT 200
        """,
        [topic, trace_id, partition, offset],
    ).fetchall()
    return [MessageRow(*row) for row in rows]


def _as_text(raw: bytes | None) -> str | None:
    if raw is None:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("utf-8", errors="backslashreplace")

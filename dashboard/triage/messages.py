"""Searching the whole snapshot and reading one record in full (the Messages page).

A `RecordFilter` (dashboard.triage.filters) says which records; bulk actions act on exactly
what it matches here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from dashboard.adapters.db import Connection, transaction
from dashboard.triage.dimensions import NONE_LABEL
from dashboard.triage.filters import RecordFilter, Topics
from dashboard.triage.records import RecordRow, row_sql
from dashboard.triage.states import records_with_details_sql

SortKey = Literal["time", "offset", "trace_id", "retry_count", "error_category", "domain"]
SORT_COLUMNS: Final[dict[str, str]] = {
    "time": "kafka_timestamp",
    "offset": '"partition", "offset"',
    "trace_id": "trace_id",
    "retry_count": "retry_count",
    "error_category": "error_category",
    "domain": '"domain"',
}


@dataclass(frozen=True)
class SearchResult:
    rows: list[RecordRow]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def count(con: Connection, topic: Topics, flt: RecordFilter) -> int:
    """How many records the filter matches (what the Messages page's caption says)."""
    where, params = flt.where(topic)
    row = con.execute(f"SELECT count(*) FROM records r WHERE {where}", params).fetchone()
    return int(row[0]) if row else 0


def categories_unknown(
    con: Connection, topic: Topics, flt: RecordFilter
) -> tuple[list[str], list[str]]:
    """The filter's categories that no record of `topic` has (a typo in a shared link:
    "permanant"), and the categories records do have, so a page can say why nothing
    matched rather than let "0 records" read as "no such failures"."""
    where, params = RecordFilter().where(topic)
    rows = con.execute(
        f"SELECT DISTINCT error_category FROM records r WHERE {where} "
        "AND error_category IS NOT NULL ORDER BY 1",
        params,
    ).fetchall()
    known = [str(c) for (c,) in rows]
    named = [c for c in flt.category if c != NONE_LABEL]
    return [c for c in named if c.lower() not in known], known


def search(
    con: Connection,
    topic: Topics,
    flt: RecordFilter,
    sort: str = "time",
    descending: bool = True,
    page: int = 1,
    page_size: int = 50,
) -> SearchResult:
    where, params = flt.where(topic)
    sort_columns = [column.strip() for column in SORT_COLUMNS[sort].split(",")]
    direction = "DESC" if descending else "ASC"
    order_by = ", ".join(f"{column} {direction} NULLS LAST" for column in sort_columns)

    # A text search is evaluated once: its matches (row ids and sort columns) are kept for
    # the statement, counted and paged from there. Otherwise the count is a query of its
    # own: keeping the matches of a broad filter (every record) would hold them all where
    # the count alone streams. No window count: it serializes the filtering scan.
    counted = flt.searches_text
    keys = ", ".join(dict.fromkeys([*sort_columns, '"partition"', '"offset"']))
    sorted_page = f'ORDER BY {order_by}, "partition", "offset" LIMIT $limit OFFSET $skip'
    if counted:
        page_sql = f"""
            WITH matches AS MATERIALIZED (
                SELECT rowid AS rid, {keys} FROM records r WHERE {where}
            )
            SELECT rid, (SELECT count(*) FROM matches) FROM matches {sorted_page}"""
    else:
        page_sql = f"SELECT rowid, NULL FROM records r WHERE {where} {sorted_page}"

    def fetch(page: int) -> tuple[list[RecordRow], int | None]:
        # The page's row ids first, from the filtered and sorted columns alone, then its
        # columns for those rows only, by row id: sorting with the long text columns (URLs,
        # error messages) along would read them for every matching record, and a join on
        # the row ids reads every column of every record. One transaction: one snapshot.
        with transaction(con):
            found = con.execute(
                page_sql, {**params, "limit": page_size, "skip": (page - 1) * page_size}
            ).fetchall()
            rows = con.execute(
                f"""SELECT {row_sql()} FROM records r
                    WHERE rowid IN (SELECT unnest($rowids))
                    ORDER BY {order_by}, "partition", "offset" """,
                {"rowids": [rid for rid, _ in found]},
            ).fetchall()
        total = int(found[0][1]) if found and found[0][1] is not None else None
        return [RecordRow(*row) for row in rows], total

    rows, total = fetch(max(1, page))
    if page <= 1 and len(rows) < page_size:
        return SearchResult(rows, len(rows), 1, page_size)  # the first page holds them all
    if total is None:
        total = count(con, topic, flt)
    last_page = max(1, -(-total // page_size))
    if page > last_page:
        page = last_page
        rows, _ = fetch(page)
    return SearchResult(rows, total, max(1, page), page_size)


# The one record `record_detail` reads, for the replay details joined to it alone.
_ONE: Final = 'SELECT $topic AS topic, $partition AS "partition", $offset AS "offset"'


@dataclass(frozen=True)
class RecordDetail:
    """One record in full: what the runbook's `view` shows, and the raw bytes."""

    columns: dict[str, Any]
    headers: list[tuple[str, str]]  # values as text (\\xNN where not UTF-8)
    value_text: str | None  # the value as text, None for a tombstone
    original_task: dict[str, Any] | None
    history: list[RecordRow] = field(default_factory=list)  # other records, same trace id

    @property
    def metadata(self) -> dict[str, Any] | None:
        task = self.original_task or {}
        meta = task.get("metadata")
        return meta if isinstance(meta, dict) else None


def record_detail(con: Connection, topic: str, partition: int, offset: int) -> RecordDetail | None:
    cursor = con.execute(
        f"""SELECT * EXCLUDE ("value", headers, "key"),
                   "key", "value", headers
            FROM {records_with_details_sql(_ONE)} r
            WHERE topic = $topic AND "partition" = $partition AND "offset" = $offset""",
        {"topic": topic, "partition": partition, "offset": offset},
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
    history: list[RecordRow] = []
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
) -> list[RecordRow]:
    rows = con.execute(
        f"""
        SELECT {row_sql()}
        FROM records r
        WHERE topic = ? AND trace_id = ? AND NOT ("partition" = ? AND "offset" = ?)
        ORDER BY kafka_timestamp, "partition", "offset" LIMIT 200
        """,
        [topic, trace_id, partition, offset],
    ).fetchall()
    return [RecordRow(*row) for row in rows]


def _as_text(raw: bytes | None) -> str | None:
    if raw is None:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("utf-8", errors="backslashreplace")

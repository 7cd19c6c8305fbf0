"""What the burst scan counts: one (pair, minute) cell per record, or per (pair, minute) with
its count, and a way back to one record of each pair to name it.

Three sources, one result (tests/test_burst_cells.py holds them equal):
- every record of the selection, one cell each (a small snapshot: handing the records over
  costs less than a hash aggregate);
- the selection counted per (pair, minute) in SQL (a large snapshot: records far outnumber
  their cells);
- for a selection of every record of a span (only `since` and `until` set: the escalation's
  incident window), the counts the ingest keeps per pair and minute
  (dashboard.adapters.pair_minutes), with the records of the span's partial first and last
  minutes counted from `records`.
The key is the pair's hash the ingest kept (dashboard.adapters.failure_pairs).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from dashboard.adapters.db import Connection
from dashboard.adapters.pair_minutes import MINUTE_SQL
from dashboard.triage.filters import RecordFilter, Topics

# Counting per (pair, minute) in SQL costs a hash aggregate over the cells; handing over
# every record costs numpy work per record. The first pays once records far outnumber the
# cells they fall in (a day has 1,440 minutes per pair), as in a large snapshot.
COUNT_PER_MINUTE_ABOVE: Final = 3_000_000

_MINUTE: Final = MINUTE_SQL.format(timestamp="kafka_timestamp")

Names = tuple[str | None, str | None, str | None]  # signature, category, domain


# Where a cell's sample is: a rowid of `records`, or of `pair_minutes` (whose row names one
# record by its topic, partition and offset).
IN_RECORDS: Final = 0
IN_PAIR_MINUTES: Final = 1


@dataclass(frozen=True)
class Cells:
    keys: npt.NDArray[np.uint64]
    minutes: npt.NDArray[np.int64]
    counts: npt.NDArray[np.int64] | None  # None: one record per cell
    samples: npt.NDArray[np.int64]  # per cell, the rowid of one of its records or kept rows
    sources: npt.NDArray[np.int64]  # per cell, where its sample is: IN_RECORDS, IN_PAIR_MINUTES

    @property
    def counted(self) -> bool:
        return self.counts is not None


def spans_every_record(flt: RecordFilter) -> bool:
    """The selection is every record of a span: nothing set but `since` and `until`."""
    return flt == RecordFilter(since=flt.since, until=flt.until)


def of_selection(con: Connection, topic: Topics, flt: RecordFilter) -> Cells:
    """The cells of the records `flt` selects (in a transaction: rowids name the samples)."""
    if spans_every_record(flt):
        return _kept(con, topic, flt.since, flt.until)
    where, params = flt.where(topic)
    counted = _snapshot_records(con) > COUNT_PER_MINUTE_ABOVE
    # Any record of a pair names it: any_value, not min, which costs a comparison per row.
    per = "count(*) AS n, any_value(rowid) AS s" if counted else "rowid AS s"
    per += f", {IN_RECORDS} AS src"
    # Arrow hands the columns over whole; fetchnumpy converts them chunk by chunk.
    table = con.sql(
        f"""
        SELECT pair_hash AS k, {_MINUTE} AS minute, {per}
        FROM records r
        WHERE {where} AND kafka_timestamp IS NOT NULL
        {"GROUP BY ALL" if counted else ""}
        """,
        params=params,
    ).to_arrow_table()
    return _cells(table)


def names(con: Connection, cells: Cells, indices: list[int]) -> list[Names]:
    """The names of the pairs of the cells at `indices`, from each cell's sample record."""
    picked = [(int(cells.sources[i]), int(cells.samples[i])) for i in indices]
    kept = [rowid for source, rowid in picked if source == IN_PAIR_MINUTES]
    record_of = (
        {
            rowid: (topic, partition, offset)
            for rowid, topic, partition, offset in con.execute(
                'SELECT rowid, topic, sample."partition", sample."offset" FROM pair_minutes '
                "WHERE rowid IN (SELECT unnest($rowids))",
                {"rowids": kept},
            ).fetchall()
        }
        if kept
        else {}
    )
    by_key: dict[tuple[str, int, int], Names] = {}
    if record_of:
        for topic, partition, offset, *named in con.execute(
            'SELECT topic, "partition", "offset", error_signature, error_category, "domain" '
            'FROM records WHERE "offset" IN (SELECT unnest($offsets))',
            {"offsets": sorted({o for _, _, o in record_of.values()})},
        ).fetchall():
            by_key[(topic, partition, offset)] = (named[0], named[1], named[2])
    rowids = [rowid for source, rowid in picked if source == IN_RECORDS]
    by_rowid: dict[int, Names] = (
        {
            rowid: (signature, category, domain)
            for rowid, signature, category, domain in con.execute(
                'SELECT rowid, error_signature, error_category, "domain" FROM records '
                "WHERE rowid IN (SELECT unnest($rowids))",
                {"rowids": rowids},
            ).fetchall()
        }
        if rowids
        else {}
    )
    return [
        by_rowid[rowid] if source == IN_RECORDS else by_key[record_of[rowid]]
        for source, rowid in picked
    ]


def _kept(con: Connection, topic: Topics, since: datetime | None, until: datetime | None) -> Cells:
    """Whole minutes from the kept counts; the records of a partial first or last minute
    (a span need not start or end on a minute) from `records`."""
    topics, params = RecordFilter().where(topic)
    first = None if since is None else _minute_up(since)  # the first whole minute
    end = None if until is None else _minute_down(until)  # the minute after the last whole one
    whole = [topics]
    partial: list[str] = []  # the spans of records outside the whole minutes
    if first is not None and end is not None and first >= end:  # within one minute
        whole.append("FALSE")
        partial.append("kafka_timestamp >= $since AND kafka_timestamp < $until")
        params |= {"since": since, "until": until}
    else:
        if first is not None:
            whole.append("minute >= $first")
            params["first"] = first
            if since != _at(first):
                partial.append("kafka_timestamp >= $since AND kafka_timestamp < $first_at")
                params |= {"since": since, "first_at": _at(first)}
        if end is not None:
            whole.append("minute < $end")
            params["end"] = end
            if until != _at(end):
                partial.append("kafka_timestamp >= $end_at AND kafka_timestamp < $until")
                params |= {"until": until, "end_at": _at(end)}
    edges = (
        f"""
        UNION ALL
        SELECT pair_hash, {_MINUTE}, count(*), any_value(rowid), {IN_RECORDS} FROM records r
        WHERE {topics} AND kafka_timestamp IS NOT NULL
          AND ({" OR ".join(f"({p})" for p in partial)})
        GROUP BY ALL
        """
        if partial
        else ""
    )
    # One row per kept (pair, minute) row, unsummed: the windows add a minute's rows up.
    table = con.sql(
        f"""
        SELECT pair_hash AS k, minute, records AS n, rowid AS s, {IN_PAIR_MINUTES} AS src
        FROM pair_minutes WHERE {" AND ".join(whole)}
        {edges}
        """,
        params=params,
    ).to_arrow_table()
    return _cells(table)


def _cells(table: pa.Table) -> Cells:
    return Cells(
        keys=table["k"].to_numpy(),
        minutes=table["minute"].to_numpy(),
        counts=table["n"].to_numpy() if "n" in table.column_names else None,
        samples=table["s"].to_numpy(),
        sources=table["src"].to_numpy(),
    )


def _snapshot_records(con: Connection) -> int:
    """How many records the snapshot holds, from DuckDB's table statistics (no scan)."""
    rows = con.execute(
        "SELECT estimated_size FROM duckdb_tables() "
        "WHERE table_name = 'records' AND database_name = current_database()"
    ).fetchall()
    return int(rows[0][0]) if rows and rows[0][0] is not None else 0


_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def _minute_down(moment: datetime) -> int:
    """The epoch minute `moment` falls in."""
    return (moment - _EPOCH) // timedelta(minutes=1)


def _minute_up(moment: datetime) -> int:
    """The first epoch minute starting at or after `moment`."""
    down = _minute_down(moment)
    return down if _at(down) == moment else down + 1


def _at(minute: int) -> datetime:
    return _EPOCH + timedelta(minutes=minute)

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
The key is the pair's hash the ingest kept (dashboard.adapters.failure_pairs); a pair's
names come from one of its records, found through the kept counts (any record of a pair
names it), so no cell carries a record of its own.
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


@dataclass(frozen=True)
class Cells:
    keys: npt.NDArray[np.uint64]
    minutes: npt.NDArray[np.int64]
    counts: npt.NDArray[np.int64] | None  # None: one record per cell

    @property
    def counted(self) -> bool:
        return self.counts is not None


def spans_every_record(flt: RecordFilter) -> bool:
    """The selection is every record of a span: nothing set but `since` and `until`."""
    return flt == RecordFilter(since=flt.since, until=flt.until)


def of_selection(con: Connection, topic: Topics, flt: RecordFilter) -> Cells:
    """The cells of the records `flt` selects."""
    if spans_every_record(flt):
        return _kept(con, topic, flt.since, flt.until)
    where, params = flt.where(topic)
    counted = _snapshot_records(con) > COUNT_PER_MINUTE_ABOVE
    per = ", count(*) AS n" if counted else ""
    # Arrow hands the columns over whole; fetchnumpy converts them chunk by chunk.
    table = con.sql(
        f"""
        SELECT pair_hash AS k, {_MINUTE} AS minute{per}
        FROM records r
        WHERE {where} AND kafka_timestamp IS NOT NULL
        {"GROUP BY ALL" if counted else ""}
        """,
        params=params,
    ).to_arrow_table()
    return _cells(table)


def names(con: Connection, keys: list[int]) -> dict[int, Names]:
    """Each pair's names (signature, category, domain), from one of its records: the one a
    row of the kept counts names."""
    if not keys:
        return {}
    record_of = {
        (sample["topic"], sample["partition"], sample["offset"]): pair
        for pair, sample in con.execute(
            "SELECT pair_hash, min({'topic': topic, 'partition': sample.\"partition\", "
            "'offset': sample.\"offset\"}) FROM pair_minutes "
            "WHERE pair_hash IN (SELECT unnest($keys)) GROUP BY pair_hash",
            {"keys": keys},
        ).fetchall()
    }
    named: dict[int, Names] = {}
    for topic, partition, offset, *found in con.execute(
        'SELECT topic, "partition", "offset", error_signature, error_category, "domain" '
        'FROM records WHERE "offset" IN (SELECT unnest($offsets))',
        {"offsets": sorted({o for _, _, o in record_of})},
    ).fetchall():
        pair = record_of.get((topic, partition, offset))
        if pair is not None:
            named[pair] = (found[0], found[1], found[2])
    return named


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
        SELECT pair_hash, {_MINUTE}, count(*) FROM records r
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
        SELECT pair_hash AS k, minute, records AS n
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

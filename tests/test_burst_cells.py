"""The burst scan's cells (dashboard.triage.burst_cells): the counts the ingest keeps per
pair and minute (dashboard.adapters.pair_minutes) equal a count over the records, the
migration's back-fill equals what the ingest keeps, and bursts over a span found from the
kept counts equal those found from the records, whatever minute the span starts and ends in."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from dashboard.adapters import pair_minutes
from dashboard.adapters.db import Connection, Database
from dashboard.triage import burst_cells, patterns
from dashboard.triage.filters import RecordFilter
from tests.snapshots import TOPIC, demo_records, write_snapshot
from tests.test_schema_migrations import as_released_before

OTHER = "claimx.downloads.dlq"

KEPT = (
    "SELECT topic, pair_hash, minute, sum(records)::BIGINT, min(sample) FROM pair_minutes "
    "GROUP BY ALL ORDER BY ALL"
)
DERIVED = f"SELECT * FROM ({pair_minutes.DERIVED_SQL}) ORDER BY ALL"


def kept_and_derived(con: Connection) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    return con.execute(KEPT).fetchall(), con.execute(DERIVED).fetchall()


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cells") / "s.duckdb"
    records = demo_records(4_000)  # bursts, unreadable records, records without error text
    # Several ingests, one partition first: a burst's minute counted by more than one.
    write_snapshot(path, [r for r in records if r.partition == 0])
    write_snapshot(path, [r for r in records if r.partition != 0])
    write_snapshot(path, demo_records(500, topic=OTHER), topic=OTHER)
    return path


def test_the_kept_counts_equal_a_count_over_the_records(snapshot: Path) -> None:
    with Database(snapshot).read() as con:
        kept, derived = kept_and_derived(con)
        rows = con.execute("SELECT count(*) FROM pair_minutes").fetchone()
    assert kept == derived
    assert rows is not None and rows[0] > len(derived)  # minutes shared by two ingests
    assert sum(int(r[3]) for r in derived) == 4_500  # every record has a Kafka timestamp


def test_the_migration_keeps_what_the_ingest_would_have(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "before.duckdb"
    records = demo_records(2_000)
    with monkeypatch.context() as patched:
        as_released_before(patched, "0011_pair_minutes")
        write_snapshot(path, records[:1_000])
    write_snapshot(path, records[1_000:])  # migrated first, then kept by the ingest
    with Database(path).read() as con:
        kept, derived = kept_and_derived(con)
    assert kept == derived and sum(int(r[3]) for r in kept) == 2_000


def spans(con: Connection) -> list[RecordFilter]:
    bounds = con.execute("SELECT min(kafka_timestamp), max(kafka_timestamp) FROM records")
    first, last = bounds.fetchone() or (None, None)
    assert first is not None and last is not None
    odd = timedelta(seconds=17, microseconds=3)
    middle = first + (last - first) / 2
    return [
        RecordFilter(),
        RecordFilter(since=middle),
        RecordFilter(until=middle + odd),
        RecordFilter(since=first + odd, until=last - odd),
        RecordFilter(since=middle.replace(second=0, microsecond=0), until=last),
        # Whole minutes only: no record is counted from `records`.
        RecordFilter(
            since=middle.replace(second=0, microsecond=0),
            until=middle.replace(second=0, microsecond=0) + timedelta(hours=6),
        ),
        RecordFilter(until=middle.replace(second=0, microsecond=0)),
        RecordFilter(since=middle + odd, until=middle + odd + timedelta(seconds=20)),
        RecordFilter(since=middle + odd, until=middle + odd + timedelta(hours=6, seconds=5)),
        RecordFilter(since=last + timedelta(days=1)),
    ]


@pytest.mark.parametrize("topics", [TOPIC, (TOPIC, OTHER)])
def test_bursts_of_a_span_from_the_kept_counts_equal_those_from_the_records(
    snapshot: Path, monkeypatch: pytest.MonkeyPatch, topics: str | tuple[str, ...]
) -> None:
    with Database(snapshot).read() as con:
        found = []
        for span in spans(con):
            assert burst_cells.spans_every_record(span)
            kept = patterns.bursts(con, topics, span, min_records=20, window_minutes=10)
            with monkeypatch.context() as patched:
                patched.setattr(burst_cells, "spans_every_record", lambda _flt: False)
                from_records = patterns.bursts(con, topics, span, 20, 10)
            assert kept == from_records, span
            found.append(len(kept))
    assert found[0] > 1 and 0 in found  # bursts found, and a span with none


def test_other_selections_count_the_records() -> None:
    assert not burst_cells.spans_every_record(RecordFilter(states=("open",)))
    assert not burst_cells.spans_every_record(RecordFilter(domain="x"))

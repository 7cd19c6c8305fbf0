"""How the ingest job cuts what it reads into transactions, parses and writes them.

Kafka is not involved: staged batches go straight in, as `_copy` hands them over."""

from __future__ import annotations

import threading
from pathlib import Path

import pyarrow as pa
import pytest

from dashboard.adapters.db import Connection, Database
from ingest import store
from ingest import writer as ingest_writer
from ingest.parse import stage_raw
from tests.snapshots import TOPIC, demo_records

TRANSACTION_ROWS = 1_000


def writer_for(db: Database) -> ingest_writer.TransactionWriter:
    with db.write() as con:
        run_id = store.start_run(con, TOPIC)
    plan = ingest_writer.Plan(run_id=run_id, topic=TOPIC, start={}, end={}, committed={})
    return ingest_writer.TransactionWriter(db, plan, 2.0, TRANSACTION_ROWS)


def batches(table: pa.Table, sizes: list[int]) -> list[pa.Table]:
    out, start = [], 0
    for size in sizes:
        out.append(table.slice(start, size))
        start += size
    assert start == table.num_rows
    return out


def test_batches_are_written_once_in_full_transactions_with_the_ends_last(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = demo_records(3_100, partitions=1)
    staged = stage_raw(records)
    written: list[tuple[int, dict[int, int]]] = []
    write_parsed = store.write_parsed

    def spy(con: Connection, run_id: int, topic: str, parsed: pa.Table, *args: object) -> object:
        ends = args[0] if args else {}
        assert isinstance(ends, dict)
        written.append((parsed.num_rows, dict(ends)))
        return write_parsed(con, run_id, topic, parsed, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "write_parsed", spy)
    db = Database(tmp_path / "s.duckdb")
    writer = writer_for(db)
    writer.start()
    # Odd batch sizes, the partition's end reached with the last batch, and an empty poll
    # that only carries that end again.
    parts = batches(staged, [700, 900, 1, 599, 400, 500])
    for part in parts[:-1]:
        writer.put(part, {})
    writer.put(parts[-1], {0: 3_105})
    writer.put(None, {0: 3_105})
    writer.finish()

    # Full transactions of exactly TRANSACTION_ROWS; the rest last, with the end.
    assert written == [(1_000, {}), (1_000, {}), (1_000, {}), (100, {0: 3_105})]
    with db.read() as con:
        assert con.execute(
            'SELECT count(*), count(DISTINCT "offset"), min("offset"), max("offset") FROM records'
        ).fetchone() == (3_100, 3_100, 0, 3_099)
        # Past the last record: transaction markers take offsets that are never delivered.
        assert store.stored_positions(con, TOPIC) == {0: 3_105}


def test_the_first_transaction_is_short_so_the_writer_starts_sooner(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    staged = stage_raw(demo_records(2_600, partitions=1))
    written: list[int] = []
    write_parsed = store.write_parsed

    def spy(con: Connection, run_id: int, topic: str, parsed: pa.Table, *args: object) -> object:
        written.append(parsed.num_rows)
        return write_parsed(con, run_id, topic, parsed, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "write_parsed", spy)
    monkeypatch.setattr(ingest_writer, "FIRST_TRANSACTION_ROWS", 300)
    db = Database(tmp_path / "s.duckdb")
    writer = writer_for(db)
    writer.start()
    for part in batches(staged, [250, 250, 2_100]):
        writer.put(part, {})
    writer.finish()
    # The first as soon as 300 rows are read, then full ones, the rest last.
    assert written == [300, 1_000, 1_000, 300]
    with db.read() as con:
        assert con.execute('SELECT count(DISTINCT "offset") FROM records').fetchone() == (2_600,)


def test_a_failed_write_stops_the_reader_with_the_cause_and_keeps_what_was_committed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    staged = stage_raw(demo_records(5_000, partitions=1))
    calls = 0
    write_parsed = store.write_parsed

    def fails_second_time(*args: object) -> object:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise OSError("disk full")
        return write_parsed(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "write_parsed", fails_second_time)
    db = Database(tmp_path / "s.duckdb")
    writer = writer_for(db)
    writer.start()
    outcome: list[BaseException] = []

    def read_everything() -> None:
        try:
            for part in batches(staged, [500] * 10):
                writer.put(part, {})
            writer.finish()
        except BaseException as exc:  # noqa: BLE001 (inspected below)
            outcome.append(exc)

    reader = threading.Thread(target=read_everything)
    reader.start()
    reader.join(timeout=60)
    assert not reader.is_alive(), "the reading side hung on a dead writer"
    (error,) = outcome
    assert isinstance(error, ingest_writer.IngestError)
    assert "disk full" in str(error)
    # Raised again, not swallowed, when the job's `finally` finishes the writer.
    with pytest.raises(ingest_writer.IngestError):
        writer.finish()
    with db.read() as con:
        assert con.execute("SELECT count(*) FROM records").fetchone() == (TRANSACTION_ROWS,)
        assert store.stored_positions(con, TOPIC) == {0: TRANSACTION_ROWS}

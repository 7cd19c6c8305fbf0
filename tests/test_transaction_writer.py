"""How the ingest job cuts what it reads into transactions, parses and writes them.

Kafka is not involved: staged batches go straight in, as `_copy` hands them over."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pytest

from dashboard.adapters.db import Connection, Database
from ingest import store
from ingest import writer as ingest_writer
from ingest.parse import stage_raw
from ingest.phases import WRITER_PHASES, Phases
from tests.snapshots import TOPIC, demo_records

TRANSACTION_ROWS = 1_000
REPO = Path(__file__).resolve().parent.parent


def writer_for(db: Database, hold_seconds: float = 2.0) -> ingest_writer.TransactionWriter:
    with db.write() as con:
        run_id = store.start_run(con, TOPIC)
    plan = ingest_writer.Plan(run_id=run_id, topic=TOPIC, start={}, end={}, committed={})
    return ingest_writer.TransactionWriter(db, plan, hold_seconds, TRANSACTION_ROWS)


def batches(table: pa.Table, sizes: list[int]) -> list[pa.Table]:
    out, start = [], 0
    for size in sizes:
        out.append(table.slice(start, size))
        start += size
    assert start == table.num_rows
    return out


def error_of_reading(read: Callable[[], None], hung: str) -> BaseException:
    """Run the reading side on a thread of its own, as the job does, and return the one
    error it raised; fails with `hung` if it has not ended within a minute."""
    outcome: list[BaseException] = []

    def reading() -> None:
        try:
            read()
        except BaseException as exc:  # noqa: BLE001 (handed to the test)
            outcome.append(exc)

    reader = threading.Thread(target=reading)
    reader.start()
    reader.join(timeout=60)
    assert not reader.is_alive(), hung
    (error,) = outcome
    return error


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

    def read_everything() -> None:
        for part in batches(staged, [500] * 10):
            writer.put(part, {})
        writer.finish()

    error = error_of_reading(read_everything, "the reading side hung on a dead writer")
    assert isinstance(error, ingest_writer.IngestError)
    assert "disk full" in str(error)
    # Raised again, not swallowed, when the job's `finally` finishes the writer.
    with pytest.raises(ingest_writer.IngestError):
        writer.finish()
    with db.read() as con:
        assert con.execute("SELECT count(*) FROM records").fetchone() == (TRANSACTION_ROWS,)
        assert store.stored_positions(con, TOPIC) == {0: TRANSACTION_ROWS}


@pytest.mark.parametrize("failing_parse", [1, 2])
def test_a_failed_parse_stops_the_run_without_skipping_a_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing_parse: int
) -> None:
    # A parse that raises (DuckDB out of memory, a bug a record's bytes trigger) must end the
    # run with its cause, promptly, and store nothing past the transaction it lost: rows read
    # after it, or the partition's end, written by the run's `finally` would move the
    # position past records never stored, and the next run would not read them again.
    staged = stage_raw(demo_records(3_000, partitions=1))
    db = Database(tmp_path / "s.duckdb")
    writer = writer_for(db)
    parse = writer._parser.parse
    calls = 0

    def fails_once(table: pa.Table) -> pa.Table:
        nonlocal calls
        calls += 1
        if calls == failing_parse:
            # Worded as DuckDB words it: what failed, then advice for whoever wrote the query.
            raise MemoryError("out of memory in the parse\n\nPossible solutions:\n* SET threads")
        return parse(table)

    monkeypatch.setattr(writer._parser, "parse", fails_once)
    writer.start()

    def read_everything() -> None:
        try:
            parts = batches(staged, [1_500, 1_500])
            writer.put(parts[0], {})
            writer.put(parts[1], {0: 3_000})
        finally:
            writer.finish()  # as the job's `finally` does

    error = error_of_reading(read_everything, "the run hung after a failed parse")
    assert isinstance(error, ingest_writer.IngestError)
    assert str(error) == "parsing the records failed: out of memory in the parse"
    stored = TRANSACTION_ROWS * (failing_parse - 1)
    with db.read() as con:
        assert con.execute("SELECT count(*) FROM records").fetchone() == (stored,)
        assert store.stored_positions(con, TOPIC) == ({0: stored} if stored else {})


# Opens the snapshot read-only from another process, as the dashboard does, waiting up to
# the lock timeout given; prints the rows and how long the open waited.
_OTHER_PROCESS_READ = """
import sys, time
from pathlib import Path
from dashboard.adapters.db import Database
started = time.monotonic()
with Database(Path(sys.argv[1]), lock_timeout=float(sys.argv[2])).read() as con:
    waited = time.monotonic() - started
    print(con.execute("SELECT count(*) FROM records").fetchone()[0], round(waited, 2))
"""


def test_a_writer_with_nothing_to_write_lets_go_of_the_file_after_its_hold(
    tmp_path: Path,
) -> None:
    # Kafka goes quiet in the middle of a run (the broker stopped, say): the reading side
    # waits for records, up to its stall limit, and the writer must not keep the file from
    # the dashboard all that while.
    staged = stage_raw(demo_records(TRANSACTION_ROWS, partitions=1))
    db = Database(tmp_path / "s.duckdb")
    with db.write() as con:
        run_id = store.start_run(con, TOPIC)
    plan = ingest_writer.Plan(run_id=run_id, topic=TOPIC, start={}, end={}, committed={})
    hold = 1.0
    writer = ingest_writer.TransactionWriter(db, plan, hold, TRANSACTION_ROWS)
    writer.start()
    try:
        writer.put(staged, {})  # one full transaction, then nothing more for a while
        deadline = time.monotonic() + 30
        read = None
        while time.monotonic() < deadline:
            done = subprocess.run(
                [sys.executable, "-c", _OTHER_PROCESS_READ, str(db.path), "10"],
                capture_output=True,
                text=True,
                env={**os.environ, "PYTHONPATH": str(REPO)},
                timeout=60,
            )
            assert done.returncode == 0, done.stderr
            read = done.stdout.split()
            if read[0] == str(TRANSACTION_ROWS):
                break
        # The transaction was committed, and the other process got in within the hold
        # (plus its own start), not after its 10 s lock timeout.
        assert read is not None and read[0] == str(TRANSACTION_ROWS)
        assert float(read[1]) < hold + 3
        writer.put(None, {0: TRANSACTION_ROWS})  # the writer still takes work afterwards
    finally:
        writer.finish()
    with db.read() as con:
        assert store.stored_positions(con, TOPIC) == {0: TRANSACTION_ROWS}


def test_the_writer_times_each_of_its_phases(tmp_path: Path) -> None:
    # The ingest bench reads where the writer's time went from these (opening and closing the
    # file included: it lets go of it on a schedule), so each must be there.
    staged = stage_raw(demo_records(2 * TRANSACTION_ROWS, partitions=1))
    db = Database(tmp_path / "s.duckdb")
    with db.write() as con:
        run_id = store.start_run(con, TOPIC)
    plan = ingest_writer.Plan(run_id=run_id, topic=TOPIC, start={}, end={}, committed={})
    phases = Phases()
    writer = ingest_writer.TransactionWriter(db, plan, 2.0, TRANSACTION_ROWS, phases)
    writer.start()
    writer.put(staged, {0: staged.num_rows})
    writer.finish()
    timed = phases.seconds
    assert set(WRITER_PHASES) | {"parse"} <= set(timed)
    assert all(timed[name] > 0 for name in ("insert", "commit", "open_and_close", "parse"))
    # Each phase's CPU time is its thread's, within it: the work of DuckDB's queries (run on
    # the calling thread) counts, waiting for work does not.
    cpu = phases.thread_cpu
    assert all(0 < cpu[name] <= timed[name] * 1.05 + 0.01 for name in ("insert", "commit", "parse"))
    assert cpu["wait_for_work"] < timed["wait_for_work"] / 2 + 0.01
    reported = phases.as_dict()
    assert reported["insert_cpu"] == round(cpu["insert"], 3)

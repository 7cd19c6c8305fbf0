"""`one_read_connection`: a page run's reads share one connection, and never outlive the run
or stand in a write's way."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import duckdb
import pytest

from dashboard.adapters.db import Database, one_read_connection


@pytest.fixture
def db(tmp_path: Path) -> Database:
    snapshot = Database(tmp_path / "s.duckdb", lock_timeout=2)
    with snapshot.write() as con:
        con.execute("CREATE TABLE t (i INTEGER)")
        con.execute("INSERT INTO t VALUES (1)")
    return snapshot


def count(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute("SELECT count(*) FROM t").fetchone()
    assert row is not None
    return int(row[0])


def another_process_writes(db: Database) -> subprocess.CompletedProcess[str]:
    """A separate process (as the ingest job) inserting a row within db's lock timeout."""
    code = (
        "import sys; from pathlib import Path; from dashboard.adapters.db import Database\n"
        "with Database(Path(sys.argv[1]), lock_timeout=1).write() as con:\n"
        "    con.execute('INSERT INTO t VALUES (2)')\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code, str(db.path)], capture_output=True, text=True, check=False
    )


def test_reads_inside_the_block_share_one_connection_closed_when_it_ends(db: Database) -> None:
    with one_read_connection():
        with db.read() as first:
            assert count(first) == 1
        with db.read() as second:
            assert second is first
            with db.read() as nested:
                assert nested is first
    with pytest.raises(duckdb.ConnectionException):
        first.execute("SELECT 1")
    # Closed means the file is free: another process can write at once.
    assert another_process_writes(db).returncode == 0
    with db.read() as con:
        assert count(con) == 2


def test_outside_the_block_every_read_has_its_own_connection(db: Database) -> None:
    with db.read() as first:
        pass
    with db.read() as second:
        assert second is not first


def test_another_process_cannot_write_while_the_run_holds_its_reader(db: Database) -> None:
    # The reason the block must span one page run, never idle time.
    with one_read_connection():
        with db.read() as con:
            count(con)
        refused = another_process_writes(db)
    assert refused.returncode != 0
    assert "stayed locked by another process" in refused.stderr


def test_a_write_inside_the_block_closes_the_reader_and_the_next_read_sees_it(
    db: Database,
) -> None:
    with one_read_connection():
        with db.read() as before:
            assert count(before) == 1
        with db.write() as con:  # an action on the page: the reader would refuse it
            con.execute("INSERT INTO t VALUES (3)")
        with db.read() as after:
            assert after is not before
            assert count(after) == 2


def test_a_write_inside_a_read_is_refused_instead_of_waiting_for_itself(db: Database) -> None:
    refused = pytest.raises(RuntimeError, match="inside a read")
    with one_read_connection(), db.read(), refused, db.write():
        pass
    with db.write() as con:  # and nothing was left held
        con.execute("INSERT INTO t VALUES (4)")


def test_each_thread_has_its_own_block(db: Database) -> None:
    # Streamlit runs each session's script on a thread of its own.
    seen: list[duckdb.DuckDBPyConnection] = []

    def other_thread() -> None:
        with db.read() as con:
            seen.append(con)

    with one_read_connection(), db.read() as mine:
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join(timeout=10)
    assert len(seen) == 1 and seen[0] is not mine

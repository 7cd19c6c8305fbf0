"""How `dashboard.adapters.db` opens the snapshot for writing."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboard.adapters.db import Database, scratch_connection


def setting(db: Database, name: str) -> object:
    with db.write() as con:
        row = con.execute("SELECT current_setting(?)", [name]).fetchone()
    assert row is not None
    return row[0]


def test_the_ingest_jobs_write_connection_runs_on_the_threads_it_asks_for(
    tmp_path: Path,
) -> None:
    # The ingest job writes on one DuckDB thread (its reader and parser use the other core).
    assert setting(Database(tmp_path / "s.duckdb", writer_threads=1), "threads") == 1
    assert setting(Database(tmp_path / "s.duckdb", writer_threads=2), "threads") == 2


def test_write_connections_keep_their_memory_bounded(tmp_path: Path) -> None:
    limit = setting(Database(tmp_path / "s.duckdb"), "memory_limit")
    assert isinstance(limit, str) and limit.endswith("MiB")
    assert float(limit.split()[0]) <= 256


def test_no_connection_draws_duckdbs_progress_bar_on_stdout(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    # DuckDB draws one for statements over progress_bar_time (2 s by default): it would land
    # inside `dlq list --format json` during a long migration. Here the threshold is 0.
    db = Database(tmp_path / "s.duckdb")
    slow = "SELECT count(*) FROM range(20_000_000) t(i) WHERE i % 7 = 3"
    with db.write() as con:
        con.execute("SET progress_bar_time = 0")
        assert con.execute(slow).fetchall() == [(2_857_143,)]
    with db.read() as con:
        con.execute("SET progress_bar_time = 0")
        con.execute(slow).fetchall()
    with scratch_connection(threads=1) as con:
        con.execute("SET progress_bar_time = 0")
        con.execute(slow).fetchall()
    assert capfd.readouterr().out == ""

"""How `dashboard.db` opens the snapshot for writing."""

from __future__ import annotations

from pathlib import Path

from dashboard.db import Database


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

"""The write connections' DuckDB settings: the ingest job's writer holds less memory (its
peak memory has a budget) once the schema is migrated; others keep the usual limit."""

from __future__ import annotations

from pathlib import Path

from dashboard.adapters.db import Database
from dashboard.settings import Settings


def limit_and_threads(db: Database) -> tuple[str, int]:
    with db.write() as con:
        row = con.execute(
            "SELECT current_setting('memory_limit'), current_setting('threads')"
        ).fetchone()
    assert row is not None
    return str(row[0]), int(row[1])


def test_the_ingest_writer_holds_less_memory_on_one_thread(tmp_path: Path) -> None:
    settings = Settings(db=tmp_path / "s.duckdb")
    ingest_limit, ingest_threads = limit_and_threads(Database.of(settings, ingest=True))
    usual_limit, _ = limit_and_threads(Database.of(settings))
    assert ingest_threads == 1
    assert ingest_limit.startswith("91.5") and usual_limit.startswith("244")  # MiB

"""Migrations bring a snapshot written by an earlier version forward without losing a row."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from dashboard.adapters import migrations as schema
from dashboard.adapters.db import Database
from tests.snapshots import demo_records, write_snapshot

ROWS = 'SELECT * FROM records ORDER BY topic, "partition", "offset"'
COLUMNS = (
    "SELECT column_name, data_type, is_nullable FROM duckdb_columns() "
    "WHERE table_name = 'records' ORDER BY column_index"
)
CONSTRAINTS = (
    "SELECT constraint_type, constraint_text FROM duckdb_constraints() "
    "WHERE table_name = 'records' ORDER BY ALL"
)


def compression(con: duckdb.DuckDBPyConnection, column: str) -> set[str]:
    rows = con.execute(
        "SELECT DISTINCT compression FROM pragma_storage_info('records') "
        "WHERE column_name = ? AND segment_type <> 'VALIDITY'",
        [column],
    ).fetchall()
    return {row[0] for row in rows}


def test_0004_rebuilds_records_with_zstd_urls_keeping_rows_and_constraints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "s.duckdb"
    # A snapshot as the version before 0004 wrote it: demo records, poison ones included.
    with monkeypatch.context() as patched:
        patched.setattr("dashboard.adapters.db.MIGRATIONS", schema.MIGRATIONS[:3])
        write_snapshot(path, demo_records(3_000))
    with duckdb.connect(str(path)) as con:
        before = con.execute(ROWS).fetchall()
        columns, constraints = con.execute(COLUMNS).fetchall(), con.execute(CONSTRAINTS).fetchall()
        assert compression(con, "attachment_url") != {"ZSTD"}
    assert len(before) == 3_000

    with Database(path).write() as con:
        applied = {row[0] for row in con.execute("SELECT name FROM schema_migrations").fetchall()}
        assert "0004_records_attachment_url_zstd" in applied
        assert con.execute(ROWS).fetchall() == before
        assert con.execute(COLUMNS).fetchall() == columns
        assert con.execute(CONSTRAINTS).fetchall() == constraints
        # The primary key still refuses a second copy of a record.
        with pytest.raises(duckdb.ConstraintException):
            con.execute("INSERT INTO records SELECT * FROM records LIMIT 1")
        con.execute("CHECKPOINT")
        assert compression(con, "attachment_url") == {"ZSTD"}
        assert compression(con, "value") == {"ZSTD"}


def test_a_new_snapshot_stores_urls_with_zstd(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    write_snapshot(path, demo_records(500))
    with Database(path).write() as con:
        con.execute("CHECKPOINT")
        assert compression(con, "attachment_url") == {"ZSTD"}


def test_a_rebuild_names_the_column_it_could_not_find() -> None:
    with pytest.raises(ValueError, match="no single 'url VARCHAR,'"):
        schema.rebuild_table(schema.RECORDS, "records", "url VARCHAR,", "url BLOB,")
    assert "CREATE TABLE records_rebuilt (" in schema.rebuild_table(
        schema.RECORDS, "records", "trace_id           VARCHAR,", "trace_id VARCHAR,"
    )

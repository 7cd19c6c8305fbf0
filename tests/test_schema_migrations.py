"""Migrations bring a snapshot written by an earlier version forward without losing a row."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from dashboard.adapters import migrations as schema
from dashboard.adapters import pair_minutes, record_states, trace_landings
from dashboard.adapters.db import Database
from ingest import store
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


# The parsed columns migrations add: a snapshot of an earlier version has none of them.
COLUMNS_OF_0005 = ("dlq_format", "media_id", "project_id", "consumer_group", "worker")
PARSED_COLUMNS_ADDED = {"0005_records_dlq_formats": COLUMNS_OF_0005}
# The columns later migrations add that the ingest computes as it inserts.
INSERTED_COLUMNS_ADDED = {
    "0007_records_url_folder": "url_folder",
    "0008_records_trace_landings": "trace_hash",
    "0010_records_pair_hash": "pair_hash",
}


def as_released_before(patched: pytest.MonkeyPatch, migration: str) -> tuple[schema.Migration, ...]:
    """Make the snapshot writers behave as the version before `migration`: its schema, and
    parse results without the columns that later migrations add."""
    names = [m.name for m in schema.MIGRATIONS]
    released = schema.MIGRATIONS[: names.index(migration)]
    patched.setattr("dashboard.adapters.db.MIGRATIONS", released)
    names_released = {m.name for m in released}
    for kept in ("KEPT_AT_INSERT", "KEPT_FROM_BATCH"):  # columns the ingest computes
        patched.setattr(
            store,
            kept,
            {
                column: how
                for column, how in getattr(store, kept).items()
                if all(
                    c != column or m in names_released for m, c in INSERTED_COLUMNS_ADDED.items()
                )
            },
        )
    if "0011_pair_minutes" not in names_released:
        patched.setattr(pair_minutes, "after_ingest", lambda *a, **k: None)
    if "0012_trace_landings_unchecked" not in names_released:
        # Each transaction checked its own records' trace landings.
        prepare = store.prepare
        patched.setattr(trace_landings, "settle", lambda *a, **k: False)
        patched.setattr(trace_landings, "settle_all", lambda *a, **k: None)
        patched.setattr(store, "prepare", lambda con, topic, **_: prepare(con, topic))
    if "0008_records_trace_landings" not in {m.name for m in released}:
        patched.setattr(trace_landings, "after_ingest", lambda *a, **k: None)
    if "0006_records_kept_state" not in {m.name for m in released}:
        for hook in ("mark_resolved_below", "after_ingest", "refresh", "after_results"):
            patched.setattr(record_states, hook, lambda *a, **k: None)  # no state column yet
    later = [
        column
        for name, columns in PARSED_COLUMNS_ADDED.items()
        if name not in {m.name for m in released}
        for column in columns
    ]
    if later:
        write_parsed = store.write_parsed

        def without_new_columns(
            con: duckdb.DuckDBPyConnection, run_id: int, topic: str, parsed: pa.Table, **kw: Any
        ) -> store.BatchResult:
            return write_parsed(con, run_id, topic, parsed.drop_columns(later), **kw)

        patched.setattr(store, "write_parsed", without_new_columns)
    return released


def test_0004_rebuilds_records_with_zstd_urls_keeping_rows_and_constraints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "s.duckdb"
    # A snapshot as the version before 0004 wrote it: demo records, poison ones included.
    with monkeypatch.context() as patched:
        as_released_before(patched, "0004_records_attachment_url_zstd")
        write_snapshot(path, demo_records(3_000))
    with duckdb.connect(str(path)) as con:
        before = con.execute(ROWS).fetchall()
        columns, constraints = con.execute(COLUMNS).fetchall(), con.execute(CONSTRAINTS).fetchall()
        assert compression(con, "attachment_url") != {"ZSTD"}
    assert len(before) == 3_000

    with Database(path).write() as con:
        applied = {row[0] for row in con.execute("SELECT name FROM schema_migrations").fetchall()}
        assert "0004_records_attachment_url_zstd" in applied
        width = len(columns)  # later migrations add columns at the end
        assert [row[:width] for row in con.execute(ROWS).fetchall()] == before
        assert con.execute(COLUMNS).fetchall()[:width] == columns
        # Every constraint but the primary key (which 0009 drops).
        assert con.execute(CONSTRAINTS).fetchall() == [
            c for c in constraints if c[0] != "PRIMARY KEY"
        ]
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


def test_0005_adds_the_other_formats_columns_keeping_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "s.duckdb"
    with monkeypatch.context() as patched:
        as_released_before(patched, "0005_records_dlq_formats")
        write_snapshot(path, demo_records(500))
    with duckdb.connect(str(path)) as con:
        before = con.execute(ROWS).fetchall()
        width = len(con.execute(COLUMNS).fetchall())

    with Database(path).write() as con:
        after = con.execute(ROWS).fetchall()
        assert [row[:width] for row in after] == before
        added = slice(width, width + len(COLUMNS_OF_0005))
        assert {row[added] for row in after} == {(None,) * len(COLUMNS_OF_0005)}
        names = [row[0] for row in con.execute(COLUMNS).fetchall()]
        assert tuple(names[added]) == COLUMNS_OF_0005
    # A later run writes the new columns beside the old rows.
    write_snapshot(path, demo_records(600)[500:])
    with Database(path).read() as con:
        counts = con.execute(
            "SELECT count(*) FILTER (dlq_format IS NULL), "
            "count(*) FILTER (dlq_format = 'xact-download') FROM records"
        ).fetchone()
    assert counts == (500, 100)


DEFAULTS = (
    "SELECT column_name, column_default FROM duckdb_columns() "
    "WHERE table_name = 'records' ORDER BY column_index"
)


def test_0009_drops_the_records_primary_key_keeping_rows_order_columns_and_compression(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "s.duckdb"
    records = demo_records(3_000)
    with monkeypatch.context() as patched:
        as_released_before(patched, "0009_records_without_primary_key")
        write_snapshot(path, records[:2_000])
    in_order = "SELECT * FROM records ORDER BY rowid"
    with duckdb.connect(str(path)) as con:
        before = con.execute(in_order).fetchall()
        columns, defaults = con.execute(COLUMNS).fetchall(), con.execute(DEFAULTS).fetchall()
        constraints = con.execute(CONSTRAINTS).fetchall()
    assert ("PRIMARY KEY", 'PRIMARY KEY(topic, "partition", "offset")') in constraints

    with Database(path).write() as con:  # later migrations add columns after these
        width = len(columns)
        assert [row[:width] for row in con.execute(in_order).fetchall()] == before
        assert con.execute(COLUMNS).fetchall()[:width] == columns
        assert con.execute(DEFAULTS).fetchall()[:width] == defaults
        assert con.execute(CONSTRAINTS).fetchall() == [
            c for c in constraints if c[0] != "PRIMARY KEY"
        ]
        con.execute("CHECKPOINT")
        assert compression(con, "attachment_url") == {"ZSTD"}
        assert compression(con, "value") == {"ZSTD"}
    # Later runs, the first finding records already stored among the new: each stored once.
    write_snapshot(path, records[1_500:2_500])
    write_snapshot(path, records[2_500:])
    with Database(path).read() as con:
        counts = con.execute(
            'SELECT count(*), count(DISTINCT (topic, "partition", "offset")) FROM records'
        ).fetchone()
    assert counts == (3_000, 3_000)

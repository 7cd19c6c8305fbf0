"""The parser runs its SQL as statements prepared once per connection (ingest.parse
PreparedSelect: macros written in, the input read by a replacement scan, the future's
threshold given as a column): every row, every column, must be what the SQL as written gives,
run the plain way (temporary macros, a registered table, now())."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from dashboard.adapters.db import register, scratch_connection
from dashboard.devtools.demo_data import generate
from dashboard.devtools.demo_formats import generate as generate_format
from ingest.parse import (
    BatchParser,
    Formats,
    RawRecord,
    install_macros,
    parse_input,
    parse_select_sql,
    prepared_sql,
    signatures_sql,
    stage_raw,
    with_raw_columns,
)
from ingest.prepared import PreparedSelect
from ingest.sql_macros import expanded, macros_of, tokens

OTHER_FORMATS = ("claimx-download", "claimx-enrichment", "envelope")
FORMATS: Formats = {name: name for name in OTHER_FORMATS}


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def hostile_records() -> list[RawRecord]:
    soon = datetime.now(UTC) + timedelta(minutes=1)
    later = datetime.now(UTC) + timedelta(minutes=30)
    good = {
        "trace_id": "t",
        "attachment_url": "https://h.example/a.pdf",
        "retry_count": 1,
        "error_category": "transient",
        "final_error": "timeout after 30s",
        "failed_at": "2026-11-20T10:00:00Z",
        "original_task": {"trace_id": "t", "file_type": "pdf"},
    }
    values: list[bytes | None] = [
        None,
        b"",
        b"   ",
        b"\xff\xfe\x00garbage\x80\x81",
        b"{broken",
        b'{"trace_id": "x",}',
        b'{"trace_id": "x"} trailing',
        b'  {"trace_id": "lead"}',
        b"[1, 2]",
        b"null",
        b'"a string"',
        b"x" * 2_000_000,
        b'{"trace_id": "' + b"\x1b[31m\x00\x07" + b'"}',
        json.dumps({**good, "failed_at": _iso(soon)}).encode(),
        json.dumps({**good, "failed_at": _iso(later)}).encode(),
        json.dumps({**good, "failed_at": "2026-11-20T10:00:00"}).encode(),
        json.dumps({**good, "retry_count": 10**12, "attachment_url": "htp:/x y"}).encode(),
        json.dumps({**good, "original_task": "not an object"}).encode(),
        json.dumps({"a": {"b": [1, {"c": "é ünï 🚀"}]}, "trace_id": ["list"]}).encode(),
    ]
    headers = [
        (),
        (("__connect.errors.topic", b"orders"), ("__connect.errors.offset", b"12")),
        (
            ("kafka_dlt-original-partition", (3).to_bytes(4, "big")),
            ("kafka_dlt-original-offset", (2**40 + 255).to_bytes(8, "big")),
            ("kafka_dlt-exception-message", b"\xff not utf-8"),
        ),
        (("__streams.errors.message", b"boom"), ("retry_count", b"7")),
        (("source_topic", b"t"), ("source_offset", b"9"), ("error_category", b" AUTH ")),
    ]
    records = []
    for n, value in enumerate(values):
        for h, header in enumerate(headers):
            key = None if h == 2 else b"\xfe key" if h == 3 else f"k{n}".encode()
            records.append(
                RawRecord(7, n * 10 + h, value, key, header, 1_764_000_000_000 + n, h % 3)
            )
    return records


def demo_records() -> list[RawRecord]:
    records = [
        RawRecord(i % 3, i, r.value, r.key, tuple(r.headers or ()), r.timestamp_ms)
        for i, r in enumerate(generate(3_000, 3, seed=21))
    ]
    for p, dlq_format in enumerate(OTHER_FORMATS, start=3):
        records += [
            RawRecord(p, i, r.value, r.key, tuple(r.headers or ()), r.timestamp_ms, 1, dlq_format)
            for i, r in enumerate(generate_format(dlq_format, 400, 3, seed=22))
        ]
    return records


def reference_parse(staged: pa.Table, formats: Formats) -> pa.Table:
    """The parse of the SQL as written, run the plain way."""
    con = scratch_connection(threads=1)
    try:
        install_macros(con)
        sql = parse_select_sql().replace("future_from", "now() + INTERVAL 5 MINUTE")
        register(con, "dlq_input", parse_input(staged, formats))
        parsed = con.sql(sql).to_arrow_table()
        con.unregister("dlq_input")
        messages = parsed["error_message"]
        distinct = pc.unique(messages).drop_null()
        register(con, "dlq_input", pa.table({"message": distinct}))
        signatures = con.sql(signatures_sql()).to_arrow_table()["signature"]
        column = signatures.take(pc.index_in(messages, value_set=distinct))
        index = parsed.schema.get_field_index("error_signature")
        parsed = parsed.set_column(index, parsed.schema.field(index), column)
        return with_raw_columns(parsed, staged)
    finally:
        con.close()


def test_prepared_parse_gives_the_rows_of_the_sql_as_written() -> None:
    batches = [stage_raw(demo_records()), stage_raw(hostile_records()), stage_raw([])]
    with BatchParser(formats=FORMATS) as parser:
        # Twice each, in turn: one prepared statement reads every batch.
        for staged in batches + batches:
            got = parser.parse(staged)
            expected = reference_parse(staged, FORMATS)
            assert got.schema == expected.schema
            for name in expected.column_names:
                assert got[name].to_pylist() == expected[name].to_pylist(), name
    hostile = reference_parse(batches[1], FORMATS).to_pylist()
    # The rows the equality is about are there: future and naive timestamps, unreadable
    # JSON, foreign headers, signatures.
    warnings = {w for row in hostile for w in row["parse_warnings"]}
    assert "failed_at is in the future" in warnings
    assert "failed_at has no UTC offset; read as UTC" in warnings
    errors = {row["parse_error"] for row in hostile}
    assert {"value is not valid JSON", "value is not valid UTF-8", None} <= errors
    assert {"kafka-connect", "spring-kafka", "kafka-streams", "karafka"} <= {
        row["record_format"] for row in hostile
    }
    assert any(row["error_signature"] for row in hostile)


def test_a_failed_at_is_in_the_future_past_five_minutes_from_the_parse() -> None:
    now = datetime.now(UTC)
    records = [
        RawRecord(0, n, json.dumps({"trace_id": "t", "failed_at": _iso(now + ahead)}).encode())
        for n, ahead in enumerate((timedelta(minutes=1), timedelta(minutes=10)))
    ]
    with BatchParser() as parser:
        warnings = parser.parse(stage_raw(records))["parse_warnings"].to_pylist()
    assert ["failed_at is in the future" in w for w in warnings] == [False, True]


def test_an_input_of_other_column_types_is_read_by_a_plan_of_its_own() -> None:
    staged = stage_raw(hostile_records()[:40])
    other = staged.set_column(
        0, pa.field("topic", pa.large_string()), pc.cast(staged["topic"], pa.large_string())
    )
    with BatchParser() as parser:
        first = parser.parse(staged)
        second = parser.parse(other)
        third = parser.parse(staged)
    assert second.drop_columns(["topic"]).equals(first.drop_columns(["topic"]))
    assert third.equals(first)


def test_the_prepared_parse_is_bound_once(tmp_path: Path) -> None:
    # Bound anew on each run, it would pay the fixed cost it is prepared to avoid: what
    # makes DuckDB do so (a catalog entry, now(), TIMESTAMPTZ arithmetic) must stay out.
    con = scratch_connection(threads=1)
    try:
        query = PreparedSelect(con, prepared_sql(parse_select_sql()))
        rows = parse_input(stage_raw(hostile_records()[:20]), FORMATS)
        query.run(rows)
        profile = tmp_path / "profile.json"
        con.execute("PRAGMA enable_profiling = 'json'")
        con.execute(f"PRAGMA profiling_output = '{profile}'")
        query.run(rows)
        con.execute("PRAGMA disable_profiling")
        binding = json.loads(profile.read_text("utf-8"))["planner"]["binding_time"]
        # A bind of the query takes milliseconds; running a statement bound already, none.
        assert binding < 0.001
    finally:
        con.close()


def test_macros_are_written_in_as_duckdb_expands_them() -> None:
    macros = macros_of(
        "CREATE OR REPLACE TEMP MACRO twice(x) AS x + x; -- a comment; with a semicolon\n"
        "CREATE OR REPLACE TEMP MACRO f(a, b) AS twice(a) * b;"
    )
    # Arguments in parentheses (as bound expressions are), calls inside calls, and no call
    # read in a string, a comment or a column's name.
    assert expanded("SELECT f(1 + 2, 'twice(3)'), t.f -- f(2)", macros) == (
        "SELECT ((((1 + 2)) + ((1 + 2))) * ( 'twice(3)')), t.f -- f(2)"
    )
    names = macros_of(resources.files("ingest").joinpath("macros.sql").read_text("utf-8"))
    for sql in (parse_select_sql(), signatures_sql()):
        code = {t.lower() for t in tokens(prepared_sql(sql)) if not t.startswith("--")}
        assert not code & set(names)

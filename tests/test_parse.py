"""The record parser (ingest/parse.sql) on raw records, without Kafka: every kind of bytes
yields exactly one row, keeps its raw parts, and says what is wrong with it."""

from __future__ import annotations

import json

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.parse import RawRecord, parse_raw_records
from tests.parse_helpers import PIPELINE_RECORD, con, parse_one, record

__all__ = ["con"]  # the shared connection fixture


def test_a_pipeline_record_is_read_field_by_field(con: duckdb.DuckDBPyConnection) -> None:
    row = parse_one(con, record(), key=b"evt-2024-004", timestamp_ms=1735123500000)
    assert row["parse_error"] is None
    assert row["parse_warnings"] == []
    assert row["record_format"] == "pipeline"
    assert row["trace_id"] == "evt-2024-004"
    assert row["retry_count"] == 4
    assert row["error_category"] == "permanent"
    assert row["error_message"].startswith("File not found (404)")
    assert row["error_source"] == "final_error"
    assert row["domain"] == "storage.example.com"
    assert row["file_type"] == "pdf"
    assert row["event_type"] == "xact"
    assert row["event_subtype"] == "documentsReceived"
    assert row["assignment_id"] == "C-99999"
    assert row["failed_at"].isoformat() == "2024-12-25T10:45:00+00:00"
    assert row["kafka_timestamp"].isoformat() == "2024-12-25T10:45:00+00:00"
    assert row["value_preview"] is None  # readable values need no preview


def test_newer_format_takes_the_error_from_the_task_metadata(
    con: duckdb.DuckDBPyConnection,
) -> None:
    row = parse_one(con, record(final_error=...))
    assert row["parse_error"] is None
    assert row["error_message"] == "File not found (404)"
    assert row["error_source"] == "original_task.metadata.last_error"


def test_a_first_attempt_permanent_failure_has_no_error_text(
    con: duckdb.DuckDBPyConnection,
) -> None:
    task = dict(PIPELINE_RECORD["original_task"], metadata={})
    row = parse_one(con, record(final_error=..., retry_count=0, original_task=task))
    assert row["parse_error"] is None
    assert row["error_message"] is None  # shown as "no error text recorded", never invented
    assert row["error_signature"] is None
    assert row["error_category"] == "permanent"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "tombstone"),
        (b"", "empty value"),
        (b"\xff\xfe\x00garbage\x80", "not valid UTF-8"),
        # Byte sequences a lax decoder lets through: surrogates, overlong forms, code points
        # past U+10FFFF, a sequence cut short inside valid JSON.
        (b'{"trace_id": "\xed\xa0\x80"}', "not valid UTF-8"),
        (b'{"trace_id": "\xc0\x80"}', "not valid UTF-8"),
        (b"\xf4\x90\x80\x80", "not valid UTF-8"),
        (b'{"x": "\xe2\x82"}', "not valid UTF-8"),
        (b"ERROR 502 Bad Gateway", "not a JSON object"),
        (b"{not json", "not valid JSON"),
        (b"[1, 2, 3]", "JSON array"),
        (b'"just a string"', "not a JSON object"),
        (b"null", "not a JSON object"),
        (b'{"error_category": "permanent"}', "missing or empty trace_id"),
        (record(retry_count="four"), "retry_count is not a non-negative integer"),
        (record(retry_count=-1), "retry_count is not a non-negative integer"),
        (record(retry_count=2**31), "retry_count is not a non-negative integer"),
        (record(failed_at="yesterday"), "failed_at is not an ISO-8601 datetime"),
        (record(original_task="not an object"), "original_task is not an object"),
        (record(original_task=...), "missing original_task"),
        (record(original_task=None), "missing original_task"),
        (record(original_task=[{"event_type": "xact"}]), "original_task is not an object"),
        (record(original_task=""), "original_task is not an object"),
        (record(trace_id=""), "missing or empty trace_id"),
    ],
)
def test_every_poison_kind_is_kept_with_its_parse_error(
    con: duckdb.DuckDBPyConnection, value: bytes | None, expected: str
) -> None:
    row = parse_one(con, value, key=b"k-1")
    assert row["parse_error"] is not None
    assert expected in row["parse_error"]
    assert row["value"] == value  # the raw bytes are kept exactly
    if value:
        assert row["value_preview"]


@pytest.mark.parametrize("task", [{}, {"blob_path": "a/b.pdf"}, {"metadata": {}}])
def test_an_original_task_without_the_usual_fields_is_still_an_object(
    con: duckdb.DuckDBPyConnection, task: dict[str, object]
) -> None:
    row = parse_one(con, record(original_task=task))
    assert row["parse_error"] is None
    assert row["record_format"] == "pipeline"


def test_non_ascii_text_is_read_as_text(con: duckdb.DuckDBPyConnection) -> None:
    value = json.dumps(
        {
            **PIPELINE_RECORD,
            "trace_id": "tr\u00e4ce-\uffff",
            "final_error": "Zeit\u00fcberschreitung",
        },
        ensure_ascii=False,
    ).encode()
    assert not value.isascii()
    row = parse_one(con, value)
    assert row["parse_error"] is None
    assert row["trace_id"] == "tr\u00e4ce-\uffff"
    assert row["error_message"] == "Zeit\u00fcberschreitung"


def test_unknown_extra_fields_are_no_error(con: duckdb.DuckDBPyConnection) -> None:
    row = parse_one(con, record(priority="high", nested={"a": [1, 2]}))
    assert row["parse_error"] is None


def test_casing_of_the_category_is_normalised(con: duckdb.DuckDBPyConnection) -> None:
    assert parse_one(con, record(error_category=" PERMANENT "))["error_category"] == "permanent"


def test_naive_and_future_timestamps_are_flagged(con: duckdb.DuckDBPyConnection) -> None:
    naive = parse_one(con, record(failed_at="2024-12-25T10:45:00"))
    assert naive["failed_at"].isoformat() == "2024-12-25T10:45:00+00:00"
    assert "failed_at has no UTC offset; read as UTC" in naive["parse_warnings"]
    offset = parse_one(con, record(failed_at="2024-12-25T12:45:00+02:00"))
    assert offset["failed_at"].isoformat() == "2024-12-25T10:45:00+00:00"
    assert offset["parse_warnings"] == []
    future = parse_one(con, record(failed_at="2999-01-01T00:00:00Z"))
    assert "failed_at is in the future" in future["parse_warnings"]


def test_urls_that_do_not_parse_and_international_domains(
    con: duckdb.DuckDBPyConnection,
) -> None:
    broken = parse_one(con, record(attachment_url="htp:/broken url.pdf"))
    assert broken["domain"] is None
    assert "attachment_url is not a URL with a host" in broken["parse_warnings"]
    idn = parse_one(con, record(attachment_url="https://Bücher.example.de:8443/a/b.PDF?x=1"))
    assert idn["domain"] == "bücher.example.de"
    userinfo = parse_one(con, record(attachment_url="https://user:pw@host.example/x"))
    assert userinfo["domain"] == "host.example"


def test_file_type_falls_back_to_the_url_extension(con: duckdb.DuckDBPyConnection) -> None:
    task = dict(PIPELINE_RECORD["original_task"])
    del task["file_type"]
    row = parse_one(
        con, record(original_task=task, attachment_url="https://h.example/a/scan.TIFF?sig=1")
    )
    assert row["file_type"] == "tiff"


def test_trace_id_falls_back_to_the_key(con: duckdb.DuckDBPyConnection) -> None:
    row = parse_one(con, b"", key=b"evt-from-key")
    assert row["trace_id"] == "evt-from-key"


def test_huge_values_are_kept_whole_with_a_bounded_preview(
    con: duckdb.DuckDBPyConnection,
) -> None:
    huge = b"x" * 5_000_000
    row = parse_one(con, huge)
    assert row["value"] == huge
    assert row["value_size"] == 5_000_000
    assert len(row["value_preview"]) <= 4000


def test_control_characters_never_reach_the_preview(con: duckdb.DuckDBPyConnection) -> None:
    row = parse_one(con, b"\x1b[31mred\x1b[0m \x07 not json")
    assert "\x1b" not in row["value_preview"] and "\x07" not in row["value_preview"]


# -- error signatures ----------------------------------------------------------------------


def signature(con: duckdb.DuckDBPyConnection, text: str) -> str:
    return str(parse_one(con, record(final_error=text))["error_signature"])


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (
            "Connection timeout after 30s - retries exhausted (4 attempts)",
            "Connection timeout after 45s - retries exhausted (4 attempts)",
        ),
        (
            "SSL verification failed for https://a.example.com/x?sig=1",
            "SSL verification failed for https://b.example.org/y/z",
        ),
        (
            "upload of documentsReceived/C-1/pdf/a.pdf failed for evt-abc-123",
            "upload of estimates/C-999/xml/b.xml failed for evt-zzz-9",
        ),
        (
            "OneLake request id 8c1f0000-1111-2222-3333-444455556666 failed",
            "OneLake request id 00000000-aaaa-bbbb-cccc-dddddddddddd failed",
        ),
        ("Token expired at 2024-12-25T10:45:00Z", "Token expired at 2026-01-01T00:00:00+01:00"),
    ],
)
def test_variable_parts_do_not_split_a_signature(
    con: duckdb.DuckDBPyConnection, first: str, second: str
) -> None:
    assert signature(con, first) == signature(con, second)


def test_http_status_codes_keep_failures_apart(con: duckdb.DuckDBPyConnection) -> None:
    assert signature(con, "HTTP 404: Not Found") != signature(con, "HTTP 410: Gone")
    assert "404" in signature(con, "File not found (404) - URL returned 404 Not Found")
    assert "503" in signature(con, "status code: 503")


# -- arbitrary bytes -----------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
field_names = st.sampled_from(list(PIPELINE_RECORD)) | st.text(max_size=10)
json_objects = st.dictionaries(field_names, json_values, max_size=9).map(
    lambda d: json.dumps(d).encode()
)
values = (
    st.none()
    | st.binary(max_size=300)
    | json_objects
    | st.builds(
        lambda changes: record(**changes),
        st.dictionaries(st.sampled_from(list(PIPELINE_RECORD)), json_values | st.just(...)),
    )
)
header_keys = st.text(alphabet=st.characters(codec="utf-8"), max_size=30) | (
    st.sampled_from(
        [
            "retry_count",
            "error_category",
            "__connect.errors.offset",
            "kafka_dlt-original-offset",
            "__streams.errors.message",
            "source_offset",
        ]
    )
)
headers = st.lists(st.tuples(header_keys, st.none() | st.binary(max_size=20)), max_size=5)
raw_records = st.lists(
    st.tuples(values, st.none() | st.binary(max_size=40), headers), min_size=1, max_size=25
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw_records)
def test_any_bytes_give_exactly_one_row_each_with_raw_parts_intact(
    con: duckdb.DuckDBPyConnection,
    batch: list[tuple[bytes | None, bytes | None, list[tuple[str, bytes | None]]]],
) -> None:
    records = [RawRecord(i % 3, i, v, k, h) for i, (v, k, h) in enumerate(batch)]
    rows = parse_raw_records(con, records)
    assert len(rows) == len(records)
    by_position = {(r["partition"], r["offset"]): r for r in rows}
    for rec in records:
        row = by_position[(rec.partition, rec.offset)]
        assert row["value"] == rec.value
        assert row["key"] == rec.key
        assert [(h["key"], h["value"]) for h in row["headers"]] == list(rec.headers)
        assert row["record_format"] in {
            "pipeline",
            "kafka-connect",
            "spring-kafka",
            "kafka-streams",
            "karafka",
            "unknown",
        }
        if row["parse_error"] is not None:
            assert row["value_preview"] is not None or rec.value is None
        if row["value_preview"] is not None:
            assert len(row["value_preview"]) <= 4000
            assert not any(ord(c) < 32 and c not in "\t\n" for c in row["value_preview"])
        if row["record_format"] in {"pipeline", "unknown"} and row["parse_error"] is None:
            assert row["trace_id"] and row["attachment_url"] and row["failed_at"]

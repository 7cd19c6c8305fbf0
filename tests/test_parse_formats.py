"""The parser on the pipeline's other DLQ shapes (dlq-other-formats.md): each shape's own
fields into columns, its failure time, its URL and error text where it has them, and
malformed records kept with the reason."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from typing import Any

import duckdb

from dashboard.devtools import demo_formats
from ingest.parse import RawRecord, parse_raw_records
from tests.parse_helpers import con

__all__ = ["con"]

WHEN = datetime(2026, 11, 20, 10, 30, tzinfo=UTC)
TOPICS = {
    "claimx.downloads.dlq": "claimx-download",
    "claimx.enrichment.dlq": "claimx-enrichment",
    "enrichment.pending.dlq": "envelope",
    "any.dlq": "any",
}
TOPIC_OF = {fmt: topic for topic, fmt in TOPICS.items()}


def value_of(dlq_format: str, seed: int = 1, **changes: Any) -> dict[str, Any]:
    record = demo_formats.SHAPES[dlq_format](random.Random(seed), WHEN)
    assert record.value is not None
    value: dict[str, Any] = json.loads(record.value)
    for name, new in changes.items():
        if new is ...:
            value.pop(name, None)
        else:
            value[name] = new
    return value


def parse(
    db: duckdb.DuckDBPyConnection,
    dlq_format: str,
    value: bytes | dict[str, Any] | None,
    **kw: Any,
) -> dict[str, Any]:
    raw = json.dumps(value).encode() if isinstance(value, dict) else value
    rows = parse_raw_records(db, [RawRecord(0, 7, raw, topic=TOPIC_OF[dlq_format], **kw)], TOPICS)
    assert len(rows) == 1
    return rows[0]


def test_a_claimx_download_record(con: duckdb.DuckDBPyConnection) -> None:
    value = value_of("claimx-download")
    row = parse(con, "claimx-download", value, key=value["media_id"].encode())
    assert row["parse_error"] is None, row["parse_error"]
    assert row["parse_warnings"] == []
    assert row["dlq_format"] == "claimx-download"
    assert row["record_format"] == "pipeline"
    assert (row["media_id"], row["project_id"]) == (value["media_id"], value["project_id"])
    assert row["trace_id"] == value["trace_id"]
    # The URL is download_url; its credentials are masked where it is shown, as for xact.
    assert row["attachment_url"] == value["download_url"]
    assert row["domain"] in (
        "claimx-media.s3.amazonaws.com",
        "claimx-media-eu.s3.eu-west-1.amazonaws.com",
    )
    assert row["file_type"] == value["original_task"]["file_type"]
    assert row["error_category"] == value["error_category"]
    assert row["retry_count"] == value["retry_count"]
    assert row["failed_at"] == WHEN
    # No error text in this shape: grouped by category and domain, never an invented text.
    assert (row["error_message"], row["error_source"], row["error_signature"]) == (None,) * 3


def test_malformed_claimx_download_records_say_what_is_wrong(
    con: duckdb.DuckDBPyConnection,
) -> None:
    row = parse(con, "claimx-download", value_of("claimx-download", media_id="", download_url=...))
    assert row["parse_error"] == "missing or empty media_id; missing or empty download_url"
    row = parse(con, "claimx-download", value_of("claimx-download", original_task=[1]))
    assert row["parse_error"] == "original_task is not an object"
    row = parse(con, "claimx-download", value_of("claimx-download", failed_at="yesterday"))
    assert row["parse_error"] == "failed_at is not an ISO-8601 datetime"
    row = parse(con, "claimx-download", value_of("claimx-download", download_url="not a url"))
    assert row["parse_warnings"] == ["download_url is not a URL with a host"]


def test_a_claimx_enrichment_record(con: duckdb.DuckDBPyConnection) -> None:
    value = value_of("claimx-enrichment")
    row = parse(con, "claimx-enrichment", value, key=value["trace_id"].encode())
    assert row["parse_error"] is None, row["parse_error"]
    assert row["dlq_format"] == "claimx-enrichment"
    assert row["project_id"] == value["project_id"]
    assert row["event_type"] == value["original_task"]["event_type"]
    assert row["attachment_url"] is None and row["domain"] is None  # no URL in this shape
    assert row["error_message"] == value["final_error"]
    assert row["error_source"] == "final_error"
    assert row["error_signature"] is not None
    assert row["failed_at"] == WHEN


def test_malformed_claimx_enrichment_records(con: duckdb.DuckDBPyConnection) -> None:
    row = parse(
        con, "claimx-enrichment", value_of("claimx-enrichment", event_type=..., retry_count=-1)
    )
    assert row["parse_error"] == (
        "missing or empty event_type; retry_count is not a non-negative integer"
    )


def test_an_envelope_record(con: duckdb.DuckDBPyConnection) -> None:
    value = value_of("envelope", seed=3)
    row = parse(con, "envelope", value, key=b"dlq-key")
    assert row["parse_error"] is None, row["parse_error"]
    assert row["dlq_format"] == "envelope"
    assert row["origin_topic"] == value["original_topic"]
    assert row["origin_partition"] == value["original_partition"]
    assert row["origin_offset"] == value["original_offset"]
    assert row["exception_class"] == value["error_type"]
    assert row["error_message"] == value["error_message"]
    assert row["error_source"] == "error_message"
    assert row["error_category"] == value["error_category"]
    assert row["consumer_group"] == value["consumer_group"]
    assert row["worker"] == value["worker_name"]
    assert row["trace_id"] == value["trace_id"]
    # dlq_timestamp: epoch seconds, a float.
    assert row["failed_at"] == WHEN
    assert row["parse_warnings"] == []


def test_an_envelope_without_a_key_has_no_trace_id_and_a_float_time(
    con: duckdb.DuckDBPyConnection,
) -> None:
    value = value_of("envelope", trace_id=None, original_key=None, dlq_timestamp=1763634600.25)
    row = parse(con, "envelope", value, key=b"dlq-42")
    assert row["parse_error"] is None
    assert row["trace_id"] is None  # not "dlq-42": that is the DLQ's key, not the message's
    assert row["failed_at"].isoformat() == "2025-11-20T10:30:00.250000+00:00"


def test_malformed_envelopes(con: duckdb.DuckDBPyConnection) -> None:
    row = parse(con, "envelope", value_of("envelope", original_topic=..., original_offset="x"))
    assert (
        row["parse_error"] == "missing or empty original_topic; original_offset is not an integer"
    )
    row = parse(con, "envelope", value_of("envelope", dlq_timestamp="2026-11-20T10:00:00Z"))
    assert row["parse_error"] == "dlq_timestamp is not epoch seconds"
    row = parse(con, "envelope", {})
    assert row["parse_error"] is not None and row["record_format"] == "pipeline"


def test_poison_records_of_every_dlq_are_kept_with_the_reason(
    con: duckdb.DuckDBPyConnection,
) -> None:
    for dlq_format in ("claimx-download", "claimx-enrichment", "envelope", "any"):
        assert parse(con, dlq_format, None)["parse_error"] == "tombstone: the record has no value"
        row = parse(con, dlq_format, b"\xff\xfenot utf-8")
        assert row["parse_error"] == "value is not valid UTF-8"
        assert row["value_preview"] is not None
        assert parse(con, dlq_format, b"[1, 2]")["parse_error"] == (
            "value is a JSON array, not an object"
        )
        assert parse(con, dlq_format, b"{nope")["parse_error"] == "value is not valid JSON"


def test_any_reads_other_producers_headers_as_today(con: duckdb.DuckDBPyConnection) -> None:
    row = parse(
        con,
        "any",
        b"raw bytes",
        headers=[
            ("__connect.errors.topic", b"orders"),
            ("__connect.errors.partition", b"2"),
            ("__connect.errors.offset", b"99"),
            ("__connect.errors.exception.message", b"boom"),
        ],
    )
    assert row["dlq_format"] == "any"
    assert (row["record_format"], row["origin_topic"], row["origin_offset"]) == (
        "kafka-connect",
        "orders",
        99,
    )
    assert row["parse_error"] is None and row["error_message"] == "boom"


def test_one_batch_of_several_dlqs_parses_each_by_its_own_format(
    con: duckdb.DuckDBPyConnection,
) -> None:
    records = [
        RawRecord(0, i, json.dumps(value_of(fmt, seed=i)).encode(), topic=TOPIC_OF[fmt])
        for i, fmt in enumerate(["claimx-download", "envelope", "claimx-enrichment"] * 5)
    ]
    rows = parse_raw_records(con, records, TOPICS)
    assert [r["dlq_format"] for r in rows] == [TOPICS[r["topic"]] for r in rows]
    assert all(r["parse_error"] is None for r in rows), [r["parse_error"] for r in rows]
    # A topic no setting names is read as the xact download DLQ, as before.
    (row,) = parse_raw_records(con, [RawRecord(0, 0, b"{}", topic="elsewhere")], TOPICS)
    assert row["dlq_format"] == "xact-download"

"""The parser on header conventions: foreign DLQs (Kafka Connect, Spring Kafka, Kafka Streams,
Karafka) carry their error context in headers, and the pipeline's own headers fill gaps."""

from __future__ import annotations

import duckdb

from ingest.parse import RawRecord, parse_raw_records
from tests.parse_helpers import con, parse_one, record

__all__ = ["con"]  # the shared connection fixture


def test_kafka_connect_headers_fill_error_and_origin(con: duckdb.DuckDBPyConnection) -> None:
    row = parse_one(
        con,
        b"\x00\x01binary",
        headers=[
            ("__connect.errors.topic", b"orders"),
            ("__connect.errors.partition", b"3"),
            ("__connect.errors.offset", b"1234"),
            (
                "__connect.errors.exception.class.name",
                b"org.apache.kafka.connect.errors.DataException",
            ),
            ("__connect.errors.exception.message", b"Converting byte[] failed at offset 1234"),
        ],
    )
    assert row["record_format"] == "kafka-connect"
    assert row["parse_error"] is None
    assert (row["origin_topic"], row["origin_partition"], row["origin_offset"]) == (
        "orders",
        3,
        1234,
    )
    assert row["exception_class"] == "org.apache.kafka.connect.errors.DataException"
    assert row["error_message"] == "Converting byte[] failed at offset 1234"
    assert row["error_source"] == "headers"


def test_numbers_past_their_column_range_leave_the_field_empty_not_the_batch_failed(
    con: duckdb.DuckDBPyConnection,
) -> None:
    rows = parse_raw_records(
        con,
        [
            RawRecord(0, 0, record(), headers=[("retry_count", b"1")]),
            RawRecord(0, 1, record(retry_count=...), headers=[("retry_count", b"4294967295")]),
            RawRecord(
                0,
                2,
                b"payload",
                headers=[
                    ("kafka_dlt-original-topic", b"payments"),
                    ("kafka_dlt-original-partition", (2**31).to_bytes(8, "big")),
                ],
            ),
        ],
    )
    assert [r["offset"] for r in rows] == [0, 1, 2]
    assert rows[1]["retry_count"] is None and "missing retry_count" in rows[1]["parse_error"]
    assert rows[2]["origin_topic"] == "payments" and rows[2]["origin_partition"] is None


def test_spring_kafka_binary_headers_are_decoded(con: duckdb.DuckDBPyConnection) -> None:
    row = parse_one(
        con,
        b"payload",
        headers=[
            ("kafka_dlt-original-topic", b"payments"),
            ("kafka_dlt-original-partition", (7).to_bytes(4, "big")),
            ("kafka_dlt-original-offset", (123_456_789_012).to_bytes(8, "big")),
            ("kafka_dlt-exception-fqcn", b"java.lang.IllegalStateException"),
            ("kafka_dlt-exception-message", b"boom"),
        ],
    )
    assert row["record_format"] == "spring-kafka"
    assert (row["origin_topic"], row["origin_partition"], row["origin_offset"]) == (
        "payments",
        7,
        123_456_789_012,
    )
    assert row["exception_class"] == "java.lang.IllegalStateException"


def test_kafka_streams_and_karafka_headers(con: duckdb.DuckDBPyConnection) -> None:
    streams = parse_one(
        con,
        b"x",
        headers=[
            ("__streams.errors.topic", b"in"),
            ("__streams.errors.partition", b"1"),
            ("__streams.errors.offset", b"99"),
            ("__streams.errors.exception", b"java.io.IOException"),
            ("__streams.errors.message", b"disk full"),
        ],
    )
    assert streams["record_format"] == "kafka-streams"
    assert (streams["origin_offset"], streams["error_message"]) == (99, "disk full")
    karafka = parse_one(
        con,
        b"x",
        headers=[
            ("source_topic", b"events"),
            ("source_partition", b"2"),
            ("source_offset", b"12345678"),
        ],
    )
    assert karafka["record_format"] == "karafka"
    assert (karafka["origin_topic"], karafka["origin_partition"], karafka["origin_offset"]) == (
        "events",
        2,
        12345678,
    )


def test_pipeline_headers_fill_missing_fields(con: duckdb.DuckDBPyConnection) -> None:
    row = parse_one(
        con,
        record(retry_count=..., error_category=...),
        headers=[("retry_count", b"4"), ("error_category", b"transient"), ("failed", b"true")],
    )
    assert row["retry_count"] == 4
    assert row["error_category"] == "transient"

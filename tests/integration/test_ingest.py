"""The ingest job against the real broker: exactly once, incremental, poison-proof,
retention-aware, and never touching the review group's offsets."""

from __future__ import annotations

import json

import pytest
from confluent_kafka import Consumer, TopicPartition

from dashboard.adapters.db import Database
from dashboard.adapters.kafka import KafkaGateway, OutgoingRecord
from dashboard.settings import Settings
from ingest.job import ingest_once
from tests.kafka_helpers import (
    NOW_MS,
    kafka_positions,
    pipeline_value,
    produce,
    produce_demo,
    produce_pipeline,
    stored_positions,
)

pytestmark = pytest.mark.kafka


def test_a_demo_dlq_lands_in_the_snapshot_exactly_once(
    kafka_settings: Settings, gateway: KafkaGateway
) -> None:
    produce_demo(gateway, kafka_settings.dlq_topic, 3000, partitions=6)
    summary = ingest_once(kafka_settings)
    expected = kafka_positions(gateway, kafka_settings.dlq_topic)
    assert len(expected) == 3000
    assert stored_positions(kafka_settings) == expected
    assert summary.records == 3000
    assert summary.partitions == 6
    with Database(kafka_settings.db).read() as con:
        unparseable = con.execute(
            "SELECT count(*) FROM records WHERE parse_error IS NOT NULL"
        ).fetchone()
    assert summary.unparseable == (unparseable[0] if unparseable else -1)
    again = ingest_once(kafka_settings)
    assert again.records == 0
    assert stored_positions(kafka_settings) == expected


def test_a_rerun_reads_only_what_is_new(kafka_settings: Settings, gateway: KafkaGateway) -> None:
    produce_pipeline(gateway, kafka_settings.dlq_topic, 120)
    assert ingest_once(kafka_settings).records == 120
    produce_pipeline(gateway, kafka_settings.dlq_topic, 45, start=120)
    second = ingest_once(kafka_settings)
    assert second.records == 45
    assert stored_positions(kafka_settings) == kafka_positions(gateway, kafka_settings.dlq_topic)
    with Database(kafka_settings.db).read() as con:
        runs = con.execute(
            "SELECT run_id, records_ingested, status FROM ingest_runs ORDER BY run_id"
        ).fetchall()
    assert [(count, status) for _, count, status in runs] == [(120, "ok"), (45, "ok")]


POISON: list[tuple[str, bytes | None, list[tuple[str, bytes]]]] = [
    ("not json", b"<html>502 Bad Gateway</html>", []),
    ("not utf-8", b"\xff\xfe\x00\x80garbage", []),
    ("wrong shape", b'[{"trace_id": "x"}, 4]', []),
    ("tombstone", None, []),
    ("empty", b"", []),
    (
        "huge",
        pipeline_value(
            "evt-huge",
            final_error="x" * 500,
            original_task={"trace_id": "evt-huge", "metadata": {"body": "y" * 900_000}},
        ),
        [],
    ),
    ("missing fields", b'{"trace_id": "evt-missing", "error_category": "permanent"}', []),
    ("extra fields", pipeline_value("evt-extra", priority="high", shard=7), []),
    ("naive timestamp", pipeline_value("evt-naive", failed_at="2026-11-18T10:00:00"), []),
    ("future timestamp", pipeline_value("evt-future", failed_at="2031-01-01T00:00:00Z"), []),
    ("duplicate trace id", pipeline_value("evt-extra"), []),
    ("idn domain", pipeline_value("evt-idn", attachment_url="https://bücher.example.de/a.pdf"), []),
    ("bad url", pipeline_value("evt-badurl", attachment_url="htp:/no host here.pdf"), []),
    (
        "connect",
        b"\x00raw",
        [
            ("__connect.errors.topic", b"orders"),
            ("__connect.errors.partition", b"1"),
            ("__connect.errors.offset", b"42"),
            ("__connect.errors.exception.message", b"bad converter"),
        ],
    ),
    (
        "spring",
        b"raw",
        [
            ("kafka_dlt-original-topic", b"payments"),
            ("kafka_dlt-original-partition", (2).to_bytes(4, "big")),
            ("kafka_dlt-original-offset", (77).to_bytes(8, "big")),
            ("kafka_dlt-exception-message", b"deserialization failed"),
        ],
    ),
]


def test_no_record_is_ever_dropped_whatever_its_bytes(
    kafka_settings: Settings, gateway: KafkaGateway
) -> None:
    records: list[OutgoingRecord] = [
        (name.encode(), value, headers, NOW_MS + i)
        for i, (name, value, headers) in enumerate(POISON)
    ]
    produce(gateway, kafka_settings.dlq_topic, records, partitions=1)
    summary = ingest_once(kafka_settings)
    assert summary.records == len(POISON)
    with Database(kafka_settings.db).read() as con:
        rows = con.execute(
            'SELECT "offset", "value", parse_error, parse_warnings, record_format, "domain", '
            'origin_topic, origin_offset, error_message FROM records ORDER BY "offset"'
        ).fetchall()
    by_name = {POISON[r[0]][0]: r for r in rows}
    for offset, (name, value, _headers) in enumerate(POISON):
        assert rows[offset][1] == value, f"{name}: raw value changed"
    assert "not a JSON object" in by_name["not json"][2]
    assert "not valid UTF-8" in by_name["not utf-8"][2]
    assert "JSON array" in by_name["wrong shape"][2]
    assert "tombstone" in by_name["tombstone"][2]
    assert by_name["empty"][2] == "empty value"
    assert by_name["huge"][2] is None and len(by_name["huge"][1]) > 900_000
    assert "missing or empty attachment_url" in by_name["missing fields"][2]
    assert by_name["extra fields"][2] is None
    assert "failed_at has no UTC offset; read as UTC" in by_name["naive timestamp"][3]
    assert "failed_at is in the future" in by_name["future timestamp"][3]
    assert by_name["duplicate trace id"][2] is None
    assert by_name["idn domain"][5] == "bücher.example.de"
    assert "attachment_url is not a URL with a host" in by_name["bad url"][3]
    assert by_name["connect"][4:9] == ("kafka-connect", None, "orders", 42, "bad converter")
    assert by_name["spring"][4:9] == (
        "spring-kafka",
        None,
        "payments",
        77,
        "deserialization failed",
    )
    assert summary.unparseable == sum(1 for r in rows if r[2] is not None)


def test_ingest_records_watermarks_and_never_commits_for_the_review_group(
    kafka_settings: Settings, gateway: KafkaGateway
) -> None:
    topic = kafka_settings.dlq_topic
    produce_pipeline(gateway, topic, 30, partitions=2)
    # An operator resolved partition 0 up to offset 5 with the runbook's CLI.
    reviewer = Consumer(
        {
            "bootstrap.servers": kafka_settings.bootstrap_servers,
            "group.id": kafka_settings.review_group,
            "enable.auto.commit": False,
        }
    )
    reviewer.commit(offsets=[TopicPartition(topic, 0, 5)], asynchronous=False)
    reviewer.close()

    ingest_once(kafka_settings)
    ingest_once(kafka_settings)

    assert gateway.committed_offsets(kafka_settings.review_group, topic, [0, 1]) == {0: 5, 1: None}
    assert gateway.committed_offsets("dlq-dashboard-reader", topic, [0, 1]) == {0: None, 1: None}
    marks = gateway.watermarks(topic, [0, 1])
    with Database(kafka_settings.db).read() as con:
        rows = con.execute(
            'SELECT run_id, "partition", low_offset, high_offset, committed_offset '
            'FROM partition_watermarks ORDER BY run_id, "partition"'
        ).fetchall()
    assert len(rows) == 4  # two runs, two partitions
    for _run, partition, low, high, committed in rows:
        assert (low, high) == (marks[partition].low, marks[partition].high)
        assert committed == (5 if partition == 0 else None)


def test_records_deleted_by_retention_stay_marked_gone(
    kafka_settings: Settings, gateway: KafkaGateway
) -> None:
    topic = kafka_settings.dlq_topic
    produce_pipeline(gateway, topic, 20, partitions=1)
    ingest_once(kafka_settings)
    gateway.delete_records_before(topic, {0: 10})
    summary = ingest_once(kafka_settings)
    assert summary.marked_gone == 10 and summary.missed == 0
    # Five more arrive and two of them are deleted before any run could read them.
    produce_pipeline(gateway, topic, 5, start=20, partitions=1)
    gateway.delete_records_before(topic, {0: 22})
    summary = ingest_once(kafka_settings)
    assert (summary.records, summary.missed, summary.marked_gone) == (3, 2, 10)
    with Database(kafka_settings.db).read() as con:
        gone = con.execute(
            'SELECT list("offset" ORDER BY "offset") FROM records '
            "WHERE gone_from_kafka_at IS NOT NULL"
        ).fetchone()
        kept = con.execute("SELECT count(*) FROM records").fetchone()
    assert gone is not None and gone[0] == list(range(0, 20))
    assert kept is not None and kept[0] == 23  # 0-19 and 22-24: history is never dropped


def test_the_stored_value_is_the_record_as_kafka_holds_it(
    kafka_settings: Settings, gateway: KafkaGateway
) -> None:
    value = pipeline_value(
        "evt-exact", original_task={"trace_id": "evt-exact", "x": [1, {"y": None}]}
    )
    produce(
        gateway,
        kafka_settings.dlq_topic,
        [(b"evt-exact", value, [("h", b"\x00\x01")], NOW_MS)],
        partitions=1,
    )
    ingest_once(kafka_settings)
    with Database(kafka_settings.db).read() as con:
        row = con.execute('SELECT "key", "value", headers, kafka_timestamp FROM records').fetchone()
    assert row is not None
    assert row[0] == b"evt-exact" and row[1] == value
    assert row[2] == [{"key": "h", "value": b"\x00\x01"}]
    assert int(row[3].timestamp() * 1000) == NOW_MS
    assert json.loads(row[1])["original_task"]["x"] == [1, {"y": None}]

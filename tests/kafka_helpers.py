"""Test helpers that put records on the real broker and read the snapshot back."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from dashboard.adapters.db import Database
from dashboard.adapters.kafka import KafkaGateway, OutgoingRecord
from dashboard.devtools.demo_data import generate
from dashboard.settings import Settings

NOW_MS = 1_795_000_000_000  # 2026-11-18


def pipeline_value(trace_id: str, **changes: Any) -> bytes:
    url = f"https://claims-docs.s3.amazonaws.com/claims/C-1/{trace_id}.pdf?X-Amz-Signature=sekrit{trace_id}"
    body: dict[str, Any] = {
        "trace_id": trace_id,
        "attachment_url": url,
        "retry_count": 4,
        "error_category": "transient",
        "final_error": "Connection timeout after 30s - retries exhausted (4 attempts)",
        "failed_at": "2026-11-18T10:00:00Z",
        "original_task": {
            "trace_id": trace_id,
            "attachment_url": url,
            "file_type": "pdf",
            "event_type": "xact",
            "retry_count": 4,
            "metadata": {},
        },
    }
    return changed_json(body, changes)


def changed_json(body: dict[str, Any], changes: dict[str, Any]) -> bytes:
    """`body` as JSON bytes with `changes` applied; a change to `...` removes the field."""
    for key, value in changes.items():
        if value is ...:
            body.pop(key)
        else:
            body[key] = value
    return json.dumps(body).encode()


def produce(
    gateway: KafkaGateway, topic: str, records: Sequence[OutgoingRecord], partitions: int = 3
) -> None:
    gateway.create_topic(topic, partitions)
    gateway.produce_all(topic, records)


def produce_pipeline(
    gateway: KafkaGateway, topic: str, count: int, start: int = 0, partitions: int = 3
) -> None:
    records: list[OutgoingRecord] = [
        (
            f"evt-{i}".encode(),
            pipeline_value(f"evt-{i}"),
            [("retry_count", b"4"), ("error_category", b"transient"), ("failed", b"true")],
            NOW_MS + i,
        )
        for i in range(start, start + count)
    ]
    produce(gateway, topic, records, partitions)


def produce_demo(
    gateway: KafkaGateway, topic: str, count: int, partitions: int = 3, seed: int = 7
) -> None:
    gateway.create_topic(topic, partitions)
    gateway.produce_all(
        topic, ((r.key, r.value, r.headers, r.timestamp_ms) for r in generate(count, 14, seed=seed))
    )


def stored_positions(settings: Settings) -> list[tuple[int, int]]:
    """Every (partition, offset) in the snapshot, duplicates included, sorted."""
    with Database(settings.db).read() as con:
        rows = con.execute(
            'SELECT "partition", "offset" FROM records WHERE topic = ? ORDER BY 1, 2',
            [settings.dlq_topic],
        ).fetchall()
    return [(int(p), int(o)) for p, o in rows]


def kafka_positions(gateway: KafkaGateway, topic: str) -> list[tuple[int, int]]:
    """Every (partition, offset) Kafka holds for the topic (non-transactional producer:
    offsets are dense between the watermarks)."""
    marks = gateway.watermarks(topic, gateway.partitions(topic))
    return [(p, o) for p, wm in sorted(marks.items()) for o in range(wm.low, wm.high)]

"""Helpers for the integration tests of actions: a DLQ on the real broker, ingested; the
pending topic read back; replay and resolve as one operator."""

from __future__ import annotations

import time
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from dashboard.actions.identity import Identity
from dashboard.actions.run import execute
from dashboard.actions.values import RecordRef, Report, Request
from dashboard.adapters.kafka import KafkaGateway, OutgoingRecord
from dashboard.settings import Settings
from ingest.job import ingest_once
from tests.kafka_helpers import produce

ANA = Identity("ana", "settings", True)


def read_topic(settings: Settings, topic: str, expect: int, timeout: float = 20) -> list[Any]:
    """Every message of `topic` (waiting until at least `expect` are there)."""
    consumer = Consumer(
        {
            "bootstrap.servers": settings.bootstrap_servers,
            **settings.kafka,  # a secured cluster's credentials
            "group.id": "test-reader",
            "enable.auto.commit": False,
        }
    )
    gateway = KafkaGateway(settings)
    consumer.assign([TopicPartition(topic, p, 0) for p in gateway.partitions(topic)])
    found: list[Any] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found.extend(m for m in consumer.consume(1000, 0.5) if m.error() is None)
        if len(found) >= expect and time.monotonic() > deadline - timeout + 2:
            break
    consumer.close()
    return found


def setup_dlq(
    settings: Settings, gateway: KafkaGateway, records: list[OutgoingRecord], partitions: int = 1
) -> None:
    produce(gateway, settings.dlq_topic, records, partitions=partitions)
    gateway.create_topic(settings.pending_topic, 3)
    ingest_once(settings)


def replay(settings: Settings, refs: list[RecordRef], **kw: Any) -> Report:
    return execute(
        settings, Request(action="replay", refs=refs, identity=ANA, reason="INC-42", **kw)
    )


def resolve_refs(settings: Settings, refs: list[RecordRef]) -> Report:
    return execute(settings, Request(action="resolve", refs=refs, identity=ANA, reason="accepted"))


def ref(settings: Settings, partition: int, offset: int) -> RecordRef:
    return RecordRef(settings.dlq_topic, partition, offset)

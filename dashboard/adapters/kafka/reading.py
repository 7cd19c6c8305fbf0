"""Reading a stretch of a topic back: from given offsets up to where the topic ended when the
read began (the audit's copy in Kafka; the pending topic after an interrupted replay)."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from confluent_kafka import Consumer, KafkaException, Message

from dashboard.adapters.kafka.errors import BrokerUnreachable, in_words, is_partition_eof

if TYPE_CHECKING:
    from dashboard.adapters.kafka import KafkaGateway


def read_until_now(
    gateway: KafkaGateway, topic: str, starts: Mapping[int, int] | None = None
) -> Iterator[Message]:
    """Every message of `topic` from `starts` (partition -> offset; default: each partition's
    low watermark) up to each partition's high watermark as it was when the read began,
    partition by partition in offset order. Raises BrokerUnreachable when Kafka stops
    answering before the end is reached."""
    parts = gateway.partitions(topic)
    marks = gateway.watermarks(topic, parts)
    for partition in parts:
        begin = max(marks[partition].low, (starts or {}).get(partition, 0))
        end = marks[partition].high
        if begin >= end:
            continue
        consumer = gateway.reader(topic, {partition: begin})
        try:
            yield from _read_partition(gateway, consumer, end)
        finally:
            consumer.close()


def _read_partition(gateway: KafkaGateway, consumer: Consumer, end: int) -> Iterator[Message]:
    bootstrap = gateway.settings.bootstrap_servers
    idle_until = time.monotonic() + gateway.timeout
    while True:
        try:
            batch = consumer.consume(500, 0.5)
        except KafkaException as exc:
            raise BrokerUnreachable(in_words(exc, bootstrap)) from None
        for message in batch:
            error = message.error()
            if error is not None:
                if is_partition_eof(error):
                    continue
                raise BrokerUnreachable(in_words(error, bootstrap))
            offset = message.offset()
            if offset is not None and offset < end:
                yield message
            if offset is not None and offset >= end - 1:
                return
        if batch:
            idle_until = time.monotonic() + gateway.timeout
        elif time.monotonic() > idle_until:
            raise BrokerUnreachable(f"no answer from {bootstrap} within {gateway.timeout:g}s")

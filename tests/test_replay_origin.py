"""Replay of an "any" DLQ's records to the topic their headers name (Kafka Connect, Spring
Kafka, Kafka Streams, Karafka): the message as it was, without the DLQ producer's headers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from dashboard.actions.replay_formats import build_for_dlq
from dashboard.actions.replay_message import NotReplayable, ReplayMessage
from dashboard.settings import DlqSettings

ANY = DlqSettings(
    name="foreign", topic="orders.dlq", format="any", replay_target="origin", review_group="g"
)
WHEN = datetime(2026, 11, 20, 10, 30, tzinfo=UTC)
MARKERS = [
    ("replayed_from_dlq", b"true"),
    ("dlq_topic", b"orders.dlq"),
    ("dlq_partition", b"2"),
    ("dlq_offset", b"41"),
]


def replay(
    value: bytes | None, key: bytes | None, headers: Sequence[tuple[str, bytes | None]]
) -> ReplayMessage:
    return build_for_dlq(
        ANY,
        value,
        dlq_topic="orders.dlq",
        dlq_partition=2,
        dlq_offset=41,
        actor="alice",
        replayed_at=WHEN,
        key=key,
        headers=headers,
    )


@pytest.mark.parametrize(
    ("added", "topic"),
    [
        (
            [
                ("__connect.errors.topic", b"orders"),
                ("__connect.errors.partition", b"3"),
                ("__connect.errors.exception.message", b"boom"),
            ],
            "orders",
        ),
        (
            [
                ("kafka_dlt-original-topic", b"orders.v2"),
                ("kafka_dlt-original-partition", b"\x00\x00\x00\x03"),
                ("kafka_dlt-exception-fqcn", b"java.lang.IllegalStateException"),
            ],
            "orders.v2",
        ),
        ([("__streams.errors.topic", b"clicks"), ("__streams.errors.offset", b"9")], "clicks"),
        (
            [
                ("source_topic", b"payments"),
                ("source_partition", b"0"),
                ("source_offset", b"17"),
                ("source_consumer_group", b"billing"),
            ],
            "payments",
        ),
    ],
)
def test_each_convention_goes_back_to_its_source_without_its_error_headers(
    added: list[tuple[str, bytes | None]], topic: str
) -> None:
    own: list[tuple[str, bytes | None]] = [
        ("content-type", b"application/avro"),
        ("x-null", None),
        ("x-bin", b"\xff\x00\x01"),
    ]
    value = b"\x00\x00\x00\x00\x07\xfe binary avro"
    message = replay(value, b"order-7", [own[0], *added, *own[1:]])
    assert message.topic == topic
    assert (message.key, message.value) == (b"order-7", value)
    assert list(message.headers) == [*own, *MARKERS]


def test_an_earlier_replays_markers_are_replaced_not_repeated() -> None:
    stale = [("replayed_from_dlq", b"true"), ("dlq_offset", b"3"), ("dlq_topic", b"old.dlq")]
    message = replay(b"v", None, [*stale, ("__connect.errors.topic", b"orders")])
    assert message.key is None
    assert list(message.headers) == MARKERS


def test_the_last_topic_header_counts_as_in_the_parse() -> None:
    twice = [("kafka_dlt-original-topic", b"first"), ("kafka_dlt-original-topic", b"second")]
    assert replay(b"v", None, twice).topic == "second"


@pytest.mark.parametrize(
    ("value", "headers", "why"),
    [
        (b"v", [("content-type", b"json")], "names no origin topic"),
        (b"v", [], "names no origin topic"),
        (b"v", [("source_topic", b"payments")], "names no origin topic"),  # Karafka needs both
        (b"v", [("__connect.errors.partition", b"1")], "name no source topic"),
        (b"v", [("kafka_dlt-original-topic", b"  ")], "name no source topic"),
        (None, [("__connect.errors.topic", b"orders")], "tombstone"),
    ],
)
def test_without_an_origin_the_replay_is_refused_with_the_reason(
    value: bytes | None, headers: list[tuple[str, bytes | None]], why: str
) -> None:
    with pytest.raises(NotReplayable, match=why):
        replay(value, None, headers)


def test_an_operator_cannot_change_a_foreign_message() -> None:
    with pytest.raises(NotReplayable, match="as it was"):
        build_for_dlq(
            ANY,
            b"v",
            dlq_topic="orders.dlq",
            dlq_partition=0,
            dlq_offset=0,
            actor="a",
            replayed_at=WHEN,
            new_url="https://example.com/x",
            headers=[("__connect.errors.topic", b"orders")],
        )

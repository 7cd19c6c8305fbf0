"""Helpers for integration tests with several DLQs: settings with `[[dlqs]]` built from a
test's own settings, and demo records of a DLQ format on the broker."""

from __future__ import annotations

from dashboard.adapters.kafka import KafkaGateway
from dashboard.devtools import demo_formats
from dashboard.settings import Settings


def with_dlqs(base: Settings, *dlqs: dict[str, str]) -> Settings:
    """`base` (its broker, files, tuning) with these DLQs instead of its one."""
    # Only what the test set: a default dumped and read back would count as set (an empty
    # operators list, set, is refused).
    values = base.model_dump(
        exclude_unset=True, exclude={"dlq_topic", "pending_topic", "review_group", "dlqs"}
    )
    return Settings.model_validate({**values, "dlqs": list(dlqs)})


def dlq(base: Settings, name: str, dlq_format: str, **more: str) -> dict[str, str]:
    """A DLQ of the test's own: its topic and review group named after the test's."""
    return {
        "name": name,
        "topic": f"{base.dlq_topic}.{name}",
        "format": dlq_format,
        "review_group": f"{base.review_group}-{name}",
        **more,
    }


def produce_shape(
    gateway: KafkaGateway, topic: str, dlq_format: str, count: int, partitions: int = 2
) -> None:
    gateway.create_topic(topic, partitions)
    records = demo_formats.generate(dlq_format, count, 3, seed=11)
    gateway.produce_all(topic, ((r.key, r.value, r.headers, r.timestamp_ms) for r in records))

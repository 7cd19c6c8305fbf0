"""A believable DLQ for demos and benchmarks: the runbook's five failure patterns, format
drift between pipeline versions, replays that failed again, and a few poison records.

`generate()` is pure (records as values, keys, headers and timestamps); `produce()` sends
them to the configured DLQ topic through `dashboard.adapters.kafka`. The records' shapes are
in demo_shapes.py and demo_poison.py; `dlq demo --live` keeps them coming (demo_live.py).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from dashboard.adapters.kafka import KafkaGateway
from dashboard.devtools.demo_poison import poison
from dashboard.devtools.demo_shapes import (
    BURST_DOMAIN,
    BURST_ERROR,
    PATTERNS,
    DemoRecord,
    new_trace_id,
)
from dashboard.settings import Settings

__all__ = ["BURST_DOMAIN", "BURST_ERROR", "DemoRecord", "generate", "produce", "records_in"]

# The systematic burst: one domain, one error, in the last half hour, fast enough to put the
# growth rate in the runbook's Critical band (> 10 per minute).
BURST_MINUTES = 30

# Share of the records each pattern gets (the rest of the runbook's background).
PATTERN_WEIGHTS: dict[str, float] = {
    "expired_url": 0.30,
    "file_type": 0.09,
    "timeout": 0.25,
    "onelake": 0.10,
    "other_category": 0.03,
    "systematic": 0.20,
    "replay_failed": 0.025,
    "poison": 0.005,
}


def generate(
    count: int, days: float, now: datetime | None = None, seed: int | None = None
) -> Iterator[DemoRecord]:
    """`count` records with timestamps over the past `days`, oldest first."""
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    now_ms = int(now.timestamp() * 1000)
    span_ms = int(days * 86_400_000)
    burst_ms = BURST_MINUTES * 60_000

    kinds = rng.choices(list(PATTERN_WEIGHTS), weights=list(PATTERN_WEIGHTS.values()), k=count)
    stamps = [
        now_ms - rng.randrange(0, burst_ms)
        if kind == "systematic"
        else now_ms - _business_hours_offset(rng, span_ms, now_ms)
        for kind in kinds
    ]
    order = sorted(range(count), key=stamps.__getitem__)
    recent_trace_ids: list[str] = []
    for index in order:
        kind = kinds[index]
        when = stamps[index]
        if kind == "poison":
            yield poison(rng, when)
            continue
        if kind == "replay_failed":
            # A replayed task that failed again lands in the DLQ again, same trace id.
            kind = "timeout"
            trace_id = rng.choice(recent_trace_ids) if recent_trace_ids else new_trace_id(rng)
        else:
            trace_id = new_trace_id(rng)
        recent_trace_ids.append(trace_id)
        if len(recent_trace_ids) > 500:
            del recent_trace_ids[: len(recent_trace_ids) - 500]
        yield PATTERNS[kind](rng, trace_id, when)


def _business_hours_offset(rng: random.Random, span_ms: int, now_ms: int) -> int:
    # Downloads follow office hours, so their failures do too: keep most night-time draws out.
    while True:
        offset = rng.randrange(0, span_ms)
        hour = ((now_ms - offset) // 3_600_000) % 24
        if 7 <= hour <= 19 or rng.random() < 0.35:
            return offset


def records_in(kafka: KafkaGateway, topic: str) -> int:
    """How many records `topic` holds now (0 when it does not exist)."""
    if not kafka.topic_exists(topic):
        return 0
    marks = kafka.watermarks(topic, kafka.partitions(topic))
    return sum(wm.high - wm.low for wm in marks.values())


@dataclass(frozen=True)
class DemoSummary:
    topic: str
    records: int
    partitions: int
    created_topic: bool


def produce(
    settings: Settings,
    count: int,
    days: float,
    partitions: int = 6,
    seed: int | None = None,
    gateway: KafkaGateway | None = None,
) -> DemoSummary:
    kafka = gateway or KafkaGateway(settings)
    created = kafka.create_topic(settings.dlq_topic, partitions)
    kafka.create_topic(settings.pending_topic, partitions)
    sent = kafka.produce_all(
        settings.dlq_topic,
        ((r.key, r.value, r.headers, r.timestamp_ms) for r in generate(count, days, seed=seed)),
    )
    return DemoSummary(settings.dlq_topic, sent, len(kafka.partitions(settings.dlq_topic)), created)

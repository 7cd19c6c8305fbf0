"""`dlq demo` on several DLQs: the xact download DLQ (demo_data), a ClaimX download DLQ and
the pipeline's generic envelope DLQ (demo_formats), each with a burst of its own, so the
All DLQs overview has something to sort. scripts/demo.toml configures the same three.

Which DLQs are filled: those the settings configure (`[[dlqs]]`) whose format has demo
records; with today's single-DLQ settings, that DLQ plus DEMO_DLQS (the dashboard then reads
them only with a configuration naming them, such as scripts/demo.toml).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from dashboard.adapters.kafka import KafkaGateway
from dashboard.devtools import demo_data, demo_formats
from dashboard.devtools.demo_data import DemoSummary
from dashboard.devtools.demo_shapes import DemoRecord
from dashboard.settings import DlqSettings, Settings

# The two DLQs the demo adds beside the xact download DLQ (names and topics as in
# scripts/demo.toml; replay targets: the formats' defaults).
DEMO_DLQS: tuple[DlqSettings, ...] = (
    DlqSettings.model_validate(
        {
            "name": "claimx-downloads",
            "topic": "claimx.downloads.dlq",
            "format": "claimx-download",
            "review_group": "claimx-dlq-review",
        }
    ),
    DlqSettings.model_validate(
        {
            "name": "workers",
            "topic": "pipeline.workers.dlq",
            "format": "envelope",
            "review_group": "workers-dlq-review",
        }
    ),
)
FILLABLE = ("xact-download", *demo_formats.SHAPES)


def demo_dlqs(settings: Settings) -> list[DlqSettings]:
    """The DLQs `dlq demo` fills by default."""
    if settings.dlqs:
        return [d for d in settings.dlqs if d.format in FILLABLE]
    return [settings.dlq(), *DEMO_DLQS]


def share(dlq_format: str, count: int) -> int:
    """Records for a DLQ of this format when the xact DLQ gets `count`: a few hundred at the
    default 3,000, so the demo stays quick."""
    if dlq_format == "xact-download":
        return count
    return max(1, count * 2 // 15 if dlq_format.startswith("claimx") else count // 10)


def with_bursts(
    dlq_format: str, count: int, days: float, now: datetime | None = None, seed: int | None = None
) -> Iterator[DemoRecord]:
    """`count` records of one format over the past `days`, oldest first, a quarter of them a
    burst: ClaimX downloads refused (auth) by one S3 region in the last 40 minutes (growing
    now); for the envelope, an upstream that sent HTML for a quarter of an hour, three hours
    ago (over, its records still waiting)."""
    now = now or datetime.now(UTC)
    if dlq_format not in ("claimx-download", "envelope"):
        yield from demo_formats.generate(dlq_format, count, days, now, seed)
        return
    # Not `seed` itself: the burst would repeat the background's first trace ids.
    rng = random.Random(None if seed is None else f"{seed}-burst")
    burst = count // 4
    records = list(demo_formats.generate(dlq_format, count - burst, days, now, seed))
    if dlq_format == "claimx-download":
        start, minutes = now - timedelta(minutes=40), 40.0
        records += [
            demo_formats.claimx_download(rng, _within(rng, start, minutes), failure=2, host=1)
            for _ in range(burst)
        ]
    else:
        start, minutes = now - timedelta(hours=3), 15.0
        records += [
            demo_formats.envelope(rng, _within(rng, start, minutes), failure=1)
            for _ in range(burst)
        ]
    yield from sorted(records, key=lambda r: r.timestamp_ms or 0)


def _within(rng: random.Random, start: datetime, minutes: float) -> datetime:
    return start + timedelta(seconds=rng.uniform(0, minutes * 60))


def fill(
    settings: Settings, dlq: DlqSettings, count: int, days: float, *, kafka: KafkaGateway,
    partitions: int = 6, seed: int | None = None,
) -> DemoSummary:  # fmt: skip
    """Produce `count` demo records of `dlq`'s format into its topic, and create the topics
    its replays go to (pending, or the envelope's origins) so replays work at once."""
    if dlq.format == "xact-download":
        narrowed = settings.model_copy(
            update={"dlq_topic": dlq.topic, "pending_topic": dlq.replay_target}
        )
        return demo_data.produce(narrowed, count, days, partitions, seed, kafka)
    created = kafka.create_topic(dlq.topic, partitions)
    targets = demo_formats.ENVELOPE_ORIGINS if dlq.replays_to_origin else (dlq.replay_target,)
    for target in targets:
        kafka.create_topic(target, partitions)
    records = with_bursts(dlq.format, count, days, seed=seed)
    sent = kafka.produce_all(
        dlq.topic, ((r.key, r.value, r.headers, r.timestamp_ms) for r in records)
    )
    return DemoSummary(dlq.topic, sent, len(kafka.partitions(dlq.topic)), created)

"""One chunk of a replay run between its claim and its record: each claimed record's message
built, sent without waiting, and each send's outcome once Kafka reported on it. The run
(run.py) keeps one chunk in flight while it claims and builds the next one, so Kafka's
acknowledgements come in while Python works."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from dashboard.actions.outcome_rows import delivery_result
from dashboard.actions.replay_formats import build_for_dlq
from dashboard.actions.replay_message import NotReplayable, ReplayMessage
from dashboard.actions.values import Candidate, ItemResult, RecordRef, Request
from dashboard.adapters.kafka import Delivery, OutgoingRecord, Sender
from dashboard.settings import DlqSettings

# A record's stored key and headers (only a replay to the origin its headers name sends them).
Original = tuple[bytes | None, list[tuple[str, bytes | None]]]
_NO_ORIGINAL: Original = (None, [])


@dataclass
class ReplayChunk:
    """One chunk of replays from its claim (under `token`) to its record."""

    token: str
    claimed: list[Candidate]
    # Each record's outcome: not replayable or a dry run at once, the others once reported.
    outcomes: dict[RecordRef, ItemResult] = field(default_factory=dict)
    pending: dict[RecordRef, tuple[Candidate, ReplayMessage]] = field(default_factory=dict)
    deliveries: dict[RecordRef, Delivery] = field(default_factory=dict)


def build_chunk(
    request: Request,
    token: str,
    claimed: list[Candidate],
    dlq_of: Callable[[str], DlqSettings],
    values: Mapping[RecordRef, bytes | None],
    originals: Mapping[RecordRef, Original],
    now: datetime,
) -> ReplayChunk:
    """Build each claimed record's replay message; a record that cannot be replayed (and
    each one in a dry run) has its outcome already."""
    chunk = ReplayChunk(token, claimed)
    for c in claimed:
        key, headers = originals.get(c.ref, _NO_ORIGINAL) if originals else _NO_ORIGINAL
        try:
            message = build_for_dlq(
                dlq_of(c.ref.topic),
                values.get(c.ref),
                dlq_topic=c.ref.topic,
                dlq_partition=c.ref.partition,
                dlq_offset=c.ref.offset,
                actor=request.identity.label,
                replayed_at=now,
                new_url=request.new_url,
                new_file_type=request.new_file_type,
                new_blob_path=request.new_blob_path,
                key=key,
                headers=headers,
            )
        except (NotReplayable, ValueError) as exc:
            chunk.outcomes[c.ref] = ItemResult(c.ref, c.trace_id, "failure", str(exc))
            continue
        if request.dry_run:
            chunk.outcomes[c.ref] = ItemResult(
                c.ref, c.trace_id, "dry-run", detail={"task": message.task}
            )
        else:
            chunk.pending[c.ref] = (c, message)
    return chunk


def send_chunk(
    sender: Sender,
    chunk: ReplayChunk,
    pending_topic: str,
    pace: Callable[[], bool],
    cancelled: Callable[[], bool],
) -> None:
    """Send the chunk's messages, each once `pace` allows (False: cancelled, the rest stays
    unsent), without waiting for the acknowledgements (`settle_chunk` does)."""

    def paced(
        items: dict[RecordRef, tuple[Candidate, ReplayMessage]],
    ) -> Iterator[tuple[RecordRef, OutgoingRecord]]:
        for ref, (_c, message) in items.items():
            if not pace():
                return
            yield ref, (message.key, message.value, message.headers, 0)

    # Most DLQs replay to one topic; an envelope's records each to their original one.
    by_topic: dict[str, dict[RecordRef, tuple[Candidate, ReplayMessage]]] = {}
    for ref, item in chunk.pending.items():
        by_topic.setdefault(item[1].topic or pending_topic, {})[ref] = item
    for target, items in by_topic.items():
        if cancelled():
            break
        sender.enqueue(target, paced(items), chunk.deliveries.__setitem__)


def settle_chunk(
    sender: Sender,
    chunk: ReplayChunk,
    cancelled: bool,
    on_slow: Callable[[], None] | None = None,
) -> str | None:
    """Wait for every report on the chunk's sends (it must be the only chunk in flight) and
    give each its outcome: a replay not acknowledged is a failure. Returns why the run
    should stop (Kafka stopped acknowledging), or None. Records left unsent by a cancel
    get no outcome. `on_slow`: called once if the reports are slow to come (Sender.wait)."""
    sender.wait(on_slow)
    timeout = sender.delivery_timeout
    deliveries = chunk.deliveries
    unanswered = sum(1 for d in deliveries.values() if d.status == "unacknowledged" or d.timed_out)
    fatal = sender.fatal  # the producer can send nothing (e.g. not authorized)
    for ref, (c, _message) in chunk.pending.items():
        delivery = deliveries.get(ref)
        if delivery is None and fatal is not None and not cancelled:
            delivery = Delivery("failed", error=fatal)
        if delivery is not None:
            chunk.outcomes[ref] = delivery_result(c, delivery, timeout)
    if not unanswered:
        return None
    # Every further chunk would only wait out the timeout.
    return (
        f"Kafka stopped acknowledging ({unanswered:,} sends not acknowledged within {timeout:g}s)"
    )

"""What a run makes of what it did: each replay's outcome from its delivery report, and the
rows it writes, a `resolutions` row per record resolved and a `replays` row per replay the
broker acknowledged, each pointing at its audit entry."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Final

from dashboard.actions.values import Candidate, ItemResult, RecordRef, Request
from dashboard.adapters.kafka import Delivery

# A replay's detail flag: sent, never acknowledged, so it may or may not have landed.
UNKNOWN: Final = "outcome_unknown"

# A record's audit entry id, within the transaction that appended the entries.
AuditIds = Callable[[RecordRef], int]

RESOLUTION_COLUMNS: Final = (
    "topic",
    "partition",
    "offset",
    "resolved_at",
    "source",
    "actor",
    "reason",
    "audit_id",
)
REPLAY_COLUMNS: Final = (
    "topic",
    "partition",
    "offset",
    "replayed_at",
    "trace_id",
    "actor",
    "audit_id",
    "bulk_id",
    "pending_topic",
    "pending_partition",
    "pending_offset",
    "new_url",
)


def resolution_rows(
    request: Request, resolved: Iterable[Candidate], audit_id: AuditIds, moment: datetime
) -> list[list[object]]:
    return [
        [
            c.ref.topic,
            c.ref.partition,
            c.ref.offset,
            moment,
            "dashboard",
            request.identity.label,
            request.reason,
            audit_id(c.ref),
        ]
        for c in resolved
    ]


def replay_rows(
    request: Request,
    bulk_id: str | None,
    outcomes: Mapping[RecordRef, ItemResult],
    audit_id: AuditIds,
    moment: datetime,
) -> list[list[object]]:
    """Rows for the successful replays among `outcomes` (their detail says where each landed)."""
    return [
        [
            ref.topic,
            ref.partition,
            ref.offset,
            moment,
            r.trace_id,
            request.identity.label,
            audit_id(ref),
            bulk_id,
            r.detail["pending_topic"],
            r.detail["pending_partition"],
            r.detail["pending_offset"],
            request.new_url,
        ]
        for ref, r in outcomes.items()
        if r.result == "success"
    ]


def delivery_result(c: Candidate, delivery: Delivery, timeout: float) -> ItemResult:
    """A replay's outcome from its delivery report (`timeout`: the delivery timeout)."""
    if delivery.status == "delivered":
        detail = {
            "pending_topic": delivery.topic,
            "pending_partition": delivery.partition,
            "pending_offset": delivery.offset,
        }
        return ItemResult(c.ref, c.trace_id, "success", detail=detail)
    if delivery.status == "failed" and not delivery.timed_out:
        return ItemResult(c.ref, c.trace_id, "failure", f"not delivered: {delivery.error}")
    # It may still have landed: its claim stays until the pending topic says.
    why = (
        f"no acknowledgement from Kafka within {timeout:g}s: outcome unknown, "
        "settled from the pending topic at the next action"
    )
    return ItemResult(c.ref, c.trace_id, "failure", why, detail={UNKNOWN: True})

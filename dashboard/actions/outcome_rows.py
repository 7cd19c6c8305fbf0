"""The rows a run writes for what it did: a `resolutions` row per record resolved, a
`replays` row per replay the broker acknowledged, each pointing at its audit entry."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Final

from dashboard.actions.values import Candidate, ItemResult, RecordRef, Request

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

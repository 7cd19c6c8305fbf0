"""The audit read back as what people did: one line per bulk (its selection, count, outcome,
who, when), one per single-record action, one per dry run. The escalation pack's "actions
already attempted" is this, with the per-record entries in an appendix."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dashboard.actions.audit import AuditEntry

_BULK_MARKS = ("bulk-start", "bulk-finish", "bulk-cancel")
_DONE = {"replay": "replayed", "replay-with-new-url": "replayed", "resolve": "resolved"}


@dataclass(frozen=True)
class ActionSummary:
    """What one request did."""

    bulk_id: str | None  # None: an action on one record outside any bulk
    action: str  # replay, replay-with-new-url, resolve
    actor: str
    started: datetime
    finished: datetime | None  # None: no end recorded (still running, or it stopped)
    selection: str  # the filter or the record it was given
    selected: int
    outcome: str  # "412 replayed, 3 failed", "dry run: would replay 412", ...
    reason: str | None
    results: dict[str, int] = field(default_factory=dict)

    @property
    def line(self) -> str:
        when = f"{self.started:%Y-%m-%d %H:%M} UTC"
        bulk = f" (bulk {self.bulk_id})" if self.bulk_id else ""
        why = f", reason: {self.reason}" if self.reason else ""
        return (
            f"{when} {self.actor} {self.action} {self.selected:,} record"
            f"{'s' if self.selected != 1 else ''} [{self.selection}]{bulk}: {self.outcome}{why}"
        )


def summarise(entries: Iterable[AuditEntry]) -> tuple[list[ActionSummary], list[AuditEntry]]:
    """Per request, newest first; and the per-record entries behind them, oldest first."""
    by_bulk: dict[str, list[AuditEntry]] = {}
    made: list[tuple[int, ActionSummary]] = []  # (first audit id, summary): the audit's order
    records: list[AuditEntry] = []
    for e in sorted(entries, key=lambda e: e.audit_id):
        whole = e.action in _BULK_MARKS or _stands_for_request(e)
        if not whole:
            records.append(e)
        if e.bulk_id:
            by_bulk.setdefault(e.bulk_id, []).append(e)
        else:
            made.append((e.audit_id, _whole_request(e) if whole else _single(e)))
    made += [(group[0].audit_id, _bulk(bulk_id, group)) for bulk_id, group in by_bulk.items()]
    made.sort(key=lambda pair: pair[0], reverse=True)
    return [summary for _, summary in made], records


def _stands_for_request(entry: AuditEntry) -> bool:
    """A dry run's one entry, or a request Kafka never answered (no record named)."""
    return entry.result == "dry-run" or entry.offset is None


def _details(entry: AuditEntry) -> dict[str, Any]:
    try:
        loaded = json.loads(entry.details or "{}")
    except ValueError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _where(entry: AuditEntry) -> str:
    return f"{entry.topic}:{entry.partition}:{entry.offset}"


def _single(entry: AuditEntry) -> ActionSummary:
    outcome = _DONE.get(entry.action, entry.action) if entry.result == "success" else entry.result
    if entry.error:
        outcome += f" ({entry.error})"
    return ActionSummary(
        None,
        entry.action,
        entry.actor,
        entry.logged_at,
        entry.logged_at,
        _where(entry),
        1,
        outcome,
        entry.reason,
        {entry.result: 1},
    )


def _whole_request(entry: AuditEntry) -> ActionSummary:
    """An entry standing for a whole request: a dry run, or Kafka not answering."""
    details = _details(entry)
    selected = int(details.get("selected") or 1)
    selection = details.get("selection") or (_where(entry) if entry.offset is not None else "")
    if entry.result == "dry-run":
        would = int(details.get(f"would_{entry.action}") or 0)
        outcome = f"dry run: would {entry.action} {would:,}"
    else:
        outcome = f"{entry.result}" + (f": {entry.error}" if entry.error else "")
    return ActionSummary(
        entry.bulk_id,
        entry.action,
        entry.actor,
        entry.logged_at,
        entry.logged_at,
        str(selection),
        selected,
        outcome,
        entry.reason,
        {entry.result: selected},
    )


def _bulk(bulk_id: str, group: list[AuditEntry]) -> ActionSummary:
    marks = {e.action: e for e in group if e.action in _BULK_MARKS}
    whole = [e for e in group if e.action not in _BULK_MARKS and _stands_for_request(e)]
    if whole and not marks:
        return _whole_request(whole[0])
    per_record = [e for e in group if e.action not in _BULK_MARKS]
    first = marks.get("bulk-start") or group[0]
    end = marks.get("bulk-finish") or marks.get("bulk-cancel")
    details = _details(end or first)
    action = str(details.get("action") or (per_record[0].action if per_record else "?"))
    counts = Counter(e.result for e in per_record)
    parts = [f"{counts['success']:,} {_DONE.get(action, action)}"]
    parts += [
        f"{counts[k]:,} {word}" for k, word in (("failure", "failed"), ("refused", "refused"))
    ]
    if end is None:
        parts.append("no end recorded")
    elif end.action == "bulk-cancel":
        parts.append(f"cancelled, {int(details.get('not_attempted') or 0):,} not attempted")
    return ActionSummary(
        bulk_id,
        action,
        first.actor,
        first.logged_at,
        end.logged_at if end else None,
        str(details.get("selection") or "records named one by one"),
        int(details.get("selected") or len(per_record)),
        ", ".join(
            p for p in parts if not p.startswith("0 ") or p.endswith(("replayed", "resolved"))
        ),
        first.reason,
        dict(counts),
    )

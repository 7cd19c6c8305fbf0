"""The audit entries actions write: one per record acted on (or refused), one at each end of
a bulk, one when someone looks. Every entry goes to the audit table, then to the JSON-lines
log."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Literal

from dashboard.actions import audit
from dashboard.actions.identity import Identity
from dashboard.actions.values import Candidate, RecordRef, Report, Request
from dashboard.adapters.db import Connection, Database, transaction
from dashboard.settings import Settings

BulkMark = Literal["bulk-start", "bulk-finish", "bulk-cancel"]


def record_entry(
    request: Request,
    bulk_id: str | None,
    c: Candidate,
    result: str,
    error: str | None = None,
    detail: dict[str, Any] | None = None,
    new_url: str | None = None,
) -> audit.NewEntry:
    """The entry for what `request` did to one record."""
    action: str = request.action
    if action == "replay" and request.new_url is not None:
        action = "replay-with-new-url"
    return audit.NewEntry(
        action=action,
        actor=request.identity.label,
        result=result,
        trace_id=c.trace_id,
        topic=c.ref.topic,
        partition=c.ref.partition,
        offset=c.ref.offset,
        error=error,
        reason=request.reason,
        bulk_id=bulk_id,
        old_url=c.attachment_url if new_url else None,
        new_url=new_url,
        details=detail or {},
    )


def bulk_entry(report: Report, mark: BulkMark) -> audit.NewEntry:
    """The entry that opens or closes a bulk; the closing one carries the counts."""
    request = report.request
    details: dict[str, Any] = {
        "action": request.action,
        "selected": len(request.refs),
        "selection": request.selection,
        "rate": request.rate,
        "dry_run": request.dry_run,
        "override": request.override,
    }
    if mark != "bulk-start":
        details.update(
            succeeded=report.count("success"),
            failed=report.count("failure"),
            refused=report.count("refused"),
            dry_run_ok=report.count("dry-run"),
            not_attempted=report.not_attempted,
        )
    return audit.NewEntry(
        action=mark,
        actor=request.identity.label,
        result="success",
        reason=request.reason,
        bulk_id=report.bulk_id,
        details=details,
    )


def audit_only(
    connection: AbstractContextManager[Connection], log: Path, entries: list[audit.NewEntry]
) -> None:
    """Append `entries` to the audit table on `connection`, then to the JSON-lines log."""
    with connection as con, transaction(con):
        made = audit.append(con, entries)
    audit.write_jsonl(log, made)


def audit_look(
    settings: Settings,
    identity: Identity,
    action: Literal["view", "list"],
    ref: RecordRef | None = None,
    trace_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Record that someone looked (the runbook audits list and view too)."""
    entry = audit.NewEntry(
        action=action,
        actor=identity.label,
        result="success",
        trace_id=trace_id,
        topic=ref.topic if ref else None,
        partition=ref.partition if ref else None,
        offset=ref.offset if ref else None,
        details=details or {},
    )
    audit_only(Database.of(settings).write(), settings.audit_log, [entry])

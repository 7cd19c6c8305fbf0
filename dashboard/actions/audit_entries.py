"""The audit entries actions write: one per record acted on (or refused), one at each end of
a bulk, one for a whole dry run, one when someone looks. Every entry goes to the audit table,
then to its copies (the JSON-lines log and the audit topic); where a copy could not take it
is returned, in words, for the operator to see at once."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Final, Literal

from dashboard.actions import audit
from dashboard.actions.audit_copies import AuditCopies
from dashboard.actions.identity import Identity
from dashboard.actions.values import Candidate, RecordRef, Report, Request
from dashboard.adapters.db import Connection, Database, transaction
from dashboard.settings import Settings

BulkMark = Literal["bulk-start", "bulk-finish", "bulk-cancel"]
# The refusals a dry run's entry names (the rest are counted): enough to see why.
DRY_RUN_REFUSALS_KEPT: Final = 20


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
            not_attempted=report.not_attempted,
        )
        if report.stopped:
            details["stopped"] = report.stopped
    return audit.NewEntry(
        action=mark,
        actor=request.identity.label,
        result="success",
        reason=request.reason,
        bulk_id=report.bulk_id,
        details=details,
    )


def request_entry(
    report: Report, result: str, error: str | None = None, details: dict[str, Any] | None = None
) -> audit.NewEntry:
    """One entry for a whole request (its selection and count) rather than one per record:
    a dry run, or a request Kafka never answered."""
    request = report.request
    one = request.refs[0] if len(request.refs) == 1 else None
    return audit.NewEntry(
        action=request.action,
        actor=request.identity.label,
        result=result,
        topic=one.topic if one else None,
        partition=one.partition if one else None,
        offset=one.offset if one else None,
        error=error,
        reason=request.reason,
        bulk_id=report.bulk_id,
        details={"selection": request.selection, "selected": len(request.refs), **(details or {})},
    )


def dry_run_entry(report: Report) -> audit.NewEntry:
    """The one entry of a dry run: what was selected and what would have happened to it. A
    dry run changes nothing, so one entry per record would only bury the real actions."""
    refusals = [
        {"record": str(r.ref), "why": r.error}
        for r in report.results
        if r.result in ("refused", "failure")
    ]
    return request_entry(
        report,
        "dry-run",
        details={
            f"would_{report.request.action}": report.count("dry-run"),
            "refused": report.count("refused"),
            "failed": report.count("failure"),
            "not_attempted": report.not_attempted,
            "refusals": refusals[:DRY_RUN_REFUSALS_KEPT],
        },
    )


def audit_only(
    connection: AbstractContextManager[Connection],
    copies: AuditCopies,
    entries: list[audit.NewEntry],
    *,
    wait: bool = True,
) -> list[str]:
    """Append `entries` to the audit table on `connection`, then copy them (still holding
    the file, so copies get entries in id order); returns where they are missing (`wait`:
    see AuditCopies.write)."""
    with connection as con:
        with transaction(con):
            made = audit.append(con, entries)
        return copies.write(made, wait=wait)


def audit_look(
    settings: Settings,
    identity: Identity,
    action: Literal["view", "list"],
    ref: RecordRef | None = None,
    trace_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> list[str]:
    """Record that someone looked (the runbook audits list and view too); returns where the
    entry is missing (see AuditCopies.write)."""
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
    copies = AuditCopies(settings)
    try:
        return audit_only(Database.of(settings).write(), copies, [entry])
    finally:
        copies.close()


def audit_reveal(
    settings: Settings,
    identity: Identity,
    ref: RecordRef | None = None,
    trace_id: str | None = None,
) -> None:
    """Record that an operator had URL credentials shown unmasked (on a list of records when
    `ref` is None). Only an operator may: a viewer who cannot act cannot reveal them."""
    if not identity.can_act:
        raise PermissionError(identity.why_not or "Read-only: credentials stay masked.")
    audit_look(settings, identity, "view", ref, trace_id, {"revealed": "URL credentials"})

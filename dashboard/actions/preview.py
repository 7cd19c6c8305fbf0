"""Eligibility and the preview: which records an action may touch now, what it would do to
them, and how the operator confirms it (the page and the CLI ask the same way)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from dashboard.actions.selection import wanted_refs
from dashboard.actions.values import CLAIM_LEASE, Action, Candidate, Preview, RecordRef
from dashboard.adapters.db import Connection
from dashboard.adapters.processes import holder_gone
from dashboard.settings import Settings
from dashboard.triage.states import READY_TO_RESOLVE, REPLAYED_WAITING, records_with_details_sql


def why_not(action: Action, c: Candidate, override: bool) -> str | None:
    """Why `action` may not touch the record now; None when it may."""
    if c.state is None:
        return "not in the snapshot"
    if c.claimed_by is not None and c.claimed_at is not None:
        since = f"{c.claimed_at:%Y-%m-%d %H:%M:%S} UTC"
        if holder_gone(c.claim_pid or 0, c.claim_host or "", c.claimed_at, CLAIM_LEASE):
            return (
                f"{c.claimed_by}'s action of {since} was interrupted and whether it reached "
                "Kafka is not known yet; it is settled from the pending topic at the next "
                "action or preview, when Kafka answers"
            )
        return f"{c.claimed_by} is acting on it right now (since {since})"
    if action == "resolve":
        return "already resolved" if c.state == "resolved" else None
    if c.parse_error is not None:
        return f"unparseable, nothing to replay ({c.parse_error})"
    if override:
        return None
    if c.state == "resolved":
        return "already resolved (override to replay it anyway)"
    if c.state in (REPLAYED_WAITING, READY_TO_RESOLVE):
        when = f"{c.replayed_at:%Y-%m-%d %H:%M} UTC" if c.replayed_at else "before"
        return f"already replayed at {when}, outcome {c.replay_outcome} (override to replay again)"
    return None


def candidates(con: Connection, refs: Sequence[RecordRef]) -> list[Candidate]:
    """`refs` with their state and any claim on them, in partition and offset order."""
    with wanted_refs(con, refs) as wanted:
        rows = con.execute(
            f"""
            SELECT w.topic, w."partition", w."offset", s.trace_id, s.state, s.replay_outcome,
                   s.replayed_at, s.parse_error, s.attachment_url, s.error_category,
                   s.error_signature, s."domain", c.actor, c.claimed_at, c.pid, c.host
            FROM {wanted} w
            LEFT JOIN {records_with_details_sql(f"SELECT * FROM {wanted}")} s
                ON s.topic = w.topic AND s."partition" = w."partition" AND s."offset" = w."offset"
            LEFT JOIN action_claims c
                ON c.topic = w.topic AND c."partition" = w."partition" AND c."offset" = w."offset"
            ORDER BY w."partition", w."offset"
            """
        ).fetchall()
    return [Candidate(RecordRef(*row[:3]), *row[3:]) for row in rows]


def preview(
    con: Connection, action: Action, refs: Sequence[RecordRef], override: bool = False
) -> Preview:
    """What `action` would do to `refs`: how many, which groups, samples, what it refuses."""
    found = candidates(con, refs)
    eligible = [c for c in found if why_not(action, c, override) is None]
    refused = [(c.ref, why) for c in found if (why := why_not(action, c, override))]

    def top(values: Iterable[str | None]) -> list[tuple[str, int]]:
        counts: dict[str, int] = {}
        for value in values:
            counts[value or "(none)"] = counts.get(value or "(none)", 0) + 1
        return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:10]

    return Preview(
        action=action,
        eligible=len(eligible),
        refused=refused,
        by_category=top(c.error_category for c in eligible),
        by_signature=top(c.error_signature for c in eligible),
        by_domain=top(c.domain for c in eligible),
        samples=eligible[:5],
    )


# -- confirmation ----------------------------------------------------------------------------


def count_to_confirm(settings: Settings, plan: Preview) -> int | None:
    """The number the operator must type to confirm `plan`, or None when a yes will do.

    Over `actions.confirm_count_above` records a bulk action is confirmed only by typing how
    many records it acts on, so a filter that selects far more than meant is caught before
    anything is sent."""
    return plan.eligible if plan.eligible > settings.actions.confirm_count_above else None


def count_confirmed(settings: Settings, plan: Preview, typed: str | int | None) -> bool:
    """Whether `typed` (what the operator typed, or the CLI's --count) confirms `plan`; true
    when no count is needed."""
    expected = count_to_confirm(settings, plan)
    return expected is None or (typed is not None and str(typed).strip() == str(expected))

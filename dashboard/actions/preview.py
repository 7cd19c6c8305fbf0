"""Eligibility and the preview: which records an action may touch now, what it would do to
them, and how the operator confirms it (the page and the CLI ask the same way)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from dashboard.actions.selection import wanted_refs
from dashboard.actions.values import (
    CLAIM_LEASE,
    NO_ORIGIN_TOPIC,
    Action,
    Candidate,
    Preview,
    RecordRef,
)
from dashboard.adapters.db import Connection
from dashboard.adapters.processes import holder_gone
from dashboard.settings import Settings
from dashboard.triage.dimensions import NO_TEXT_LABEL, NONE_LABEL
from dashboard.triage.states import READY_TO_RESOLVE, REPLAYED_WAITING, records_with_details_sql


def replays_by_headers(settings: Settings | None, topic: str) -> bool:
    """Whether the records of DLQ topic `topic` go back to the origin their headers name (an
    "any" DLQ replayed to "origin"), so one that names none has nowhere to go."""
    dlq = settings.dlq_by_topic(topic) if settings is not None else None
    return dlq is not None and dlq.format == "any" and dlq.replays_to_origin


def why_not(
    action: Action, c: Candidate, override: bool, settings: Settings | None = None
) -> str | None:
    """Why `action` may not touch the record now; None when it may. `settings` (those as
    loaded, naming every DLQ) tell which DLQ's records replay to their headers' origin."""
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
        if c.origin_topic is None and replays_by_headers(settings, c.ref.topic):
            return f"{NO_ORIGIN_TOPIC} ({c.parse_error})"
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
                   s.error_signature, s."domain", c.actor, c.claimed_at, c.pid, c.host,
                   s.origin_topic
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
    con: Connection,
    action: Action,
    refs: Sequence[RecordRef],
    override: bool = False,
    settings: Settings | None = None,
) -> Preview:
    """What `action` would do to `refs`: how many, which groups, samples, what it refuses
    (`settings`: as for why_not)."""
    found = candidates(con, refs)
    eligible = [c for c in found if why_not(action, c, override, settings) is None]
    refused = [(c.ref, why) for c in found if (why := why_not(action, c, override, settings))]

    def top(values: Iterable[str | None], missing: str = NONE_LABEL) -> list[tuple[str, int]]:
        counts: dict[str, int] = {}
        for value in values:
            counts[value or missing] = counts.get(value or missing, 0) + 1
        return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:10]

    return Preview(
        action=action,
        eligible=len(eligible),
        refused=refused,
        by_category=top(c.error_category for c in eligible),
        by_signature=top((c.error_signature for c in eligible), NO_TEXT_LABEL),
        by_domain=top(c.domain for c in eligible),
        samples=eligible[:5],
        origins=tuple(sorted({c.origin_topic for c in eligible if c.origin_topic})),
    )


def replay_destination(settings: Settings, origins: Sequence[str], code: bool = False) -> str:
    """Where a replay of the DLQ of `settings` (narrowed to it) sends its records, in words:
    its pending topic, or each record's original topic (`origins`, listed when few). `code`:
    topic names in Markdown code spans."""

    def name(topic: str) -> str:
        return f"`{topic}`" if code else topic

    dlq = settings.dlq_by_topic(settings.dlq_topic)
    if dlq is None or not dlq.replays_to_origin:
        return f"to {name(settings.pending_topic)}"
    if not origins:
        return "to each record's original topic"
    listed = ", ".join(map(name, origins)) if len(origins) <= 3 else f"{len(origins)} topics"
    return f"to each record's original topic ({listed})"


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

"""The runbook's escalation criteria ("Escalate to L3 Engineering if"), checked against the
snapshot, each with the evidence behind the answer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from dashboard.adapters.db import Connection, transaction
from dashboard.settings import Settings
from dashboard.triage import alerts, runbook
from dashboard.triage.filters import IN_BACKLOG, RecordFilter
from dashboard.triage.overview import arrivals, backlog_and_arrivals, floor_to
from dashboard.triage.patterns import Burst, bursts, signatures_by_domain, unmatched_signatures

# How far back an incident's start is looked for (alerts evaluated, bursts searched).
INCIDENT_LOOKBACK: Final = timedelta(hours=24)


@dataclass(frozen=True)
class Criterion:
    key: str
    title: str  # the runbook's wording (runbook.toml, [escalation])
    met: bool | None  # None: the data cannot tell; check by hand
    summary: str
    evidence: list[dict[str, Any]] = field(default_factory=list)
    # Messages-page filters that show the records behind the evidence, one per row.
    evidence_filters: list[dict[str, str]] = field(default_factory=list)


def check(con: Connection, settings: Settings, now: datetime) -> list[Criterion]:
    """Every criterion, in the runbook's order."""
    return [criterion(con, settings, now) for criterion in CRITERIA]


def _growth(con: Connection, settings: Settings, now: datetime) -> Criterion:
    limit = settings.escalation.growth_above_per_min
    window = timedelta(minutes=60)
    minutes = arrivals(con, settings.dlq_topic, now - window, now, 1)
    over = [b for b in minutes if b.count > limit]
    peak = max(minutes, key=lambda b: b.count, default=None)
    summary = (
        f"peak {peak.count:,} records/min at {peak.start:%H:%M} UTC in the last hour"
        if peak and peak.count
        else "no records in the last hour"
    )
    return Criterion(
        "growth",
        runbook.RUNBOOK.escalation.growth.format(limit=f"{limit:g}"),
        bool(over),
        summary,
        [{"minute (UTC)": b.start, "records": b.count} for b in over],
        [
            {
                "time_from": b.start.isoformat(),
                "time_to": (b.start + timedelta(minutes=1)).isoformat(),
            }
            for b in over
        ],
    )


def _same_error(con: Connection, settings: Settings, _now: datetime) -> Criterion:
    limit = settings.escalation.same_error_above
    # Counted per (signature, domain) pair on its kept hash, then per signature here: a
    # signature's domains are its pairs' (a domain is never empty: NULL or a host), with no
    # count(DISTINCT) over every record of the backlog.
    per_signature: dict[str, tuple[int, set[str]]] = {}
    for signature, domain, n in signatures_by_domain(con, settings.dlq_topic, IN_BACKLOG):
        total, domains = per_signature.get(signature, (0, set()))
        if domain is not None:
            domains.add(domain)
        per_signature[signature] = (total + n, domains)
    rows = sorted(
        ((s, n, len(domains)) for s, (n, domains) in per_signature.items() if n > limit),
        key=lambda row: (-row[1], row[0]),
    )
    return Criterion(
        "same_error",
        runbook.RUNBOOK.escalation.same_error.format(limit=f"{limit:,}"),
        bool(rows),
        f"{len(rows)} error signature{'s' if len(rows) != 1 else ''} over {limit:,} "
        "records in the backlog"
        if rows
        else f"no error signature over {limit:,} records in the backlog",
        [{"error signature": s, "in the backlog": n, "domains": d} for s, n, d in rows],
        [{"signature": s} for s, _, _ in rows],
    )


def _unknown(con: Connection, settings: Settings, _now: datetime) -> Criterion:
    known = list(settings.escalation.known_categories)
    where, params = IN_BACKLOG.where(settings.dlq_topic)
    categories = con.execute(
        f"""
        SELECT error_category, count(*) FROM records r
        WHERE {where} AND (error_category IS NULL OR error_category NOT IN (SELECT unnest($known)))
        GROUP BY error_category ORDER BY 2 DESC
        """,
        {**params, "known": known},
    ).fetchall()
    # Counted as the Patterns page says it (patterns.unmatched_signatures).
    patternless = unmatched_signatures(con, settings.dlq_topic, IN_BACKLOG)
    evidence = [
        {"what": "error category", "value": c if c is not None else "(none)", "records": n}
        for c, n in categories
    ] + [{"what": "error pattern", "value": s, "records": n} for s, n in patternless]
    filters = [{"category": c if c is not None else "(none)"} for c, _ in categories] + [
        {"signature": s} for s, _ in patternless
    ]
    parts = []
    if categories:
        parts.append(
            f"{len(categories)} categor{'ies' if len(categories) != 1 else 'y'} "
            f"outside {', '.join(known)}"
        )
    if patternless:
        parts.append(
            f"{len(patternless)} error signature{'s' if len(patternless) != 1 else ''}"
            " matching none of the runbook's patterns"
        )
    return Criterion(
        "unknown",
        runbook.RUNBOOK.escalation.unknown,
        bool(evidence),
        "; ".join(parts) if parts else "every record has a known category and pattern",
        evidence,
        filters,
    )


def _replay_failures(con: Connection, settings: Settings, _now: datetime) -> Criterion:
    """A trace id that lands in the DLQ more than once was replayed and failed again."""
    # The records sharing a trace id with another are kept flagged where they are ingested
    # (dashboard.adapters.trace_landings). They are grouped on the kept hash (fixed width),
    # and the listed ones again on their trace id's text, so a hash two trace ids share (a
    # 64-bit collision) lists neither; the total counts such a hash as one trace id (odds of
    # about n^2 / 2^65 for n trace ids).
    # The listed hashes' records are taken again by rowid (one transaction keeps them valid),
    # not by their hashes, which would read the text of every flagged record.
    with transaction(con):
        latest = con.execute(
            """
            SELECT count(*) OVER () AS trace_ids, list(rowid) FROM records
            WHERE topic = $topic AND trace_repeated
            GROUP BY trace_hash HAVING count(*) > 1
            ORDER BY max(kafka_timestamp) DESC LIMIT 500
            """,
            {"topic": settings.dlq_topic},
        ).fetchall()
        named = con.execute(
            """
            SELECT trace_id, count(*) AS landings, min(kafka_timestamp), max(kafka_timestamp)
            FROM records WHERE rowid IN (SELECT unnest($rowids))
            GROUP BY trace_id HAVING count(*) > 1
            ORDER BY max(kafka_timestamp) DESC, trace_id
            """,
            {"rowids": [rowid for _, rowids in latest for rowid in rowids]},
        ).fetchall()
    count = int(latest[0][0]) if named else 0
    return Criterion(
        "replay_failures",
        runbook.RUNBOOK.escalation.replay_failures,
        count > 0,
        f"{count:,} trace id{'s' if count != 1 else ''} landed in the DLQ again"
        if count
        else "no trace id landed in the DLQ twice",
        [{"trace id": t, "landings": n, "first": a, "last": b} for t, n, a, b in named],
        [{"trace": t} for t, *_ in named],
    )


def _business_critical(_con: Connection, _settings: Settings, _now: datetime) -> Criterion:
    return Criterion(
        "business_critical",
        runbook.RUNBOOK.escalation.business_critical,
        None,
        runbook.RUNBOOK.escalation.business_critical_summary,
    )


# The runbook's "Escalate to L3 Engineering if" list, in its order; each is one query.
CRITERIA: Final[tuple[Callable[[Connection, Settings, datetime], Criterion], ...]] = (
    _growth,
    _same_error,
    _unknown,
    _replay_failures,
    _business_critical,
)


# -- the incident window --------------------------------------------------------------------


@dataclass(frozen=True)
class IncidentWindow:
    start: datetime
    end: datetime
    why: str  # what the start is: an alert, a burst's first record, or the operator's choice


def alert_states(con: Connection, settings: Settings, now: datetime) -> list[alerts.AlertStatus]:
    """The alerts over the last day. One still holding at the day's start is evaluated again
    from the first record, so its "since" is exact, or `since_before_window` says plainly it
    began before the data starts."""
    topic = settings.dlq_topic
    day = now - INCIDENT_LOOKBACK
    first = con.execute("SELECT min(kafka_timestamp) FROM records WHERE topic = ?", [topic])
    found = first.fetchone()
    earliest = found[0] if found is not None and found[0] is not None else None
    # One query each over the widest span either evaluation needs, sliced per evaluation:
    # minute buckets sit on the same edges whatever the span's start, and each backlog point
    # counts every move before it, so a slice equals the query over the slice.
    start = min(day, earliest) if earliest is not None else day
    backlog, per_minute = backlog_and_arrivals(con, topic, start, now, 1)

    def evaluate(since: datetime) -> list[alerts.AlertStatus]:
        edge = floor_to(since, 1)
        return alerts.evaluate_all(
            settings.alerts,
            [b for b in per_minute if b.start >= edge],
            [p for p in backlog if p.at > edge],
            settings.rules.rate_window_minutes,
        )

    statuses = evaluate(day)
    if any(s.since_before_window for s in statuses) and earliest is not None and earliest < day:
        statuses = evaluate(earliest)
    return statuses


def recent_bursts(
    con: Connection, settings: Settings, start: datetime, end: datetime
) -> list[Burst]:
    """Systematic bursts among every record (replayed or resolved since, too) in [start, end)."""
    rules = settings.rules
    return bursts(
        con,
        settings.dlq_topic,
        RecordFilter(since=start, until=end),
        rules.systematic_min_records,
        rules.systematic_window_minutes,
    )


def incident_window(
    con: Connection,
    settings: Settings,
    now: datetime,
    statuses: list[alerts.AlertStatus] | None = None,
) -> IncidentWindow:
    """From the first pending (or firing) growth alert or the first record of the most recent
    systematic burst, whichever is earlier, until `now`. A size alert alone starts it only
    when there is neither: a backlog that has been over its line for days is the DLQ's
    steady state, not the start of this incident. With no alert or burst at all, from the
    oldest record in the backlog (what is still to be dealt with); with none, the last day."""
    starts: list[tuple[datetime, str]] = []
    size_starts: list[tuple[datetime, str]] = []
    for status in statuses if statuses is not None else alert_states(con, settings, now):
        if status.active_since is not None:
            held = (status.active_since, f"{status.rule.name} held (now {status.state})")
            (size_starts if status.rule.kind == "size" else starts).append(held)
    found = recent_bursts(con, settings, now - INCIDENT_LOOKBACK, now)
    if found:
        latest = max(found, key=lambda b: b.last_seen)
        where = f" from {latest.domain}" if latest.domain else ""
        starts.append((latest.first_seen, f"first record of the burst of {latest.label}{where}"))
    if starts or size_starts:
        start, why = min(starts or size_starts)
        return IncidentWindow(start, now, why)
    where, params = IN_BACKLOG.where(settings.dlq_topic)
    oldest = con.execute(
        f"SELECT min(kafka_timestamp) FROM records r WHERE {where}", params
    ).fetchone()
    if oldest is not None and oldest[0] is not None and oldest[0] < now:
        return IncidentWindow(oldest[0], now, "no alert or burst: the oldest record in the backlog")
    return IncidentWindow(now - INCIDENT_LOOKBACK, now, "no alert, burst or record in the backlog")


def window_and_bursts(
    con: Connection,
    settings: Settings,
    now: datetime,
    statuses: list[alerts.AlertStatus],
    since: datetime | None = None,
) -> tuple[IncidentWindow, list[Burst]]:
    """The incident window (`since` until `now` when given, else `incident_window`) and the
    systematic bursts in it."""
    window = (
        IncidentWindow(since, now, "chosen")
        if since is not None
        else incident_window(con, settings, now, statuses)
    )
    return window, recent_bursts(con, settings, window.start, window.end)

"""The incident, named where the on-call engineer starts: when a systematic burst is active or
an alert is pending or firing, what is happening (what fails, where, how many records, since
when, the runbook's pattern) and the one selection that acts on exactly those records.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from dashboard.adapters.db import Connection
from dashboard.settings import Settings
from dashboard.triage import alerts, overview, patterns
from dashboard.triage.dimensions import NONE_LABEL
from dashboard.triage.filters import OPEN_RECORDS, RecordFilter
from dashboard.triage.patterns import RUNBOOK_PATTERNS, Burst, RunbookPattern

# How far back the Overview looks for the incident: the alerts' own evaluation span.
LOOKBACK: Final = timedelta(hours=24)


@dataclass(frozen=True)
class Incident:
    burst: Burst | None  # what the one action is scoped to; None: alerts but no burst
    selection: RecordFilter | None  # exactly the burst's records
    active: bool  # the burst still grows: its last record is within the burst window
    alerts: tuple[alerts.AlertStatus, ...]  # pending or firing, firing first
    patterns: tuple[RunbookPattern, ...]  # systematic, and the text pattern it matches
    others: tuple[tuple[Burst, RecordFilter], ...]  # further bursts going on at the same time

    @property
    def headline(self) -> str:
        if self.burst is None:
            return "Alert without a systematic burst: the growth is spread over many errors"
        b = self.burst
        verb = "failing" if self.active else "failed"
        return (
            f"{b.total:,} records from {b.domain or NONE_LABEL} {verb} since "
            f"{b.first_seen:%Y-%m-%d %H:%M} UTC"
        )

    def details(self) -> list[str]:
        """The lines under the headline: what fails, the burst's shape, the alerts, the
        runbook's pattern and its first step, other bursts at the same time."""
        lines = []
        if self.burst is not None:
            b = self.burst
            lines.append(
                f"Error: {b.label}. Peak {b.peak:,} records within the burst window at "
                f"{b.peak_at:%H:%M} UTC; last record at {b.last_seen:%H:%M} UTC."
            )
        for status in self.alerts:
            lines.append(f"Alert {status.rule.name} {status.state} {status.since_text}.")
        for pattern in self.patterns:
            lines.append(
                f"Runbook pattern {pattern.number}, {pattern.title}: {pattern.resolution[0]}"
            )
        for other, _ in self.others:
            lines.append(
                f"Also: {other.total:,} records from {other.domain or NONE_LABEL}: "
                f"{other.label}, since {other.first_seen:%H:%M} UTC."
            )
        return lines


def summarize(
    bursts: Sequence[Burst],
    statuses: Sequence[alerts.AlertStatus],
    scanned: RecordFilter,
    as_of: datetime,
    window_minutes: int,
) -> Incident | None:
    """The incident the bursts (largest first, found in `scanned`) and the alerts describe;
    None when no burst is active and no alert is pending or firing."""
    raised = tuple(
        sorted((s for s in statuses if s.state != "ok"), key=lambda s: s.state != "firing")
    )
    recent = as_of - timedelta(minutes=window_minutes)
    active = [b for b in bursts if b.last_seen >= recent]
    if not active and not raised:
        return None
    candidates = active or list(bursts)
    if not candidates:
        return Incident(None, None, False, raised, (), ())
    burst, *rest = candidates
    found: list[RunbookPattern] = [RUNBOOK_PATTERNS["systematic"]]
    text = patterns.text_pattern(burst.signature)
    if text is not None:
        found.append(RUNBOOK_PATTERNS[text])
    return Incident(
        burst=burst,
        selection=burst.selection(scanned),
        active=bool(active),
        alerts=raised,
        patterns=tuple(found),
        others=tuple((b, b.selection(scanned)) for b in rest[:3]),
    )


def current(con: Connection, settings: Settings, as_of: datetime) -> Incident | None:
    """The incident on the configured topic as of `as_of`: bursts among the open
    records of the last day, and the runbook's alerts evaluated over the same day."""
    topic = settings.dlq_topic
    backlog, per_minute = overview.backlog_and_arrivals(con, topic, as_of - LOOKBACK, as_of, 1)
    return of(settings, as_of, open_bursts(con, settings, as_of), per_minute, backlog)


def _scanned(as_of: datetime) -> RecordFilter:
    return RecordFilter(states=OPEN_RECORDS.states, since=as_of - LOOKBACK)


def open_bursts(con: Connection, settings: Settings, as_of: datetime) -> list[patterns.Burst]:
    """The systematic bursts among the open records of the last day."""
    rules = settings.rules
    return patterns.bursts(
        con,
        settings.dlq_topic,
        _scanned(as_of),
        rules.systematic_min_records,
        rules.systematic_window_minutes,
    )


def of(
    settings: Settings,
    as_of: datetime,
    found: Sequence[Burst],
    per_minute: Sequence[overview.Bucket],
    backlog_per_minute: Sequence[overview.BacklogPoint],
) -> Incident | None:
    """`current` from its parts (`open_bursts`, and arrivals and the backlog per minute over
    the last day), for a page that has them already."""
    rules = settings.rules
    statuses = alerts.evaluate_all(
        settings.alerts, per_minute, backlog_per_minute, rules.rate_window_minutes, LOOKBACK
    )
    return summarize(found, statuses, _scanned(as_of), as_of, rules.systematic_window_minutes)


def grown_note(shown: int, now: int, through: datetime | None = None) -> str | None:
    """What to say when a burst's selection holds `now` records where its button said
    `shown` (a live burst grows between the page's drawing and the click; someone may have
    acted on some meanwhile); None when they are the same. `through`: the selection's end
    (it stops at the burst's last minute as drawn; later arrivals wait for the next look)."""
    if now > shown:
        until = f" through {through:%H:%M} UTC" if through is not None else ""
        return (
            f"{now - shown:,} more record{'s' if now - shown != 1 else ''} of this burst "
            f"arrived after the button said {shown:,}: the {now:,}{until} are previewed here."
        )
    if now < shown:
        return (
            f"{shown - now:,} of the {shown:,} records the button counted are no longer open "
            f"(replayed or resolved since): {now:,} are previewed here."
        )
    return None

"""The runbook's alerts evaluated the way Prometheus evaluates alerting rules.

A rule's expression is evaluated once a minute. While it holds the alert is *pending*; once
it has held continuously for the rule's `for` duration it is *firing*; the first evaluation
where it does not hold resets it to *ok*.

Rate rules use the per-minute rate over the trailing `rate_window_minutes` (Prometheus'
`rate(...[5m]) * 60`), so they follow the runbook's per-minute thresholds; size rules use
the backlog (records in Kafka and not resolved, dashboard.triage.states), what the pipeline's
DLQ size metric counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from dashboard.settings import AlertRule
from dashboard.triage.overview import BacklogPoint, Bucket
from dashboard.triage.states import BACKLOG

AlertState = Literal["ok", "pending", "firing"]
EVALUATION_STEP = timedelta(minutes=1)


@dataclass(frozen=True)
class Sample:
    at: datetime
    value: float


@dataclass(frozen=True)
class AlertStatus:
    rule: AlertRule
    state: AlertState
    value: float | None  # the expression's latest value
    active_since: datetime | None  # first evaluation of the current run where it held
    firing_since: datetime | None
    since_before_window: bool  # it already held at the first evaluation we could make
    # How far back the evaluations went, when less than all the data: an alert held at the
    # first of them has held that long at least, not since the data starts.
    lookback: timedelta | None = None

    @property
    def condition(self) -> str:
        unit = "records/min" if self.rule.kind == "rate_per_min" else f"records in the {BACKLOG}"
        return f"> {self.rule.threshold:g} {unit} for {self.rule.for_minutes:g} min"

    @property
    def since_text(self) -> str:
        """When the current state began ("since ... UTC"), or that it began before the data
        starts, or before the span looked at (held all of it); empty while the alert is ok."""
        moment = self.firing_since if self.state == "firing" else self.active_since
        if moment is None:
            return ""
        if self.since_before_window:
            held = self.active_since or moment
            if self.lookback is not None:  # held at the first of the evaluations
                return f"for over {_span(self.lookback)} (since before {held:%Y-%m-%d %H:%M} UTC)"
            return f"since before {held:%Y-%m-%d %H:%M} UTC, when the data starts"
        return f"since {moment:%Y-%m-%d %H:%M} UTC"

    @property
    def value_text(self) -> str:
        """The expression's latest value: a rate to a tenth, a count whole."""
        if self.value is None:
            return "-"
        if self.rule.kind == "rate_per_min":
            return f"{self.value:,.1f}/min"
        return f"{self.value:,.0f}"


def _span(length: timedelta) -> str:
    hours = length / timedelta(hours=1)
    return f"{hours:g} hours" if hours < 48 else f"{hours / 24:g} days"


def evaluate(
    rule: AlertRule, samples: Sequence[Sample], lookback: timedelta | None = None
) -> AlertStatus:
    """The alert's state after the last sample (samples ascending, one per evaluation).
    `lookback`: the samples cover only that much of the data (None: from its start)."""
    hold = timedelta(minutes=rule.for_minutes)
    active_since: datetime | None = None
    firing_since: datetime | None = None
    for sample in samples:
        if sample.value > rule.threshold:
            if active_since is None:
                active_since = sample.at
            if firing_since is None and sample.at - active_since >= hold:
                firing_since = sample.at
        else:
            active_since = firing_since = None
    state: AlertState = "ok"
    if firing_since is not None:
        state = "firing"
    elif active_since is not None:
        state = "pending"
    return AlertStatus(
        rule=rule,
        state=state,
        value=samples[-1].value if samples else None,
        active_since=active_since,
        firing_since=firing_since,
        since_before_window=bool(samples) and active_since == samples[0].at,
        lookback=lookback,
    )


def rate_samples(per_minute: Sequence[Bucket], window_minutes: int) -> list[Sample]:
    """Per-minute rate over the trailing window, evaluated at the end of each minute.
    `per_minute` must be consecutive one-minute buckets; the first full window starts the
    series, so no evaluation sees a window with missing data."""
    counts = [b.count for b in per_minute]
    samples: list[Sample] = []
    running = sum(counts[: window_minutes - 1])
    for i in range(window_minutes - 1, len(counts)):
        running += counts[i]
        samples.append(Sample(per_minute[i].start + EVALUATION_STEP, running / window_minutes))
        running -= counts[i - window_minutes + 1]
    return samples


def size_samples(backlog: Sequence[BacklogPoint]) -> list[Sample]:
    return [Sample(p.at, float(p.backlog)) for p in backlog]


def evaluate_all(
    rules: Sequence[AlertRule],
    per_minute: Sequence[Bucket],
    backlog_per_minute: Sequence[BacklogPoint],
    window_minutes: int,
    lookback: timedelta | None = None,
) -> list[AlertStatus]:
    """Each rule's state. `lookback`: the buckets and points cover only that much before now
    (a page's last day), so an alert held at their start is said to have held all of it."""
    rates = rate_samples(per_minute, window_minutes)
    sizes = size_samples(backlog_per_minute)
    return [
        evaluate(rule, rates if rule.kind == "rate_per_min" else sizes, lookback) for rule in rules
    ]

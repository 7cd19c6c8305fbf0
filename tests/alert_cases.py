"""The runbook's three alerts at their edges, as series both evaluators read: the dashboard's
(dashboard.triage.alerts, from per-minute arrivals or backlog sizes) and Prometheus' (the
rules file through `promtool test rules`, from the counter and gauge the exporter serves).
Each case crosses a threshold just below, at or just above it, for less or more than `for`."""

from __future__ import annotations

from dataclasses import dataclass

from dashboard.triage.alerts import AlertState


@dataclass(frozen=True)
class AlertCase:
    id: str
    alert: str
    # rate alerts: records arriving in each minute; the size alert: the backlog each minute
    per_minute: tuple[int, ...]
    at_minute: int  # when the alert's state is checked
    expected: AlertState


def repeat(pattern: tuple[int, ...], minutes: int) -> tuple[int, ...]:
    return (pattern * (minutes // len(pattern) + 1))[:minutes]


RAPID, WARNING, SIZE = "KafkaDLQGrowthRapid", "KafkaDLQGrowthWarning", "KafkaDLQSizeHigh"

CASES = (
    # > 10/min over the trailing 5 min, for 5 min; the first full window ends at minute 5
    AlertCase("rapid-9.8-per-min", RAPID, repeat((10, 10, 10, 10, 9), 20), 20, "ok"),
    AlertCase("rapid-at-10-per-min", RAPID, repeat((10,), 20), 20, "ok"),
    AlertCase("rapid-10.2-4-min", RAPID, repeat((10, 10, 10, 10, 11), 20), 9, "pending"),
    AlertCase("rapid-10.2-5-min", RAPID, repeat((10, 10, 10, 10, 11), 20), 10, "firing"),
    AlertCase("rapid-10.2-12-min", RAPID, repeat((10, 10, 10, 10, 11), 20), 17, "firing"),
    AlertCase("rapid-11-then-quiet", RAPID, (11,) * 8 + (0,) * 10, 8, "pending"),
    AlertCase("rapid-11-then-quiet-resets", RAPID, (11,) * 8 + (0,) * 10, 9, "ok"),
    # > 5/min over the trailing 5 min, for 10 min
    AlertCase("warning-4.8-per-min", WARNING, repeat((5, 5, 5, 5, 4), 30), 30, "ok"),
    AlertCase("warning-at-5-per-min", WARNING, repeat((5,), 30), 30, "ok"),
    AlertCase("warning-5.2-9-min", WARNING, repeat((5, 5, 5, 5, 6), 30), 14, "pending"),
    AlertCase("warning-5.2-10-min", WARNING, repeat((5, 5, 5, 5, 6), 30), 15, "firing"),
    AlertCase("warning-6-then-quiet", WARNING, (6,) * 12 + (0,) * 10, 12, "pending"),
    AlertCase("warning-6-then-quiet-resets", WARNING, (6,) * 12 + (0,) * 10, 13, "ok"),
    # a backlog > 1,000 for 30 min
    AlertCase("size-999", SIZE, (999,) * 41, 40, "ok"),
    AlertCase("size-at-1000", SIZE, (1000,) * 41, 40, "ok"),
    AlertCase("size-1001-29-min", SIZE, (1001,) * 41, 29, "pending"),
    AlertCase("size-1001-30-min", SIZE, (1001,) * 41, 30, "firing"),
    AlertCase("size-1001-then-900", SIZE, (1001,) * 20 + (900,) * 20, 19, "pending"),
    AlertCase("size-1001-then-900-resets", SIZE, (1001,) * 20 + (900,) * 20, 20, "ok"),
)

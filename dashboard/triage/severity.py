"""The runbook's severity classification, as rules over rates and sizes.

Runbook, "Severity Classification":

| DLQ Rate/Size          | Severity | Action Required            | Expected Response Time |
| < 5 messages/10min     | Normal   | Monitor                    | Daily review           |
| 5-10 messages/10min    | Warning  | Investigate within 4 hours | Same day               |
| > 10 messages/min      | Critical | Immediate investigation    | < 1 hour               |
| > 1,000 total messages | Warning  | Manual review required     | < 4 hours              |

The table leaves a gap between 10 per 10 minutes and 10 per minute; a rate there is above the
Warning band and not yet Critical, so it is classified Warning (the page says so).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from dashboard.settings import SeverityBands


class Level(IntEnum):
    NORMAL = 0
    WARNING = 1
    CRITICAL = 2

    @property
    def label(self) -> str:
        return self.name.capitalize()


@dataclass(frozen=True)
class Severity:
    level: Level
    reason: str  # which row of the runbook's table applies, with the measured value
    action: str
    response_time: str


_ACTIONS = {
    "rate_normal": ("Monitor", "Daily review"),
    "rate_warning": ("Investigate within 4 hours", "Same day"),
    "rate_critical": ("Immediate investigation", "< 1 hour"),
    "size_warning": ("Manual review required", "< 4 hours"),
}


def classify_rate(
    per_10min: float, per_min: float, bands: SeverityBands, window_minutes: int
) -> Severity:
    """Severity of the DLQ's growth: `per_10min` records in the last 10 minutes and
    `per_min` the per-minute rate over the last `window_minutes`, the window the Critical
    rule looks at. Each figure is quoted with its window: after a burst, the 10 minutes can
    hold far more than 10 a minute while the rule's shorter window has calmed down."""
    rate = f"{per_min:,.1f} records/min over the last {window_minutes:g} min"
    if per_min > bands.critical_above_per_min:
        return Severity(
            Level.CRITICAL,
            f"{rate} > {bands.critical_above_per_min:g}/min",
            *_ACTIONS["rate_critical"],
        )
    if per_10min >= bands.warning_from_per_10min:
        if per_10min > bands.warning_to_per_10min:
            reason = (
                f"{_records(per_10min)} in the last 10 min: above the Warning band "
                f"({bands.warning_from_per_10min:g}-{bands.warning_to_per_10min:g}/10 min); "
                f"{rate}, not above {bands.critical_above_per_min:g}/min"
            )
        else:
            reason = (
                f"{_records(per_10min)} in the last 10 min, in "
                f"{bands.warning_from_per_10min:g}-{bands.warning_to_per_10min:g}/10 min"
            )
        return Severity(Level.WARNING, reason, *_ACTIONS["rate_warning"])
    return Severity(
        Level.NORMAL,
        f"{_records(per_10min)} in the last 10 min < {bands.warning_from_per_10min:g}/10 min",
        *_ACTIONS["rate_normal"],
    )


def _records(count: float) -> str:
    return f"{count:,.0f} record{'' if round(count) == 1 else 's'}"


def classify_size(backlog: int, bands: SeverityBands) -> Severity:
    """The size band of the backlog (records in Kafka and not resolved)."""
    if backlog > bands.size_review_above:
        return Severity(
            Level.WARNING,
            f"{backlog:,} records in the backlog > {bands.size_review_above:,}",
            *_ACTIONS["size_warning"],
        )
    return Severity(
        Level.NORMAL,
        f"{backlog:,} records in the backlog <= {bands.size_review_above:,}",
        *_ACTIONS["rate_normal"],
    )


# The table's response times, soonest first.
_RESPONSE_ORDER = ("< 1 hour", "< 4 hours", "Same day", "Daily review")


def overall(*severities: Severity) -> Severity:
    """The most severe; on a tie, the one to answer soonest (a backlog over the size limit
    asks for a review within 4 hours, a Warning rate only the same day), else the first
    given (rate before size)."""
    return max(severities, key=lambda s: (s.level, -_RESPONSE_ORDER.index(s.response_time)))


@dataclass(frozen=True)
class Band:
    """A shaded band behind a growth chart, in the chart's unit."""

    label: str
    low: float
    high: float | None  # None: open-ended
    level: Level


def rate_bands(bands: SeverityBands, minutes_per_bucket: int) -> list[Band]:
    """The severity bands expressed as records per bucket of `minutes_per_bucket` minutes."""
    per_bucket_from_10min = minutes_per_bucket / 10
    warning_low = bands.warning_from_per_10min * per_bucket_from_10min
    critical_low = bands.critical_above_per_min * minutes_per_bucket
    return [
        Band("Normal", 0.0, warning_low, Level.NORMAL),
        Band("Warning", warning_low, critical_low, Level.WARNING),
        Band("Critical", critical_low, None, Level.CRITICAL),
    ]

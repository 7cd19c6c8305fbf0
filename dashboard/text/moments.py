"""Points in time as people type them: ISO dates and times, or a time ago (`2h`, `7d`).

One reading for the CLI's time options and the pages' URL parameters alike. A time without
an offset is UTC (the snapshot's clock). As an upper bound ("until"), a date alone means the
end of that day: `--until 2026-11-29` covers the 29th, and the bound itself is exclusive.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Final

EXAMPLES: Final = "2026-11-29, 2026-11-29T10:45, 2026-11-29T10:45:00+01:00, 30m, 2h, 7d"
# Any number of digits: a time ago too far back is said to be so, not "not a time".
_AGO: Final = re.compile(r"^(\d+)\s*(s|sec|m|min|h|d|w)(?:\s+ago)?$", re.IGNORECASE)
_UNIT_SECONDS: Final = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


class NotAMoment(ValueError):
    """The text reads as no point in time; the message says what would."""


def parse_moment(text: str, now: datetime, *, as_upper_bound: bool = False) -> datetime:
    """`text` as an aware UTC datetime; `now` anchors the relative forms, to the whole second
    (a filter's description and its link then read `...T13:50:12+00:00`, not the
    microseconds of the moment a page ran, and still select exactly what they say): down,
    or up for an upper bound, so that "until now" leaves out nothing that has arrived."""
    cleaned = text.strip()
    anchor = now.astimezone(UTC)
    if anchor.microsecond:
        anchor = anchor.replace(microsecond=0) + timedelta(seconds=int(as_upper_bound))
    if cleaned.lower() == "now":
        return anchor
    ago = _AGO.match(cleaned)
    try:
        if ago:
            seconds = int(ago.group(1)) * _UNIT_SECONDS[ago.group(2).lower()]
            return anchor - timedelta(seconds=seconds)
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", cleaned):
            day = date.fromisoformat(cleaned)
            start = datetime.combine(day, time(), tzinfo=UTC)
            return start + timedelta(days=1) if as_upper_bound else start
        moment = datetime.fromisoformat(cleaned)
    except OverflowError:
        raise NotAMoment(f"{cleaned!r} is further back than a date can go") from None
    except ValueError:
        raise NotAMoment(
            f"{cleaned!r} is not a time: give an ISO date or time, or a time ago ({EXAMPLES})"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_day(text: str) -> date:
    """`text` as a day (YYYY-MM-DD); NotAMoment, saying what would be read, otherwise."""
    cleaned = text.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", cleaned):
        try:
            return date.fromisoformat(cleaned)
        except ValueError:
            pass
    raise NotAMoment(f"{cleaned[:40]!r} is not a day: give one as YYYY-MM-DD, such as 2026-11-29")


def argparse_day(text: str) -> str:
    """An argparse `type` for a day option: the day as YYYY-MM-DD, or a usage error."""
    try:
        return parse_day(text).isoformat()
    except NotAMoment as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def argparse_moment(*, as_upper_bound: bool = False) -> Callable[[str], datetime]:
    """An argparse `type` for a time option: what `parse_moment` reads, relative to the moment
    the command runs; anything else is a usage error that says what would be read."""

    def parse(text: str) -> datetime:
        try:
            return parse_moment(text, datetime.now(UTC), as_upper_bound=as_upper_bound)
        except NotAMoment as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


def since_text(value: datetime | None) -> str:
    """A lower bound as people give it: its day alone when it is a day's first instant."""
    if value is None:
        return ""
    return value.astimezone(UTC).date().isoformat() if _whole_day(value) else value.isoformat()


def until_text(value: datetime | None) -> str:
    """An (exclusive) upper bound as people give it: a day's first instant is the day before,
    which `--until` with a date covers whole."""
    if value is None or not _whole_day(value):
        return since_text(value)
    return (value.astimezone(UTC) - timedelta(days=1)).date().isoformat()


def _whole_day(moment: datetime) -> bool:
    return moment.astimezone(UTC).time() == time.min


def shown_end(end: datetime) -> datetime:
    """An exclusive end (a page's "now", a report's end) as printed: the last moment it takes
    in. Pages count up to the next whole minute, so the current minute's arrivals are in and
    the figures are cached for a minute; printed as that minute, they would be dated a time
    that has not come yet (in a screenshot or an escalation pack, say)."""
    return end - timedelta(microseconds=1)


def reversed_window(since: datetime | None, until: datetime | None) -> str | None:
    """Why the window from `since` (inclusive) to `until` (exclusive) holds no moment, when
    it holds none, with its bounds as people give them; None when it holds some, or is open
    on either side."""
    if since is None or until is None or since < until:
        return None
    # Whole days: `until` names the day before the instant it holds (the day it covers).
    before = since > until or (_whole_day(since) and _whole_day(until))
    return (
        f"The time window ends {'before' if before else 'where'} it starts "
        f"(from {since_text(since)} until {until_text(until)})"
    )


def short_age(age: timedelta) -> str:
    """How long something has waited, in its two largest units: "45 min", "3 h 12 min",
    "2 d 4 h"."""
    minutes = max(0, int(age.total_seconds() // 60))
    days, hours, mins = minutes // 1440, minutes // 60 % 24, minutes % 60
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {mins} min" if mins else f"{hours} h"
    return f"{mins} min"

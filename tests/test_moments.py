"""Time options read as their help shows them, and say in words what they did not read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from dashboard.text.moments import NotAMoment, parse_moment

NOW = datetime(2026, 11, 29, 10, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2h", NOW - timedelta(hours=2)),
        ("7d", NOW - timedelta(days=7)),
        ("30m", NOW - timedelta(minutes=30)),
        ("45 min ago", NOW - timedelta(minutes=45)),
        ("1w", NOW - timedelta(weeks=1)),
        ("now", NOW),
        ("2026-11-28", datetime(2026, 11, 28, tzinfo=UTC)),
        ("2026-11-28T10:45", datetime(2026, 11, 28, 10, 45, tzinfo=UTC)),
        ("2026-11-28 10:45:00Z", datetime(2026, 11, 28, 10, 45, tzinfo=UTC)),
        ("2026-11-28T11:45:00+01:00", datetime(2026, 11, 28, 10, 45, tzinfo=UTC)),
    ],
)
def test_what_the_help_shows_is_read(text: str, expected: datetime) -> None:
    moment = parse_moment(text, NOW)
    assert moment == expected and moment.tzinfo is not None


def test_a_date_as_upper_bound_covers_that_whole_day() -> None:
    assert parse_moment("2026-11-28", NOW, as_upper_bound=True) == datetime(
        2026, 11, 29, tzinfo=UTC
    )
    # A time is taken as it is, upper bound or not.
    assert parse_moment("2026-11-28T10:00", NOW, as_upper_bound=True).hour == 10


def test_offsets_are_kept_as_the_same_instant() -> None:
    east = timezone(timedelta(hours=5))
    assert parse_moment(NOW.astimezone(east).isoformat(), NOW) == NOW


@pytest.mark.parametrize("text", ["yesterday", "2h30", "2026-13-01", "", "-5d", "1e309"])
def test_anything_else_is_refused_in_words(text: str) -> None:
    with pytest.raises(NotAMoment, match="is not a time: give an ISO date or time"):
        parse_moment(text, NOW)


def test_a_time_ago_beyond_the_calendar_is_refused_in_words() -> None:
    with pytest.raises(NotAMoment, match="further back than a date can go"):
        parse_moment("999999999w", NOW)


def test_a_time_ago_is_to_the_whole_second_and_an_upper_bound_leaves_nothing_out() -> None:
    # The moment a page runs has microseconds; its filter's link and description should not.
    ran = datetime(2026, 11, 29, 10, 30, 12, 345_678, tzinfo=UTC)
    since = parse_moment("10m", ran)
    assert since == datetime(2026, 11, 29, 10, 20, 12, tzinfo=UTC)
    assert since.isoformat() == "2026-11-29T10:20:12+00:00"
    # "until now" is exclusive: rounded up, it still takes what arrived at 10:30:12.3.
    until = parse_moment("now", ran, as_upper_bound=True)
    assert until == datetime(2026, 11, 29, 10, 30, 13, tzinfo=UTC)
    assert parse_moment("now", NOW, as_upper_bound=True) == NOW  # already whole


def test_a_time_ago_too_far_back_says_so_whatever_its_digits() -> None:
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    for text in ("9999999d", "99999999999d", "1" + "0" * 30 + "s"):
        with pytest.raises(NotAMoment, match="further back than a date can go"):
            parse_moment(text, now)

"""The runbook's severity bands and the three alerts' "for" windows, at their edges."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from dashboard.settings import DEFAULT_ALERTS, AlertRule, SeverityBands
from dashboard.triage.alerts import Sample, evaluate, evaluate_all, rate_samples
from dashboard.triage.overview import BacklogPoint, Bucket
from dashboard.triage.severity import Level, classify_rate, classify_size, overall, rate_bands
from dashboard.triage.states import StateCounts

BANDS = SeverityBands()
T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("per_10min", "per_min", "level"),
    [
        (0, 0, Level.NORMAL),
        (4.99, 0.5, Level.NORMAL),  # < 5 per 10 min
        (5, 0.5, Level.WARNING),  # 5-10 per 10 min
        (10, 1, Level.WARNING),
        (11, 1.1, Level.WARNING),  # the runbook's gap: above Warning, not Critical
        (99, 10, Level.WARNING),  # exactly 10/min is not "> 10/min"
        (101, 10.1, Level.CRITICAL),
        (0, 10.1, Level.CRITICAL),  # a burst inside the window
    ],
)
def test_rate_bands_edges(per_10min: float, per_min: float, level: Level) -> None:
    assert classify_rate(per_10min, per_min, BANDS, 5).level == level


def test_each_severity_carries_the_runbooks_action_and_response_time() -> None:
    assert (classify_rate(0, 0, BANDS, 5).action, classify_rate(0, 0, BANDS, 5).response_time) == (
        "Monitor",
        "Daily review",
    )
    warning = classify_rate(6, 0.6, BANDS, 5)
    assert (warning.action, warning.response_time) == ("Investigate within 4 hours", "Same day")
    critical = classify_rate(200, 20, BANDS, 5)
    assert (critical.action, critical.response_time) == ("Immediate investigation", "< 1 hour")
    size = classify_size(1001, BANDS)
    assert (size.level, size.action, size.response_time) == (
        Level.WARNING,
        "Manual review required",
        "< 4 hours",
    )
    assert "above the Warning band" in classify_rate(50, 5, BANDS, 5).reason
    # After a burst: the 10 minutes hold 243, the rule's 5 minutes 2.6 a minute. Each figure
    # is said with its window, so "not above 10/min" does not contradict "243".
    calmed = classify_rate(243, 2.6, BANDS, 5)
    assert calmed.level == Level.WARNING
    assert calmed.reason == (
        "243 records in the last 10 min: above the Warning band (5-10/10 min); "
        "2.6 records/min over the last 5 min, not above 10/min"
    )


def test_size_band_edge_and_overall() -> None:
    assert classify_size(1000, BANDS).level == Level.NORMAL
    assert classify_size(1001, BANDS).level == Level.WARNING
    rate, size = classify_rate(0, 0, BANDS, 5), classify_size(5000, BANDS)
    assert overall(rate, size) is size
    critical = classify_rate(500, 50, BANDS, 5)
    assert overall(critical, size) is critical
    # Both Warning: the row to answer sooner (review within 4 hours, not "same day"), in
    # either order.
    warning = classify_rate(320, 3, BANDS, 5)
    assert overall(warning, size) is size and overall(size, warning) is size
    assert overall(warning, classify_size(10, BANDS)) is warning


def test_bands_in_chart_units() -> None:
    per_minute = rate_bands(BANDS, 1)
    assert [(b.label, b.low, b.high) for b in per_minute] == [
        ("Normal", 0, 0.5),
        ("Warning", 0.5, 10),
        ("Critical", 10, None),
    ]
    per_10 = rate_bands(BANDS, 10)
    assert [(b.low, b.high) for b in per_10] == [(0, 5), (5, 100), (100, None)]


# -- alerts --------------------------------------------------------------------------------

RAPID = AlertRule(name="KafkaDLQGrowthRapid", kind="rate_per_min", threshold=10, for_minutes=5)


def samples(values: Sequence[float]) -> list[Sample]:
    return [Sample(T0 + timedelta(minutes=i), v) for i, v in enumerate(values)]


def test_an_alert_is_pending_until_its_for_window_has_passed() -> None:
    status = evaluate(RAPID, samples([0, 0, 11, 11, 11, 11, 11]))  # true for 4 min after start
    assert status.state == "pending"
    assert status.active_since == T0 + timedelta(minutes=2)
    assert status.firing_since is None


def test_it_fires_at_the_first_evaluation_a_full_window_after_it_started() -> None:
    status = evaluate(RAPID, samples([0, 0, 11, 11, 11, 11, 11, 11, 12]))
    assert status.state == "firing"
    assert status.active_since == T0 + timedelta(minutes=2)
    assert status.firing_since == T0 + timedelta(minutes=7)  # 2 + 5
    assert status.value == 12
    assert not status.since_before_window


def test_one_evaluation_below_the_threshold_resets_it() -> None:
    status = evaluate(RAPID, samples([11, 11, 11, 11, 10, 11, 11]))  # 10 is not > 10
    assert status.state == "pending"
    assert status.active_since == T0 + timedelta(minutes=5)
    assert evaluate(RAPID, samples([11] * 8 + [3])).state == "ok"


def test_holding_since_the_first_evaluation_is_reported_as_such() -> None:
    status = evaluate(RAPID, samples([20] * 10))
    assert status.state == "firing" and status.since_before_window


def test_rate_samples_use_the_trailing_window() -> None:
    buckets = [Bucket(T0 + timedelta(minutes=i), n) for i, n in enumerate([5, 5, 5, 5, 5, 50])]
    rates = rate_samples(buckets, 5)
    assert [(s.at - T0, s.value) for s in rates] == [
        (timedelta(minutes=5), 5.0),
        (timedelta(minutes=6), 14.0),
    ]


def test_the_three_runbook_alerts_together() -> None:
    # 20 records a minute for the last 8 minutes, a backlog of 1,500 for the last 40 (most of
    # it replayed and waiting: replayed records are still in the DLQ, the size alert counts them).
    counts = [0] * 52 + [20] * 8
    per_minute = [Bucket(T0 + timedelta(minutes=i), n) for i, n in enumerate(counts)]
    sizes = [
        BacklogPoint(
            T0 + timedelta(minutes=i + 1),
            StateCounts(open=500, replayed_waiting=0 if i < 20 else 1000, resolved=9999),
        )
        for i in range(60)
    ]
    by_name = {s.rule.name: s for s in evaluate_all(DEFAULT_ALERTS, per_minute, sizes, 5)}
    assert by_name["KafkaDLQGrowthRapid"].state == "firing"  # > 10/min for 5 min
    assert by_name["KafkaDLQGrowthWarning"].state == "pending"  # > 5/min, not yet 10 min
    assert by_name["KafkaDLQSizeHigh"].state == "firing"  # > 1,000 for 30 min
    assert by_name["KafkaDLQSizeHigh"].firing_since == T0 + timedelta(minutes=51)
    assert by_name["KafkaDLQSizeHigh"].value_text == "1,500"  # the backlog, resolved left out
    assert "records in the backlog" in by_name["KafkaDLQSizeHigh"].condition


def test_one_record_is_said_in_the_singular() -> None:
    # The escalation page's banner reads this at 3 a.m.
    assert classify_rate(1, 0.2, BANDS, 5).reason == "1 record in the last 10 min < 5/10 min"
    assert classify_rate(0, 0, BANDS, 5).reason.startswith("0 records in the last 10 min")

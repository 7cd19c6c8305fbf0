"""The growth chart draws the runbook's bands where they are, and labels them legibly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

from dashboard.exports.charts import (
    ChartSource,
    backlog_figure,
    flow_figure,
    group_figure,
    growth_figure,
    timeline_figure,
)
from dashboard.settings import SeverityBands
from dashboard.triage.overview import BacklogPoint, Bucket, FlowBucket
from dashboard.triage.severity import rate_bands
from dashboard.triage.states import StateCounts

START = datetime(2026, 11, 20, tzinfo=UTC)
# A page's as-of is the next whole minute: the figures take in up to 01:00.
SOURCE = ChartSource("xact.downloads.dlq", START + timedelta(hours=1, minutes=1))


def buckets(counts: list[int]) -> list[Bucket]:
    return [Bucket(START + timedelta(minutes=10 * i), n) for i, n in enumerate(counts)]


def bands_of(figure: object) -> list[tuple[float, float]]:
    return sorted((s.y0, s.y1) for s in figure.layout.shapes)  # type: ignore[attr-defined]


def test_bands_follow_the_runbook_per_10_minutes() -> None:
    bands = rate_bands(SeverityBands(), 10)  # Normal < 5, Warning 5-10 per 10 min, > 100
    quiet = growth_figure(buckets([1, 2, 3]), bands, 10, SOURCE)
    assert bands_of(quiet) == [(0, 5), (5, 12)]  # Critical is off the axis and not drawn
    burst = growth_figure(buckets([1, 2, 250]), bands, 10, SOURCE)
    assert bands_of(burst) == [(0, 5), (5, 100), (100, 287.5)]
    assert burst.layout.yaxis.range == (0, 287.5)


def test_band_labels_never_overlap_and_the_higher_band_keeps_its_label() -> None:
    per_10min = growth_figure(buckets([1, 2, 250]), rate_bands(SeverityBands(), 10), 10, SOURCE)
    assert [a.text.split("<br>")[0] for a in per_10min.layout.annotations] == [
        "Critical",
        "Warning",
        "Normal",
    ]
    # Per minute, Normal (< 0.5) and Warning (0.5-10) are slivers under a peak of 250.
    per_min = growth_figure(buckets([1, 2, 250]), rate_bands(SeverityBands(), 1), 1, SOURCE)
    labels = {a.text.split("<br>")[0]: a.y for a in per_min.layout.annotations}
    assert list(labels) == ["Critical", "Warning"]
    ys = sorted(labels.values())
    assert all(b - a >= 287.5 * 0.08 for a, b in pairwise(ys))
    assert all(a.x == 1 and a.xanchor == "left" for a in per_min.layout.annotations)


def test_every_chart_names_its_topic_as_of_and_time_zone() -> None:
    history = [
        BacklogPoint(START + timedelta(minutes=i), StateCounts(open=10, replayed_waiting=i))
        for i in range(3)
    ]
    flow = [FlowBucket(START + timedelta(minutes=10 * i), 5, i, 1) for i in range(3)]
    figures = {
        "growth": growth_figure(buckets([1, 2]), rate_bands(SeverityBands(), 10), 10, SOURCE),
        "backlog": backlog_figure(history, 1000, SOURCE),
        "flow": flow_figure(flow, 10, SOURCE),
        "groups": group_figure(["permanent"], [3], "Records by error category", SOURCE),
        "hours": timeline_figure(["00", "01"], [1, 2], "Records by hour", SOURCE, "hour (UTC)"),
    }
    for name, figure in figures.items():
        title = figure.layout.title.text
        assert "xact.downloads.dlq · as of 2026-11-20 01:00 UTC" in title, name
        if name != "groups":  # bars per group have no time axis
            assert "(UTC)" in figure.layout.xaxis.title.text, name
    assert figures["growth"].layout.xaxis.title.text == "time (UTC)"


def test_the_backlog_is_stacked_by_state_in_the_states_words() -> None:
    history = [BacklogPoint(START, StateCounts(open=7, replayed_waiting=3, replay_failed=1))]
    figure = backlog_figure(history, 1000, SOURCE)
    assert [(t.name, t.stackgroup, t.y[0]) for t in figure.data] == [
        ("Open", "backlog", 7),
        ("Replayed, waiting", "backlog", 3),
        ("Ready to resolve", "backlog", 0),
        ("Replay failed", "backlog", 1),
    ]
    assert figure.layout.shapes[0].y0 == 1000  # the runbook's size line
    assert [t.name for t in flow_figure([], 10, SOURCE).data] == [
        "entering",
        "replayed",
        "resolved",
    ]

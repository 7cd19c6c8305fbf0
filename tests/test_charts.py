"""The growth chart draws the runbook's bands where they are, and labels them legibly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

from dashboard.exports.charts import ChartSource, growth_figure
from dashboard.settings import SeverityBands
from dashboard.triage.overview import Bucket
from dashboard.triage.severity import rate_bands

START = datetime(2026, 11, 20, tzinfo=UTC)
SOURCE = ChartSource("xact.downloads.dlq", START + timedelta(hours=1))


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

"""Plotly figures: readable in a 1400x900 screenshot, reused by the pages and the exports.

Every figure names its topic and the snapshot's "as of" time under its title, and a time axis
its time zone (UTC), so a PNG pasted into an email or a chat explains itself.

Record content only ever reaches a figure as data (axis values, hover text), never as
layout markup: plotly renders hover text and labels as text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from typing import Any, Final

import plotly.graph_objects as go

from dashboard.text.moments import shown_end
from dashboard.triage.overview import BacklogPoint, Bucket, FlowBucket
from dashboard.triage.severity import Band, Level
from dashboard.triage.states import (
    BACKLOG,
    BACKLOG_STATES,
    OPEN,
    READY_TO_RESOLVE,
    REPLAY_FAILED,
    REPLAYED_WAITING,
    label,
    lower_label,
)

BAND_COLOURS: Final = {
    Level.NORMAL: "rgba(46, 160, 67, 0.10)",
    Level.WARNING: "rgba(219, 154, 4, 0.14)",
    Level.CRITICAL: "rgba(207, 34, 46, 0.12)",
}
BAND_LABEL_COLOURS: Final = {
    Level.NORMAL: "#1a7f37",
    Level.WARNING: "#9a6700",
    Level.CRITICAL: "#cf222e",
}
BAR_COLOUR: Final = "#0969da"
STATE_COLOURS: Final = {
    OPEN: "#0969da",
    REPLAYED_WAITING: "#8250df",
    READY_TO_RESOLVE: "#1a7f37",
    REPLAY_FAILED: "#cf222e",
}
FLOW_COLOURS: Final = {"entering": "#0969da", "replayed": "#8250df", "resolved": "#1a7f37"}
TIME_AXIS: Final = "time (UTC)"
FONT: Final = {"family": "Inter, Segoe UI, Helvetica, Arial, sans-serif", "size": 13}

# The modebar's camera button downloads the chart as a PNG at twice the screen resolution.
PLOTLY_CONFIG: Final[dict[str, Any]] = {
    "displaylogo": False,
    "toImageButtonOptions": {"format": "png", "scale": 2},
    "modeBarButtonsToRemove": ["select2d", "lasso2d"],
}


@dataclass(frozen=True)
class ChartSource:
    """What a chart shows data of: the topic, and the moment the snapshot describes."""

    topic: str
    as_of: datetime

    def subtitle(self) -> str:
        moment = shown_end(self.as_of).astimezone(UTC)
        return f"{self.topic} · as of {moment:%Y-%m-%d %H:%M} UTC"


def _base_layout(title: str, height: int, source: ChartSource) -> dict[str, Any]:
    # The topic comes from settings, not from a record; escaped all the same, as plotly
    # reads a title as markup.
    text = (
        f"{escape(title)}<br><span style='font-size:12px;color:#57606a'>"
        f"{escape(source.subtitle())}</span>"
    )
    return {
        "title": {"text": text, "x": 0, "xanchor": "left", "font": {"size": 16}},
        "height": height,
        "margin": {"l": 60, "r": 20, "t": 64, "b": 40},
        "font": FONT,
        "plot_bgcolor": "white",
        "paper_bgcolor": "white",
        "xaxis": {"showgrid": False, "linecolor": "#d0d7de"},
        "yaxis": {"gridcolor": "#eaeef2", "rangemode": "tozero"},
        "bargap": 0.1,
        "showlegend": False,
    }


def growth_figure(
    buckets: Sequence[Bucket],
    bands: Sequence[Band],
    bucket_minutes: int,
    source: ChartSource,
    height: int = 340,
) -> go.Figure:
    """Records entering the DLQ per bucket, over the severity bands as shaded backgrounds."""
    unit = "minute" if bucket_minutes == 1 else f"{bucket_minutes} minutes"
    fig = go.Figure()
    x = [b.start for b in buckets]
    y = [b.count for b in buckets]
    trace_kind = go.Bar if len(buckets) <= 1500 else go.Scatter
    fig.add_trace(
        trace_kind(
            x=x,
            y=y,
            name=f"records per {unit}",
            marker_color=BAR_COLOUR,
            hovertemplate=f"%{{x|%Y-%m-%d %H:%M}} UTC<br>%{{y:,}} records per {unit}"
            "<extra></extra>",
        )
    )
    peak = max(y, default=0)
    warning_top = next((b.high for b in bands if b.level == Level.WARNING), None) or 1.0
    # Show the Warning band whole; show Critical when the data reaches into it.
    top = max(peak * 1.15, min(warning_top, max(peak, 1.0) * 4), 1.0)
    # Band labels sit in the right margin, beside the bars rather than on them; a band too thin
    # at this scale to hold its label without overlapping the next one keeps only its colour.
    labelled_at: list[float] = []
    for band in sorted(bands, key=lambda b: b.low, reverse=True):
        high = band.high if band.high is not None else top
        if band.low >= top:
            continue
        visible_high = min(high, top)
        fig.add_hrect(
            y0=band.low,
            y1=visible_high,
            fillcolor=BAND_COLOURS[band.level],
            line_width=0,
            layer="below",
        )
        middle = (band.low + visible_high) / 2
        if any(abs(middle - y) < top * 0.08 for y in labelled_at):
            continue
        labelled_at.append(middle)
        fig.add_annotation(
            x=1,
            xref="paper",
            xanchor="left",
            xshift=4,
            y=middle,
            yanchor="middle",
            text=f"{band.label}<br>≥ {band.low:g}" if band.low else band.label,
            showarrow=False,
            align="left",
            font={"size": 11, "color": BAND_LABEL_COLOURS[band.level]},
        )
    layout = _base_layout(f"Records entering the DLQ per {unit}", height, source)
    layout["xaxis"]["title"] = {"text": TIME_AXIS}
    layout["yaxis"]["range"] = [0, top]
    layout["yaxis"]["title"] = {"text": f"records / {unit}"}
    layout["margin"]["r"] = 80  # room for the band labels
    fig.update_layout(**layout)
    return fig


def backlog_figure(
    points: Sequence[BacklogPoint], threshold: float, source: ChartSource, height: int = 340
) -> go.Figure:
    """The backlog over time stacked by state, against the runbook's review line (> 1,000):
    a bulk replay moves records from open to replayed, the resolves after it take them out."""
    fig = go.Figure()
    x = [p.at for p in points]
    for word in BACKLOG_STATES:
        fig.add_trace(
            go.Scatter(
                x=x,
                y=[p.states.of(word) for p in points],
                name=label(word),
                mode="lines",
                stackgroup=BACKLOG,
                line={"color": STATE_COLOURS[word], "width": 1, "shape": "hv"},
                hovertemplate=f"%{{x|%Y-%m-%d %H:%M}} UTC<br>%{{y:,}} {lower_label(word)}"
                "<extra></extra>",
            )
        )
    fig.add_hline(
        y=threshold,
        line={"color": BAND_LABEL_COLOURS[Level.WARNING], "dash": "dash", "width": 2},
        annotation_text=f"> {threshold:,.0f}: manual review (KafkaDLQSizeHigh)",
        annotation_position="top left",
        annotation_font={"color": BAND_LABEL_COLOURS[Level.WARNING], "size": 11},
    )
    layout = _base_layout("Backlog over time, by state", height, source)
    peak = max((p.backlog for p in points), default=0)
    layout["yaxis"]["range"] = [0, max(peak, threshold) * 1.15]
    layout["yaxis"]["title"] = {"text": f"records in the {lower_label(BACKLOG)}"}
    layout["xaxis"]["title"] = {"text": TIME_AXIS}
    _legend_below(layout)
    fig.update_layout(**layout)
    return fig


def flow_figure(
    buckets: Sequence[FlowBucket], bucket_minutes: int, source: ChartSource, height: int = 320
) -> go.Figure:
    """Records entering the DLQ, replayed and resolved per bucket, on one chart."""
    unit = "minute" if bucket_minutes == 1 else f"{bucket_minutes} minutes"
    fig = go.Figure()
    x = [b.start for b in buckets]
    series = {
        "entering": [b.entering for b in buckets],
        "replayed": [b.replayed for b in buckets],
        "resolved": [b.resolved for b in buckets],
    }
    for name, y in series.items():
        fig.add_trace(
            go.Scatter(
                x=x,
                y=y,
                name=name,
                mode="lines",
                line={"color": FLOW_COLOURS[name], "width": 2, "shape": "hv"},
                hovertemplate=f"%{{x|%Y-%m-%d %H:%M}} UTC<br>%{{y:,}} {name} per {unit}"
                "<extra></extra>",
            )
        )
    layout = _base_layout(f"Entering, replayed and resolved per {unit}", height, source)
    layout["yaxis"]["title"] = {"text": f"records / {unit}"}
    layout["xaxis"]["title"] = {"text": TIME_AXIS}
    _legend_below(layout)
    fig.update_layout(**layout)
    return fig


def _legend_below(layout: dict[str, Any]) -> None:
    layout["showlegend"] = True
    layout["legend"] = {"orientation": "h", "x": 0, "y": -0.28, "yanchor": "top"}
    layout["margin"]["b"] = 90


def group_figure(
    labels: Sequence[str],
    counts: Sequence[int],
    title: str,
    source: ChartSource,
    height: int | None = None,
    label_width: int = 70,
) -> go.Figure:
    """A horizontal bar per group, largest on top."""
    shown = list(zip(labels, counts, strict=True))[:15]
    fig = go.Figure(
        go.Bar(
            x=[c for _, c in shown][::-1],
            y=[_short(label, label_width) for label, _ in shown][::-1],
            orientation="h",
            marker_color=BAR_COLOUR,
            customdata=[label for label, _ in shown][::-1],
            hovertemplate="%{customdata}<br>%{x:,} records<extra></extra>",
        )
    )
    layout = _base_layout(title, height or max(240, 34 * len(shown) + 100), source)
    layout["margin"]["l"] = 20
    layout["yaxis"] = {"automargin": True, "tickfont": {"size": 12}}
    layout["xaxis"] = {"gridcolor": "#eaeef2", "title": {"text": "records"}}
    fig.update_layout(**layout)
    return fig


def timeline_figure(
    labels: Sequence[str],
    counts: Sequence[int],
    title: str,
    source: ChartSource,
    axis_title: str,
    height: int = 300,
) -> go.Figure:
    """Vertical bars in the order given (hours of the day, days); `axis_title` names their
    unit and time zone ("hour of day (UTC)")."""
    fig = go.Figure(
        go.Bar(
            x=list(labels),
            y=list(counts),
            marker_color=BAR_COLOUR,
            hovertemplate="%{x}<br>%{y:,} records<extra></extra>",
        )
    )
    layout = _base_layout(title, height, source)
    layout["xaxis"]["type"] = "category"
    layout["xaxis"]["title"] = {"text": axis_title}
    fig.update_layout(**layout)
    return fig


def _short(label: str, width: int = 70) -> str:
    return label if len(label) <= width else label[: width - 1] + "…"

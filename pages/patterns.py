"""Patterns: failures grouped, matched to the runbook's five patterns, new ones called out."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from urllib.parse import urlencode

import streamlit as st

from dashboard.exports import charts
from dashboard.triage import patterns
from dashboard.triage.dimensions import DIMENSIONS, NO_TEXT_LABEL, NONE_LABEL
from dashboard.triage.filters import RecordFilter
from dashboard.triage.patterns import RUNBOOK_PATTERNS
from dashboard.triage.states import BACKLOG, STATES, label
from pages import ui

scope = ui.dlq_scope()
settings, topic = scope.settings, scope.topics
rules = settings.rules

st.title("Failure patterns")
if scope.across_all:
    st.caption("Across all DLQs: every DLQ's records grouped together.")
as_of = ui.snapshot_as_of(settings)

ui.accept_earlier_state_words()
# A row of its own: every state's pill whole at 1400 px (a narrow column scrolls them away).
states = st.pills(
    "Records",
    [BACKLOG, *STATES],
    format_func=label,
    selection_mode="multi",
    default=[BACKLOG],
    key="states",
    bind="query-params",
) or [BACKLOG]
spans = {"All time": None, "Last 24 hours": timedelta(hours=24), "Last 7 days": timedelta(days=7)}
span_label = (
    st.segmented_control(
        "Arrived", list(spans), default="All time", key="span", bind="query-params"
    )
    or "All time"
)
now = ui.now_minute()
span = spans[span_label]
selection = RecordFilter(states=tuple(states), since=now - span if span else None)

bursts = ui.cached(
    settings,
    patterns.bursts,
    topic,
    selection,
    rules.systematic_min_records,
    rules.systematic_window_minutes,
)
totals = ui.cached(settings, patterns.pattern_totals, topic, selection)
in_scope = sum(totals.values())
if in_scope == 0:
    st.info("No records in this selection.", icon=":material/inbox:")
    st.stop()


def messages_link(narrower: dict[str, str]) -> str:
    """A relative link to the Messages page: the records shown here narrowed by `narrower`
    (query parameters). The Messages page filters arrival by whole days, so the link leaves
    the time span out."""
    shown = replace(selection, since=None).to_params()
    return "messages?" + urlencode({**narrower, **shown, **scope.param}, doseq=True)


def _burst_params(burst: patterns.Burst) -> dict[str, str]:
    """The Messages view of a burst's records: its domain, and its signature or (no text)
    its category."""
    params = {
        "domain_is": burst.domain or NONE_LABEL,
        "signature": burst.signature or NO_TEXT_LABEL,
    }
    if burst.signature is None:
        params["category"] = burst.category or NONE_LABEL
    return params


# -- the runbook's patterns -----------------------------------------------------------------
st.subheader("Runbook patterns")
burst_total = sum(b.total for b in bursts)
columns = st.columns(len(RUNBOOK_PATTERNS) + 1)
for column, pattern in zip(columns, RUNBOOK_PATTERNS.values(), strict=False):
    count = burst_total if pattern.key == "systematic" else totals.get(pattern.key, 0)
    column.metric(
        f"{pattern.number}. {pattern.short}",
        f"{count:,}",
        help=f"{pattern.title}: {count / in_scope:.0%} of the records shown",
    )
unexplained = totals.get(None, 0)
columns[-1].metric(
    "No pattern",
    f"{unexplained:,}",
    help="Records whose error matches none of patterns 1-4 (some of them may be "
    "part of a systematic burst).",
)
st.caption(
    f"Patterns 1-4 and No pattern split the {in_scope:,} records shown; a systematic "
    "burst's records are also counted there, by their error, so the figures add up to more."
)
for pattern in RUNBOOK_PATTERNS.values():
    with st.expander(f"{pattern.number}. {pattern.title}: root cause and resolution"):
        st.markdown(f"**Symptoms**: {pattern.symptoms}  \n**Root cause**: {pattern.root_cause}")
        st.markdown(
            "**Resolution**\n"
            + "\n".join(f"{i}. {step}" for i, step in enumerate(pattern.resolution, 1))
        )
        st.markdown("**Prevention**\n" + "\n".join(f"- {p}" for p in pattern.prevention))

# -- systematic bursts ----------------------------------------------------------------------
st.subheader("Systematic failures")
st.caption(
    "One error signature (records without error text: one category) from one domain, at least "
    f"{rules.systematic_min_records} records "
    f"within {rules.systematic_window_minutes} minutes (runbook pattern 5)."
)
if bursts:
    st.error(
        f"{len(bursts)} systematic burst{'s' if len(bursts) != 1 else ''} found. "
        "Runbook: stop further failures, find the root cause, fix it, bulk replay.",
        icon=":material/bolt:",
    )
    st.dataframe(
        [
            {
                "records": b.total,
                "peak in window": b.peak,
                "messages": messages_link(_burst_params(b)),
                "domain": b.domain or NONE_LABEL,
                "error": b.label,
                "first seen": b.first_seen,
                "peak at (UTC)": b.peak_at,
                "last seen": b.last_seen,
            }
            for b in bursts
        ],
        hide_index=True,
        column_config={
            "messages": st.column_config.LinkColumn("messages", display_text="open", width=70),
            "domain": ui.long_text("domain", "medium", "the Messages view"),
            "error": ui.long_text("error", "large", "the Messages view"),
            "peak at (UTC)": ui.TIME_COLUMN,
            "first seen": ui.TIME_COLUMN,
            "last seen": ui.TIME_COLUMN,
        },
    )
else:
    st.success("No systematic burst in this selection.", icon=":material/check_circle:")

# -- groups ---------------------------------------------------------------------------------
st.subheader("Groups")
dimension_key = (
    st.segmented_control(
        "Group by",
        list(DIMENSIONS),
        format_func=lambda k: DIMENSIONS[k].label,
        default="error_signature",
        key="by",
        bind="query-params",
    )
    or "error_signature"
)
dimension = DIMENSIONS[dimension_key]
burst_keys = [b.key for b in bursts]
groups = ui.cached(settings, patterns.groups, topic, selection, dimension_key, burst_keys, 50)
empty_label = NO_TEXT_LABEL if dimension_key == "error_signature" else NONE_LABEL
labels = [g.value if g.value is not None else empty_label for g in groups]
counts = [g.count for g in groups]
source = charts.ChartSource(scope.title, as_of)
title = f"Records by {dimension.label.lower()}"
if dimension_key in ("hour", "day"):
    axis = "hour of day (UTC)" if dimension_key == "hour" else "day (UTC)"
    figure = charts.timeline_figure(labels, counts, title, source, axis)
else:
    figure = charts.group_figure(labels, counts, title, source)
ui.plot(figure, key=f"groups-{dimension_key}", filename=f"dlq-by-{dimension_key}")

unmatched = (
    ui.cached(settings, patterns.unmatched_signatures, topic, selection)
    if dimension_key == "error_signature"
    else []
)
if unmatched:
    st.warning(
        f"{len(unmatched)} error signature{'s' if len(unmatched) != 1 else ''} match none of "
        "the runbook's error patterns (1-4): new failure modes unless a systematic burst (5) "
        "explains them, and an escalation criterion.",
        icon=":material/fiber_new:",
    )


def _pattern_text(group: patterns.Group) -> str:
    parts = []
    if group.pattern is not None:
        title = RUNBOOK_PATTERNS[group.pattern].title
        parts.append(
            title if group.pattern_share > 0.99 else f"{title} ({group.pattern_share:.0%})"
        )
    if group.systematic_share >= 0.5:
        parts.append(f"systematic ({group.systematic_share:.0%})")
    if parts:
        return "; ".join(parts)
    if group.value is None and dimension_key == "error_signature":
        return "no error text: only the category and retry count tell"
    return "NEW: no runbook pattern" if group.is_new else "-"


def _drill_down(group: patterns.Group) -> str | None:
    """The Messages view of the group; a group of records without a value only has one
    where the Messages filters can say "no value" (category, signature)."""
    if dimension.filter_field is None:
        return None
    if group.value is None:
        if dimension_key not in ("error_category", "error_signature"):
            return None
        return messages_link({dimension.filter_field: empty_label})
    return messages_link({dimension.filter_field: group.value})


st.dataframe(
    [
        {
            "records": g.count,
            "share": g.share,
            "messages": _drill_down(g),
            dimension.label: label,
            "runbook pattern": _pattern_text(g),
            "first seen": g.first_seen,
            "last seen": g.last_seen,
        }
        for g, label in zip(groups, labels, strict=True)
    ],
    hide_index=True,
    column_config={
        "share": st.column_config.ProgressColumn(
            "share", format="percent", min_value=0, max_value=1, width=90
        ),
        "messages": st.column_config.LinkColumn("messages", display_text="open", width=70),
        dimension.label: ui.long_text(dimension.label, 380, "the Messages view (open)"),
        "runbook pattern": ui.long_text("runbook pattern", "medium", "the Messages view (open)"),
        "first seen": ui.TIME_COLUMN,
        "last seen": ui.TIME_COLUMN,
    },
)

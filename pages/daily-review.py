"""Daily DLQ review (runbook, 15 minutes): the workflow's five steps with their numbers."""

from __future__ import annotations

from datetime import timedelta

import streamlit as st

from dashboard.exports import report_formats
from dashboard.text.moments import since_text
from dashboard.triage import review, states
from dashboard.triage.patterns import RUNBOOK_PATTERNS
from pages import across_all, actions_ui, dlq_choice, ui

scope = ui.dlq_scope()  # across all DLQs: each DLQ's figures (pages/across_all.py)
settings = scope.settings
who = actions_ui.page_identity(settings)

st.title("Daily DLQ review")
now = ui.snapshot_as_of(settings)
if scope.across_all:
    across_all.daily(scope, now)
    st.stop()
day = ui.cached(settings, review.daily, settings, now)
report = day.report
# The link selects what the count above it counts: the same moment, not its day's midnight.
since = now - timedelta(days=1)

st.subheader("1. Look at the trend", anchor=False)
a, b, c = st.columns(3)
ui.metric_with_change(
    a,
    "Arrived in the last 24 h",
    report.total,
    report.previous_total,
    "vs the day before",
    more_is_bad=True,
)
b.metric("Backlog now", f"{day.backlog:,}", help=states.help_text(states.BACKLOG))
c.metric("Systematic bursts today", len(day.bursts))
dlq_choice.page_link(
    "pages/overview.py", label="Growth against the severity bands", icon=":material/monitoring:"
)

st.subheader("2. List recent records", anchor=False)
st.write(f"{report.total:,} records arrived since {since:%Y-%m-%d %H:%M} UTC.")
dlq_choice.page_link(
    "pages/messages.py",
    label=f"The {report.total:,} records that arrived in the last 24 h",
    icon=":material/search:",
    query_params={"from": since_text(since)},
)

st.subheader("3. Categorize", anchor=False)
a, b = st.columns(2)
with a:
    st.dataframe(
        [
            {"category": c.label, "today": c.count, "day before": c.previous}
            for c in report.categories
        ],
        hide_index=True,
    )
with b:
    if day.bursts:
        st.error(
            f"Systematic: {len(day.bursts)} burst(s), e.g. "
            f"{ui.plain(day.bursts[0].label)} from {ui.plain(day.bursts[0].domain or '?')}"
        )
    else:
        st.success("No systematic burst: failures look isolated.")
    fresh_ones = day.new_signatures
    if fresh_ones:
        st.warning(
            f"{len(fresh_ones)} error signature(s) first seen today; "
            f"{sum(1 for s in fresh_ones if s.pattern is None)} match no runbook pattern."
        )
        st.dataframe(
            [
                {
                    "records": s.records,
                    "runbook pattern": RUNBOOK_PATTERNS[s.pattern].short if s.pattern else "NEW",
                    "signature": s.signature,
                }
                for s in fresh_ones
            ],
            hide_index=True,
        )
    else:
        st.success("No new error signature today.")

st.subheader("4. Act", anchor=False)
a, b, c = st.columns(3)
# The runbook's step 4 for each category: how many wait, what to do, and where to do it.
for column, category, runbook_says, link, icon in (
    (a, "permanent", "verify the rejection is correct, then resolve.", "Verify and resolve",
     ":material/task_alt:"),
    (b, "transient", "replay if the issue is likely resolved.", "Replay where the cause cleared",
     ":material/replay:"),
):  # fmt: skip
    waiting = day.permanent_backlog if category == "permanent" else day.transient_backlog
    column.metric(
        f"{category.capitalize()}, in the backlog", f"{waiting:,}", help=f"Runbook: {runbook_says}"
    )
    dlq_choice.page_link(
        "pages/messages.py",
        container=column,
        label=link,
        icon=icon,
        query_params={"category": category, "states": states.BACKLOG},
    )
c.metric("Other categories, in the backlog", f"{day.other_backlog:,}")
if day.bursts:
    dlq_choice.page_link(
        "pages/escalation.py",
        container=c,
        label="Systematic: escalate",
        icon=":material/campaign:",
    )

st.subheader("5. Note trends", anchor=False)
st.dataframe(
    [
        {"today": s.count, "day before": s.previous, "change": s.change, "error signature": s.label}
        for s in report.top_signatures
    ],
    hide_index=True,
)
st.download_button(
    "Today's report (Markdown, for the team wiki)",
    report_formats.to_markdown(report),
    "dlq-daily-review.md",
    "text/markdown",
    icon=":material/download:",
)

"""Weekly DLQ cleanup (runbook, 30 minutes): records over 7 days old, grouped, acted on
through the guarded bulk actions, and the weekly report."""

from __future__ import annotations

from datetime import timedelta

import streamlit as st

from dashboard.exports import report_formats
from dashboard.triage import review, states
from dashboard.triage.dimensions import NO_TEXT_LABEL
from pages import across_all, actions_ui, dlq_choice, ui

scope = ui.dlq_scope()  # across all DLQs: each DLQ's figures (pages/across_all.py)
settings = scope.settings
who = actions_ui.page_identity(settings)

st.title("Weekly DLQ cleanup")
now = ui.snapshot_as_of(settings)
if scope.across_all:
    across_all.weekly(scope, now)
    st.stop()
week = ui.cached(settings, review.weekly, settings, now)
actions_ui.last_report()

st.subheader("1. Review records over 7 days old", anchor=False)
st.metric("Backlog, arrived before " + f"{week.cutoff:%Y-%m-%d %H:%M} UTC", f"{week.old_backlog:,}")
a, b = st.columns(2)
signature_rows: list[dict[str, object]] = [
    {
        "records": g.count,
        "error signature": g.value or NO_TEXT_LABEL,
        "oldest": g.first_seen,
    }
    for g in week.by_signature
]
rest = week.old_backlog - sum(g.count for g in week.by_signature)
if rest > 0:  # the table adds up to the figure above
    signature_rows.append({"records": rest, "error signature": "(all other signatures)"})
a.dataframe(
    signature_rows,
    hide_index=True,
    column_config={"oldest": ui.TIME_COLUMN},
)
b.dataframe(
    [{"category": g.value or "(none)", "records": g.count} for g in week.by_category],
    hide_index=True,
)
# Messages filters by whole days, so the link opens the whole days before the cutoff's day
# (a subset of the records above; the bulk actions below use the exact cutoff).
last_whole_day = (week.cutoff - timedelta(days=1)).date()
dlq_choice.page_link(
    "pages/messages.py",
    label=f"Open the backlog up to {last_whole_day} in Messages",
    icon=":material/search:",
    query_params={"until": last_whole_day.isoformat(), "states": states.BACKLOG},
)

st.subheader("2. Bulk replay or resolve", anchor=False)
st.caption(
    "Messages over 7 days old likely need manual intervention: coordinate with the "
    "data team, bulk replay where the issue is resolved, bulk resolve where the failure "
    "is permanent."
)
actions_ui.bulk_panel(settings, who, week.selection, week.old_backlog)
if not who.can_act:
    st.caption(ui.plain(who.why_not or "Read-only"))

st.subheader("3. Generate the DLQ report", anchor=False)
report = week.report
st.write(
    f"{report.total:,} records this week ({report.total - report.previous_total:+,}), "
    f"{report.replayed:,} replayed, {report.resolved:,} resolved."
)
c = st.columns(3)
c[0].download_button(
    "Weekly report (Markdown)",
    report_formats.to_markdown(report),
    "dlq-weekly-report.md",
    "text/markdown",
    icon=":material/download:",
)
c[1].download_button(
    "CSV",
    report_formats.to_csv(report),
    "dlq-weekly-report.csv",
    "text/csv",
    icon=":material/download:",
)
dlq_choice.page_link(
    "pages/reports.py",
    container=c[2],
    label="HTML with charts",
    icon=":material/html:",
    query_params={"days": "7"},
)

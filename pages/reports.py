"""Reports: the DLQ over a period, compared with the one before, in four formats."""

from __future__ import annotations

from typing import Literal

import streamlit as st

from dashboard.exports import report_formats
from dashboard.exports.file_names import export_name
from dashboard.text.moments import shown_end
from dashboard.triage import reports
from pages import across_all, actions_ui, ui

scope = ui.dlq_scope()  # across all DLQs: a section per DLQ (pages/across_all.py)
settings = scope.settings
who = actions_ui.page_identity(settings)

st.title("DLQ report")
q: Literal["query-params"] = "query-params"
ui.drop_unusable_numbers(("days",), {"days": (1, 90)})
days_box, _ = st.columns([1, 4])
days = int(
    days_box.number_input("Days", min_value=1, max_value=90, value=7, step=1, key="days", bind=q)
)
now = ui.snapshot_as_of(settings)
if scope.across_all:
    across_all.report(scope, days, now)
    st.stop()
report = ui.cached(settings, reports.build, settings.dlq_topic, now, days)
st.caption(
    f"{report.start:%Y-%m-%d %H:%M} to {shown_end(report.end):%Y-%m-%d %H:%M} UTC, compared with "
    f"the {days} days before."
)

m = st.columns(5)
against = ""  # the caption above names the previous period; the columns are narrow
ui.metric_with_change(
    m[0], "Records", report.total, report.previous_total, against, more_is_bad=True
)
ui.metric_with_change(m[1], "Replayed", report.replayed, report.previous_replayed, against)
ui.metric_with_change(m[2], "Resolved", report.resolved, report.previous_resolved, against)
m[3].metric("Unparseable", f"{report.unparseable:,}")
m[4].metric("Backlog > 7 days", f"{report.stale_backlog:,}")

figures = report_formats.figures(report)
left, right = st.columns(2)
with left:
    ui.plot(
        figures["categories"],
        key="report-categories",
        filename=export_name("report-categories", settings.dlq_topic, now),
    )
with right:
    ui.plot(
        figures["signatures"],
        key="report-signatures",
        filename=export_name("report-signatures", settings.dlq_topic, now),
    )


def table(counts: list[reports.Count], label: str, compared: bool = True) -> None:
    """`compared`: with the previous period's count and the change (not for a snapshot).
    Counts first, so a long label is cut at the right edge, never a number."""
    st.dataframe(
        [
            {"records": c.count, "previous": c.previous, "change": c.change, label: c.label}
            if compared
            else {"records": c.count, label: c.label}
            for c in counts
        ],
        hide_index=True,
    )


a, b = st.columns(2)
with a:
    st.markdown("**Error categories**")
    table(report.categories, "category")
    st.markdown("**Top failure domains**")
    table(report.top_domains, "domain")
with b:
    st.markdown("**Top error signatures**")
    table(report.top_signatures, "signature")
    st.markdown("**Actions taken**")
    st.dataframe(
        [{"records": x.count, "action": x.action, "by": x.actor} for x in report.actions],
        hide_index=True,
    )
st.markdown("**Top failure URL folders** (file names, ids and query strings dropped)")
table(report.top_urls, "URL folder")
st.markdown("**Unresolved older than 7 days, by error signature**")
table(report.stale_by_signature, "signature", compared=False)

name = export_name(f"report-{days}d", settings.dlq_topic, now)
c = st.columns(4)
c[0].download_button(
    "Markdown",
    report_formats.to_markdown(report),
    f"{name}.md",
    "text/markdown",
    icon=":material/download:",
)
c[1].download_button(
    "JSON",
    report_formats.to_json(report),
    f"{name}.json",
    "application/json",
    icon=":material/download:",
)
c[2].download_button(
    "CSV", report_formats.to_csv(report), f"{name}.csv", "text/csv", icon=":material/download:"
)
if c[3].button("Prepare HTML with charts", icon=":material/html:"):
    with st.spinner("Drawing the charts..."):
        pngs, problem = ui.chart_images(figures, *report_formats.CHART_SIZE)
    st.session_state["report_html"] = (report_formats.to_html(report, pngs), problem)
prepared = st.session_state.get("report_html")
if prepared:
    html_text, problem = prepared
    if problem:
        st.warning(ui.plain(problem))
    st.download_button(
        "Download HTML", html_text, f"{name}.html", "text/html", icon=":material/download:"
    )

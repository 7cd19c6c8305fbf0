"""Reports, Escalation and the reviews with "All DLQs" chosen: each DLQ's figures in one
table (most urgent first), a link to each DLQ's own page, and one file for every DLQ. The
bulk actions stay on each DLQ's own review page (one review group, one replay target)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import streamlit as st

from dashboard.exports import across_dlqs as exports
from dashboard.exports import escalation_pack, report_formats
from dashboard.exports.file_names import export_name
from dashboard.text.moments import shown_end
from dashboard.triage import across_dlqs, runbook
from pages import dlq_choice, escalation_ui, ui
from pages.dlq_choice import DlqScope


def _links(page: str, names: list[str], what: str, **params: str) -> None:
    columns = st.columns(min(len(names), 4) or 1)
    for i, name in enumerate(names):
        dlq_choice.page_link(
            page,
            container=columns[i % len(columns)],
            label=f"{name}: {what}",
            icon=":material/arrow_forward:",
            query_params={"dlq": name, **params},
        )


def report(scope: DlqScope, days: int, now: datetime) -> None:
    every = scope.every
    whole = ui.cached(scope.settings, across_dlqs.report_all, every, now, days)
    st.caption(
        f"{days} days to {shown_end(now):%Y-%m-%d %H:%M} UTC, compared with the {days} days "
        "before: every DLQ's own report, most urgent DLQ first."
    )
    st.markdown(f"**All DLQs**: {ui.plain(whole.totals.line)}.")
    st.dataframe(
        [
            {
                "DLQ": s.name,
                "records": r.total,
                "previous": r.previous_total,
                "replayed": r.replayed,
                "resolved": r.resolved,
                "unparseable": r.unparseable,
                "backlog > 7 days": r.stale_backlog,
                "topic": r.topic,
            }
            for s in whole.sections
            for r in (s.report,)
        ],
        hide_index=True,
    )
    _links("pages/reports.py", [s.name for s in whole.sections], "report", days=str(days))
    name = export_name(f"report-{days}d", "all-dlqs", now)
    c = st.columns(4)
    md, js, cs = exports.report_markdown, exports.report_json, exports.report_csv
    c[0].download_button("Markdown", md(whole), f"{name}.md", "text/markdown")
    c[1].download_button("JSON", js(whole), f"{name}.json", "application/json")
    c[2].download_button("CSV", cs(whole), f"{name}.csv", "text/csv")
    if c[3].button("Prepare HTML with charts", icon=":material/html:"):
        with st.spinner("Drawing the charts..."):
            pngs, problem = _images(exports.report_figures(whole), report_formats.CHART_SIZE)
        st.session_state["report_html_all"] = (exports.report_html(whole, pngs), problem)
    prepared = st.session_state.get("report_html_all")
    if prepared:
        html_text, problem = prepared
        if problem:
            st.warning(ui.plain(problem))
        st.download_button("Download HTML", html_text, f"{name}.html", "text/html")


def _images(
    figures: Mapping[str, Mapping[str, Any]], size: tuple[int, int]
) -> tuple[dict[str, dict[str, bytes]], str | None]:
    """Every DLQ's charts as PNGs; the first problem, if any (no Chromium: no images)."""
    pngs: dict[str, dict[str, bytes]] = {}
    for dlq, named in figures.items():
        pngs[dlq], problem = ui.chart_images(dict(named), *size)
        if problem:
            return {}, problem
    return pngs, None


def escalation(scope: DlqScope, as_of: datetime) -> None:
    every, settings = scope.every, scope.settings
    since = escalation_ui.incident_since(as_of, "using each DLQ's own")
    named = ui.cached(settings, exports.packs, every, as_of, "", since)
    st.caption(
        f"As of {shown_end(as_of):%Y-%m-%d %H:%M} UTC: the pack of every DLQ at Warning or "
        "worse (of every DLQ when none is), most urgent first, in one file."
    )
    st.dataframe(
        [
            {
                "DLQ": p.name,
                "severity": p.pack.severity.level.label,
                "backlog": p.pack.size.backlog,
                "last 10 min": p.pack.per_10min,
                "alerts firing": ", ".join(
                    a.rule.name for a in p.pack.alert_states if a.state == "firing"
                )
                or "-",
                "incident records": p.pack.window_records,
                "topic": p.pack.topic,
            }
            for p in named
        ],
        hide_index=True,
    )
    _links("pages/escalation.py", [p.name for p in named], "escalation")
    since_box, notes_box = st.columns([1, 3])
    since_box.text_input(
        "Incident from (UTC)",
        key=escalation_ui.SINCE_KEY,
        help="Where every DLQ's incident sections start: a date and time, or 2h, 1d ago. "
        "Empty: each DLQ's own start (its first pending alert or burst).",
    )
    notes = notes_box.text_area(runbook.RUNBOOK.pack.changes, key="escalation_notes", height=68)
    if st.button("Prepare the escalation pack", icon=":material/package_2:"):
        with st.spinner("Drawing the charts..."):
            final = ui.cached(settings, exports.packs, every, as_of, notes, since)
            pngs, problem = _images(exports.pack_figures(final, every), escalation_pack.CHART_SIZE)
            st.session_state["escalation_files_all"] = (
                exports.packs_html(final, pngs).encode(),
                exports.packs_zip(final, pngs),
                problem,
                export_name("escalation", "all-dlqs", as_of),
            )
    escalation_ui.downloads("escalation_files_all")


REFUSED = (
    "Bulk replay and resolve act on one DLQ at a time (its review group, its replay "
    "target): open a DLQ's own review below."
)


def daily(scope: DlqScope, now: datetime) -> None:
    rows = ui.cached(scope.settings, across_dlqs.daily_all, scope.every, now)
    st.caption("Every DLQ's daily review figures, most urgent DLQ first. " + REFUSED)
    st.dataframe(
        [
            {
                "DLQ": r.summary.name,
                "severity": r.summary.severity.label,
                "backlog": r.day.backlog,
                "last 24 h": r.day.report.total,
                "day before": r.day.report.previous_total,
                "bursts": len(r.day.bursts),
                "new signatures": len(r.day.new_signatures),
                "permanent": r.day.permanent_backlog,
                "transient": r.day.transient_backlog,
            }
            for r in rows
        ],
        hide_index=True,
    )
    _links("pages/daily-review.py", [r.summary.name for r in rows], "daily review")


def weekly(scope: DlqScope, now: datetime) -> None:
    rows = ui.cached(scope.settings, across_dlqs.weekly_all, scope.every, now)
    st.caption("Every DLQ's weekly cleanup figures, most urgent DLQ first. " + REFUSED)
    st.dataframe(
        [
            {
                "DLQ": r.summary.name,
                "backlog over 7 days": r.week.old_backlog,
                "backlog": r.summary.backlog,
                "this week": r.week.report.total,
                "replayed": r.week.report.replayed,
                "resolved": r.week.report.resolved,
            }
            for r in rows
        ],
        hide_index=True,
    )
    _links("pages/weekly-cleanup.py", [r.summary.name for r in rows], "weekly cleanup")
    dlq_choice.page_link(
        "pages/reports.py",
        label="The weekly report of every DLQ",
        icon=":material/summarize:",
        query_params={"days": "7"},
    )

"""Audit: who did what to which record, filterable, exportable, verifiable."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Literal

import streamlit as st

from dashboard.actions import audit
from dashboard.actions.audit_verify import verify_all
from pages import actions_ui, ui

AUDIT_ROWS = 5000  # the newest entries the page shows (the CSV holds the same)

scope = ui.dlq_scope()
settings = scope.settings
who = actions_ui.page_identity(settings)

st.title("Audit trail")
st.caption(
    "Every view, replay and resolve, append-only and hash-chained; also written to "
    f"`{settings.audit_log}` as JSON lines"
    + (f" and to the topic `{settings.audit_topic_name}`." if settings.audit_topic_name else ".")
)
q: Literal["query-params"] = "query-params"
a, b, c, d, e = st.columns([2, 3, 2, 2, 2])
actor = a.text_input("Actor contains", key="actor", bind=q)
chosen = b.multiselect("Actions", list(audit.ACTIONS), key="actions", bind=q)
since = c.date_input("From (UTC)", value=None, key="since", bind=q)
until = d.date_input("Until (UTC, inclusive)", value=None, key="until", bind=q)
trace = e.text_input("Trace ID", key="trace", bind=q)

flt = audit.AuditFilter(
    actor=actor,
    actions=tuple(chosen),
    since=datetime.combine(since, time.min, tzinfo=UTC) if since else None,
    until=datetime.combine(until, time.max, tzinfo=UTC) if until else None,
    trace_id=trace,
    # One DLQ: its records' entries, and those of no record (a bulk action's summary, a reveal).
    topics=() if scope.across_all else (settings.dlq_topic,),
)
entries = ui.cached(settings, audit.query, flt, AUDIT_ROWS)
st.caption(
    f"{len(entries):,} entries"
    + ("" if scope.across_all else f" on DLQ `{scope.choice}`")
    + (
        f" (the newest {AUDIT_ROWS:,}; narrow the filters for older ones)"
        if len(entries) == AUDIT_ROWS
        else ""
    )
)
# What an on-call reader scans first (result, action, bulk, record) leads; long text is cut
# to its column and is whole in the CSV download. Absent text is an empty cell: a table
# shows None as the word.
st.dataframe(
    [
        {
            **(
                {"DLQ": scope.name_of(entry.topic) if entry.topic else ""}
                if scope.across_all
                else {}
            ),
            "result": entry.result,
            "action": entry.action,
            "bulk": entry.bulk_id or "",
            "record": f"{entry.topic}:{entry.partition}:{entry.offset}" if entry.topic else "",
            "at (UTC)": entry.logged_at,
            "actor": entry.actor,
            "reason": entry.reason or "",
            "error": entry.error or "",
            "trace id": entry.trace_id or "",
            "id": entry.audit_id,
            "old url": entry.old_url or "",
            "new url": entry.new_url or "",
            "details": entry.details if entry.details != "{}" else "",
        }
        for entry in entries
    ],
    hide_index=True,
    column_config={
        "DLQ": st.column_config.TextColumn("DLQ", width=110),
        "result": st.column_config.TextColumn("result", width=80),
        "action": st.column_config.TextColumn("action", width=80),
        "bulk": st.column_config.TextColumn("bulk", width=110),
        "record": ui.long_text("record", 200, "the CSV download"),
        "at (UTC)": ui.TIME_COLUMN,
        "reason": ui.long_text("reason", "medium", "the CSV download"),
        "error": ui.long_text("error", "medium", "the CSV download"),
        "old url": ui.long_text("old url", "medium", "the CSV download"),
        "new url": ui.long_text("new url", "medium", "the CSV download"),
        "details": ui.long_text("details", "medium", "the CSV download"),
    },
)
left, right = st.columns(2)
left.download_button(
    "Download CSV",
    audit.to_csv(entries),
    file_name="dlq-audit.csv",
    mime="text/csv",
    icon=":material/download:",
    help="Cells a spreadsheet would run as formulas are neutralised.",
)
if right.button("Verify the hash chain and the copies", icon=":material/verified:"):
    check = verify_all(settings)
    (st.success if check.ok else st.error)("  \n".join(ui.plain(line) for line in check.lines))

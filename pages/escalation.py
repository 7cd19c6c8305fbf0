"""Escalation: everything the runbook says to send to L3, on one 1400x900 screen, and as a
file (self-contained HTML, or Markdown with its charts in a zip)."""

from __future__ import annotations

import streamlit as st

from dashboard.exports import escalation_pack
from dashboard.exports.file_names import export_name
from dashboard.text.moments import shown_end
from dashboard.triage import runbook, states
from dashboard.triage.severity import Level
from pages import across_all, actions_ui, escalation_ui, ui

scope = ui.dlq_scope()  # across all DLQs: the pack of each urgent DLQ (pages/across_all.py)
settings = scope.settings
who = actions_ui.page_identity(settings)
fresh = ui.snapshot_freshness(settings)
as_of = ui.as_of(fresh)
HEADINGS = runbook.RUNBOOK.pack
if scope.across_all:
    st.markdown(f"#### {ui.plain(HEADINGS.title)}: all DLQs")
    across_all.escalation(scope, as_of)
    st.stop()
# The incident window starts where the data says (an alert, a burst) unless someone says when.
since = escalation_ui.incident_since(as_of, "using the default")
pack = ui.cached(settings, escalation_pack.build, settings, as_of, "", since)

# Fit the screen the runbook asks for (a 1400x900 screenshot): less padding above.
st.html("<style>.block-container{padding-top:1.2rem;padding-bottom:1rem}</style>")
head, box = st.columns([2, 3])
head.markdown(f"#### {ui.plain(HEADINGS.title)}")
head.caption(
    f"`{settings.dlq_topic}` as of {shown_end(as_of):%Y-%m-%d %H:%M} UTC"
    + (" (stale snapshot)" if fresh.stale else "")
)
# The window's reason can be long (a burst's signature): on hover, so the header stays short.
head.caption(
    # "arrived", in every state: not the Overview's count of a burst's open records.
    f"Incident from {pack.window.start:%Y-%m-%d %H:%M} UTC: {pack.window_records:,} records "
    f"arrived since (every state), {len(pack.bursts)} systematic "
    f"burst{'s' if len(pack.bursts) != 1 else ''} among them",
    help=f"Where the window starts: {pack.window.why}.",
)
show = {Level.NORMAL: box.success, Level.WARNING: box.warning, Level.CRITICAL: box.error}
show[pack.severity.level](
    f"**{pack.severity.level.label}**: {pack.severity.action} "
    f"(response {pack.severity.response_time}). {ui.plain(pack.growth_severity.reason)}."
)

m = st.columns(5)
m[0].metric("In the topic", f"{pack.size.in_topic:,}")
m[1].metric(
    states.label(states.BACKLOG), f"{pack.size.backlog:,}", help=states.help_text(states.BACKLOG)
)
m[2].metric("Last 10 min", f"{pack.per_10min:,}")
m[3].metric(f"Per min ({settings.rules.rate_window_minutes} min)", f"{pack.per_min:,.1f}")
firing = [a.rule.name for a in pack.alert_states if a.state == "firing"]
m[4].metric("Alerts firing", len(firing), help=", ".join(firing) or None)

left, right = st.columns([3, 2])
with left:
    figure = escalation_pack.figures(pack, settings)["growth"]
    figure.update_layout(height=260, margin={"t": 56, "b": 32})
    ui.plot(
        figure,
        key="escalation-growth",
        filename=export_name("escalation-growth", settings.dlq_topic, as_of),
    )
with right:
    # Counts first: a long signature is cut at the right edge, never the number.
    st.dataframe(
        [{"records": n, "error signature": s} for s, n in pack.top_signatures],
        hide_index=True,
        height=142,
    )
    st.dataframe(
        [{"records": n, "domain": d} for d, n in pack.top_domains[:3]],
        hide_index=True,
        height=107,
    )

left, right = st.columns([3, 2])
with left:
    st.caption(f"{ui.plain(HEADINGS.sample)} {ui.plain(pack.sample_ref or '(none)')}")
    # What L3 reads first comes first; the full record is in the downloaded pack.
    order = [
        "Error",
        "Category",
        "Trace ID",
        "URL",
        "Retry count",
        "Timestamp",
        "Event type",
        "Destination path",
    ]
    fields = {k: v for s in pack.sample for k, v in s.rows if k in order}
    st.dataframe(
        [{"field": k, "value": fields[k]} for k in order if k in fields],
        hide_index=True,
        height=177,
    )
with right:
    st.caption(f"{ui.plain(HEADINGS.actions)} (audit)")
    if not pack.actions:
        st.info("No replay or resolve in the incident window.", icon=":material/history:")
    else:
        st.dataframe(
            [
                {
                    "records": a.selected,
                    "action": a.action,
                    "outcome": a.outcome,
                    "who": a.actor,
                    "at": a.started,
                    "selection": a.selection,
                    "bulk id": a.bulk_id or "",
                }
                for a in pack.actions
            ],
            hide_index=True,
            height=177,
            column_config={"at": ui.TIME_COLUMN},
        )

# The window's start shares the notes' row: the pack stays one 1400x900 screen.
since_box, notes_box = st.columns([1, 3])
since_box.text_input(
    "Incident from (UTC)",
    key=escalation_ui.SINCE_KEY,
    placeholder=f"{pack.window.start:%Y-%m-%d %H:%M}",
    help="Where the incident sections start: a date and time, or 2h, 1d ago. Empty: "
    "from the first pending alert or the burst's first record.",
)
notes = notes_box.text_area(
    HEADINGS.changes,
    key="escalation_notes",
    height=68,
    placeholder="e.g. 10:05 download-worker 2.14 rolled out; partner rotated its TLS certificate",
)
# Under the window's start, beside the notes: on the same 1400x900 screen as the rest.
if since_box.button("Prepare the escalation pack", icon=":material/package_2:"):
    with st.spinner("Drawing the charts..."):
        final = ui.cached(settings, escalation_pack.build, settings, as_of, notes, since)
        images, problem = ui.chart_images(
            escalation_pack.figures(final, settings), *escalation_pack.CHART_SIZE
        )
        st.session_state["escalation_files"] = (
            escalation_pack.to_html(final, images).encode(),
            escalation_pack.markdown_zip(final, images),
            problem,
            export_name("escalation", settings.dlq_topic, as_of),
        )
escalation_ui.downloads("escalation_files")

"""All DLQs: every configured DLQ at a glance, the most urgent first, each opening its own
Overview (what `dlq dlqs` prints)."""

from __future__ import annotations

from urllib.parse import urlencode

import streamlit as st

from dashboard.text.moments import shown_end
from dashboard.triage.dlq_summary import summarize_all
from pages import ui
from pages.dlq_choice import DLQ_PARAM

settings = ui.all_settings()

st.title("All DLQs")
st.caption(
    "Every DLQ judged by its own severity bands and alert rules; the most severe first, then "
    "the most firing alerts, then the largest backlog. A name opens that DLQ's Overview."
)
ui.refresh_button(settings)
as_of = ui.snapshot_as_of(settings.for_dlq(None))  # one ingest run reads every DLQ
rows = ui.cached(settings, summarize_all, settings, as_of)
st.caption(f"As of {shown_end(as_of):%Y-%m-%d %H:%M} UTC.")
if any(r.discovered for r in rows):
    st.caption(
        f"Formats marked discovered: topics matching `{ui.plain(settings.discover)}`, read as "
        "`any` (replayed to the origin their headers name) until configured in `[[dlqs]]`."
    )


def overview_link(name: str) -> str:
    """The DLQ's Overview: the root page with the DLQ in the URL (relative, so the app may
    sit under a base path)."""
    return "./?" + urlencode({DLQ_PARAM: name})


st.dataframe(
    [
        {
            "DLQ": overview_link(r.name),
            "severity": r.severity.label,
            "alerts": r.alerts_counted,
            "backlog": r.backlog,
            "last hour": r.entered_last_hour,
            "topic": r.topic,
            "format": f"{r.format} (discovered)" if r.discovered else r.format,
            "replays to": r.replay_target,
        }
        for r in rows
    ],
    hide_index=True,
    column_config={
        "DLQ": st.column_config.LinkColumn(
            "DLQ", display_text=rf"\?{DLQ_PARAM}=(.+)$", help="Opens the DLQ's Overview", width=135
        ),
        "severity": st.column_config.TextColumn("severity", width=70),
        "alerts": st.column_config.TextColumn(
            "alerts", width=135, help="Firing and pending alerts; named under the table"
        ),
        "backlog": st.column_config.NumberColumn("backlog", format="localized", width=75),
        "last hour": st.column_config.NumberColumn(
            "last hour", format="localized", width=75, help="Records that entered in the last hour"
        ),
        "topic": ui.long_text("topic", 145, "the DLQ's Overview"),
        "format": st.column_config.TextColumn("format", width=110),
        "replays to": ui.long_text("replays to", 175, "the DLQ's Overview"),
    },
)
named = [r for r in rows if r.alerts_named]
if named:
    st.markdown("  \n".join(f"**{ui.plain(r.name)}**: {ui.plain(r.alerts_named)}" for r in named))
# The same, in this tab: the table's links open a new one.
columns = st.columns(min(len(rows), 6) or 1)
for i, r in enumerate(rows):
    columns[i % len(columns)].page_link(
        "pages/overview.py",
        label=f"{r.name} overview",
        icon=":material/monitoring:",
        query_params={DLQ_PARAM: r.name},
    )

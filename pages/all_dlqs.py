"""All DLQs: every configured DLQ at a glance, the most urgent first, each opening its own
Overview (what `dlq dlqs` prints)."""

from __future__ import annotations

from urllib.parse import urlencode

import streamlit as st

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


def overview_link(name: str) -> str:
    """The DLQ's Overview: the root page with the DLQ in the URL (relative, so the app may
    sit under a base path)."""
    return "./?" + urlencode({DLQ_PARAM: name})


st.dataframe(
    [
        {
            "DLQ": overview_link(r.name),
            "severity": r.severity.label,
            "firing": ", ".join(r.firing) or "-",
            "pending": ", ".join(r.pending) or "-",
            "backlog": r.backlog,
            "entered last hour": r.entered_last_hour,
            "topic": r.topic,
            "format": r.format,
            "replays to": r.replay_target,
        }
        for r in rows
    ],
    hide_index=True,
    column_config={
        "DLQ": st.column_config.LinkColumn(
            "DLQ", display_text=rf"\?{DLQ_PARAM}=(.+)$", help="Opens the DLQ's Overview"
        ),
        "severity": st.column_config.TextColumn("severity", width=80),
        "firing": ui.long_text("firing alerts", "medium", "the DLQ's Overview"),
        "pending": ui.long_text("pending alerts", "small", "the DLQ's Overview"),
        "backlog": st.column_config.NumberColumn("backlog", format="localized", width=80),
        "entered last hour": st.column_config.NumberColumn(
            "entered last hour", format="localized", width=120
        ),
        "topic": ui.long_text("topic", "medium", "the DLQ's Overview"),
    },
)
# The same, in this tab: the table's links open a new one.
columns = st.columns(min(len(rows), 6) or 1)
for i, r in enumerate(rows):
    columns[i % len(columns)].page_link(
        "pages/overview.py",
        label=f"{r.name} overview",
        icon=":material/monitoring:",
        query_params={DLQ_PARAM: r.name},
    )

"""Overview: the state of the DLQ snapshot."""

from __future__ import annotations

import streamlit as st

from dashboard.records import snapshot_info
from pages import ui

settings = ui.app_settings()
st.title("DLQ overview")

info = ui.query(settings, lambda con: snapshot_info(con, settings.dlq_topic))
records, last_ingest = st.columns(2)
records.metric("Records in the snapshot", f"{info.records:,}")
last_ingest.metric(
    "Last ingest",
    f"{info.last_ingest_at:%Y-%m-%d %H:%M:%S} UTC" if info.last_ingest_at else "never",
    help=f"Status of that run: {info.last_run_status}" if info.last_run_status else None,
)

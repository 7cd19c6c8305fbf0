"""What the escalation page shares with its across-all-DLQs view: the incident's start as
typed, and the prepared pack's two downloads."""

from __future__ import annotations

from datetime import datetime

import streamlit as st

from dashboard.text.moments import parse_moment
from pages import ui

SINCE_KEY = "escalation_since"


def incident_since(as_of: datetime, fallback: str) -> datetime | None:
    """The incident start typed in the page (None: where the data says it starts)."""
    chosen = str(st.session_state.get(SINCE_KEY, "")).strip()
    if not chosen:
        return None
    try:
        return parse_moment(chosen, as_of)
    except ValueError as exc:
        st.warning(f"Incident start not understood ({ui.plain(str(exc))}); {fallback}.")
        return None


def downloads(state_key: str) -> None:
    """The pack prepared under `state_key`: (HTML, zip, problem, file name)."""
    files = st.session_state.get(state_key)
    if not files:
        return
    html_file, zip_file, problem, name = files
    if problem:
        st.warning(ui.plain(problem))
    a, b = st.columns(2)
    a.download_button(
        "Download HTML (one file)",
        html_file,
        f"{name}.html",
        "text/html",
        icon=":material/download:",
    )
    b.download_button(
        "Download Markdown + PNG (zip)",
        zip_file,
        f"{name}.zip",
        "application/zip",
        icon=":material/download:",
    )

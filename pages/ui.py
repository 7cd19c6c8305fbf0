"""What every page shares: settings, the snapshot's database, and how failures are shown."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import streamlit as st

from dashboard.db import Connection, Database, DatabaseBusy, SnapshotMissing
from dashboard.settings import Settings, SettingsError, load_settings

T = TypeVar("T")


@st.cache_resource
def _settings() -> Settings:
    return load_settings()


def app_settings() -> Settings:
    try:
        return _settings()
    except SettingsError as exc:
        st.error(f"Bad setting: {exc}", icon=":material/settings:")
        st.stop()


def database(settings: Settings) -> Database:
    return Database(settings.db, settings.db_lock_timeout_seconds)


def query(settings: Settings, run: Callable[[Connection], T]) -> T:
    """Run `run` on a short read-only connection; show the snapshot's state instead of a
    traceback when there is nothing to read yet or another process holds the file."""
    try:
        with database(settings).read() as con:
            return run(con)
    except SnapshotMissing:
        st.info(
            f"No snapshot yet at `{settings.db}`. Run `dlq ingest` (or `dlq ingest --follow 30`) "
            "to copy the DLQ topic into it.",
            icon=":material/hourglass_empty:",
        )
        st.stop()
    except DatabaseBusy as exc:
        st.warning(f"The snapshot is busy: {exc}. Reload in a moment.", icon=":material/lock:")
        st.stop()


def sidebar_footer(settings: Settings) -> None:
    with st.sidebar:
        st.caption(f"Topic `{settings.dlq_topic}` on `{settings.bootstrap_servers}`")
        st.caption(f"Snapshot `{settings.db}`")

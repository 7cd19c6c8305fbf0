"""The app's entry point and Overview page, run with AppTest on a real snapshot file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.conftest import REPO
from tests.snapshots import demo_records, write_snapshot


@pytest.fixture
def app_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    db = tmp_path / "snapshot.duckdb"
    monkeypatch.setenv("DLQ_DB", str(db))
    monkeypatch.chdir(tmp_path)  # no stray dlq.toml
    st.cache_resource.clear()
    st.cache_data.clear()
    yield db
    st.cache_resource.clear()
    st.cache_data.clear()


def run_app() -> AppTest:
    at = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=30)
    return at.run()


def test_overview_without_a_snapshot_says_how_to_make_one(app_env: Path) -> None:
    at = run_app()
    assert not at.exception
    assert any("No snapshot yet" in info.value for info in at.info)


def test_overview_shows_count_and_last_ingest(app_env: Path) -> None:
    write_snapshot(app_env, demo_records(250))
    at = run_app()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Records in the snapshot"] == "250"
    assert metrics["Last ingest"].endswith("UTC")


def test_a_bad_setting_is_one_clear_message(app_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DLQ_DB_LOCK_TIMEOUT", "never")
    at = run_app()
    assert not at.exception
    assert any("setting db_lock_timeout_seconds" in e.value for e in at.error)

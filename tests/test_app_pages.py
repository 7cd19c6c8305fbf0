"""Every page run with AppTest on real snapshot files: renders, shows what matters, reacts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard.db import Database
from tests.conftest import REPO
from tests.snapshots import TOPIC, demo_records, write_snapshot


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # "Now" when the module's tests start: the demo's burst is the last half hour before it
    # (20% of 4,000 records in 30 minutes: about 27 a minute, well inside Critical).
    db = tmp_path_factory.mktemp("app") / "demo.duckdb"
    write_snapshot(db, demo_records(4000, now=datetime.now(UTC), seed=21))
    return db


def app(
    db: Path, monkeypatch: pytest.MonkeyPatch, page: str | None = None, **query: str
) -> AppTest:
    monkeypatch.setenv("DLQ_DB", str(db))
    monkeypatch.setenv("DLQ_TOPIC", TOPIC)
    st.cache_resource.clear()
    st.cache_data.clear()
    at = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=60)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    if page is not None:
        at.switch_page(f"pages/{page}.py")
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.chdir(tmp_path)  # no stray dlq.toml
    yield
    st.cache_resource.clear()
    st.cache_data.clear()


def texts(elements: object) -> list[str]:
    return [str(e.value) for e in elements]  # type: ignore[attr-defined]


def test_overview_shows_severity_size_alerts_growth_and_escalation(
    demo_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = app(demo_db, monkeypatch)
    # The demo's last half hour is a systematic burst: Critical with the runbook's action.
    assert any("**Critical**: Immediate investigation" in t for t in texts(at.error))
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Records in the topic"] == "4,000"
    assert metrics["Unresolved"] == "4,000"
    alerts = next(df.value for df in at.dataframe if "alert" in df.value.columns)
    assert list(alerts["alert"]) == [
        "KafkaDLQGrowthRapid",
        "KafkaDLQGrowthWarning",
        "KafkaDLQSizeHigh",
    ]
    assert alerts.set_index("alert").loc["KafkaDLQSizeHigh", "state"] == "FIRING"
    charts = at.get("plotly_chart")
    assert len(charts) == 3
    labels = [e.label for e in at.expander]
    assert any("Same error affecting > 100 messages" in label for label in labels)
    assert any("Business critical files" in label for label in labels)


def _x_values(at: AppTest, index: int) -> int:
    spec = json.loads(at.get("plotly_chart")[index].proto.spec)
    return len(spec["data"][0]["x"])


def test_the_time_range_changes_the_growth_charts(
    demo_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = app(demo_db, monkeypatch)
    day = _x_values(at, 0)
    at.segmented_control(key="range").set_value("Last hour").run()
    assert not at.exception
    hour = _x_values(at, 0)
    assert (day, hour) == (24 * 60, 60)


def test_patterns_page_names_the_runbook_patterns_and_the_burst(
    demo_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = app(demo_db, monkeypatch, "patterns")
    labels = [m.label for m in at.metric]
    assert labels[:5] == [
        "1. Expired URL",
        "2. File type",
        "3. Network/timeout",
        "4. OneLake upload",
        "5. Systematic",
    ]
    assert any("systematic burst" in t for t in texts(at.error))
    groups = at.dataframe[-1].value
    assert "Error signature" in groups.columns
    assert groups["records"].sum() == 4000
    assert groups["messages"].str.startswith("messages?signature=").all()
    at.segmented_control(key="by").set_value("domain").run()
    assert not at.exception
    by_domain = at.dataframe[-1].value
    assert "Domain" in by_domain.columns
    assert "docs.partner-claims.example.com" in set(by_domain["Domain"])


def test_messages_page_filters_from_the_url_and_opens_a_record(
    demo_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = app(demo_db, monkeypatch, "messages")
    everything = at.dataframe[0].value
    assert len(everything) == 50 and any("4,000 records match" in c for c in texts(at.caption))
    assert not everything["url"].dropna().str.contains("X-Amz-Signature=[0-9a-f]").any()

    with Database(demo_db).read() as con:
        row = con.execute(
            'SELECT trace_id, count(*) OVER (PARTITION BY trace_id), "partition", "offset" '
            "FROM records WHERE trace_id LIKE 'evt-%' AND parse_error IS NULL LIMIT 1"
        ).fetchone()
    assert row is not None
    trace, landings, partition, offset = row
    filtered = app(demo_db, monkeypatch, "messages", trace=trace)
    assert len(filtered.dataframe[0].value) == landings

    record = f"{TOPIC}:{partition}:{offset}"
    detail = app(demo_db, monkeypatch, "messages", record=record)
    assert any(s.value == f"Record {record}" for s in detail.subheader)
    assert any(code.value.startswith("{") for code in detail.code)  # raw value and task
    fields = {
        r["field"]: r["value"] for df in detail.dataframe[1:6] for r in df.value.to_dict("records")
    }
    assert fields["Trace ID"] == trace and fields["Offset"] == str(offset)


def test_an_empty_dlq_is_said_plainly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "empty.duckdb"
    write_snapshot(db, [])
    overview = app(db, monkeypatch)
    assert any("is empty: nothing to triage" in t for t in texts(overview.success))
    assert any(
        "No records in this selection" in t for t in texts(app(db, monkeypatch, "patterns").info)
    )
    assert any("0 records match" in t for t in texts(app(db, monkeypatch, "messages").caption))


def test_a_missing_snapshot_says_how_to_make_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for page in (None, "patterns", "messages"):
        at = app(tmp_path / "none.duckdb", monkeypatch, page)
        assert any("No snapshot yet" in t for t in texts(at.info)), page


def test_a_stale_snapshot_is_flagged_with_its_age(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "stale.duckdb"
    write_snapshot(db, demo_records(50, now=datetime.now(UTC) - timedelta(hours=5)))
    with Database(db).write() as con:
        con.execute("UPDATE ingest_runs SET finished_at = now() - INTERVAL 5 HOUR")
    at = app(db, monkeypatch)
    assert any(
        "The snapshot is 300 minutes old" in t or "The snapshot is 5 hours old" in t
        for t in texts(at.warning)
    )


def test_a_bad_setting_is_one_clear_message(demo_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DLQ_DB_LOCK_TIMEOUT", "never")
    at = app(demo_db, monkeypatch)
    assert any("setting db_lock_timeout_seconds" in t for t in texts(at.error))

"""The Messages and Audit pages' actions, run with AppTest against the real broker."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard.actions import audit
from dashboard.actions.identity import Identity
from dashboard.actions.run import execute
from dashboard.actions.values import RecordRef, Request
from dashboard.adapters.db import Database
from dashboard.adapters.kafka import KafkaGateway, OutgoingRecord
from dashboard.settings import Settings
from tests.conftest import REPO, settings_env
from tests.integration.actions_support import read_topic, setup_dlq
from tests.kafka_helpers import NOW_MS, pipeline_value

pytestmark = pytest.mark.kafka


@pytest.fixture(autouse=True)
def fresh_caches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.chdir(tmp_path)
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


def open_page(
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    page: str,
    operator: str | None = "ana",
    **query: str,
) -> AppTest:
    for key, value in settings_env(settings).items():
        monkeypatch.setenv(key, value)
    if operator:
        monkeypatch.setenv("DLQ_OPERATOR", operator)
    else:
        monkeypatch.delenv("DLQ_OPERATOR", raising=False)
    at = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=60)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    at.switch_page(f"pages/{page}.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def button(at: AppTest, label: str) -> object:
    return next(b for b in at.button if b.label == label)


def test_replay_through_the_confirmation_dialog(
    kafka_settings: Settings, gateway: KafkaGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup_dlq(kafka_settings, gateway, [(b"evt-ui", pipeline_value("evt-ui"), [], NOW_MS)])
    record = f"{kafka_settings.dlq_topic}:0:0"
    at = open_page(kafka_settings, monkeypatch, "messages", record=record)
    button(at, "Replay…").click().run()  # type: ignore[attr-defined]
    assert any("its original task goes to" in m.value for m in at.markdown)
    confirm = button(at, "Replay")
    assert confirm.disabled  # type: ignore[attr-defined]  # no reason yet
    at.text_input(key="action_reason").input("INC-100 vendor back").run()
    button(at, "Replay").click().run()  # type: ignore[attr-defined]
    assert not at.exception
    assert any("1 replayed" in s.value for s in at.success)
    [message] = read_topic(kafka_settings, kafka_settings.pending_topic, 1)
    assert message.key() == b"evt-ui"
    with Database(kafka_settings.db).read() as con:
        entries = audit.query(con, audit.AuditFilter(actions=("replay", "view")))
    assert [(e.action, e.result, e.actor) for e in entries] == [
        ("replay", "success", "ana"),
        ("view", "success", "ana"),
    ]
    assert entries[0].reason == "INC-100 vendor back"


def test_a_replay_kafka_does_not_answer_is_said_in_the_dialog_which_stays_open(
    kafka_settings: Settings, gateway: KafkaGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup_dlq(kafka_settings, gateway, [(b"evt-down", pipeline_value("evt-down"), [], NOW_MS)])
    # The snapshot is there; the broker the app is told of does not answer (port 9: discard).
    down = kafka_settings.model_copy(update={"bootstrap_servers": "127.0.0.1:9"})
    record = f"{down.dlq_topic}:0:0"
    at = open_page(down, monkeypatch, "messages", record=record)
    button(at, "Replay…").click().run()  # type: ignore[attr-defined]
    at.text_input(key="action_reason").input("INC-101").run()
    button(at, "Replay").click().run()  # type: ignore[attr-defined]
    assert not at.exception
    assert any("replay failed, nothing done" in e.value for e in at.error)
    assert not at.success and not at.warning  # no report drawn at the page's top
    assert any(b.label == "Replay" for b in at.button)  # the dialog is still open
    with Database.of(down).read() as con:
        failures = con.execute(
            "SELECT count(*) FROM audit_log WHERE action = 'replay' AND result = 'failure'"
        ).fetchone()
    assert failures == (1,)  # the attempt is audited, nothing claimed


def test_a_viewer_sees_no_actions(
    kafka_settings: Settings, gateway: KafkaGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup_dlq(kafka_settings, gateway, [(b"evt-v", pipeline_value("evt-v"), [], NOW_MS)])
    record = f"{kafka_settings.dlq_topic}:0:0"
    at = open_page(kafka_settings, monkeypatch, "messages", operator=None, record=record)
    labels = {b.label for b in at.button}
    assert not labels & {"Replay…", "Resolve…", "Replay with new URL…"}
    assert any("no operator identity" in c.value for c in at.caption)
    assert not any("Act on all" in e.label for e in at.expander)


def test_bulk_resolve_needs_the_count_typed_and_reports_progress(
    kafka_settings: Settings, gateway: KafkaGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    records: list[OutgoingRecord] = [
        (f"evt-{i}".encode(), pipeline_value(f"evt-{i}"), [], NOW_MS + i) for i in range(120)
    ]
    setup_dlq(kafka_settings, gateway, records)
    at = open_page(kafka_settings, monkeypatch, "messages", domain="claims-docs")
    at.radio(key="bulk_action").set_value("resolve").run()
    at.text_input(key="bulk_reason").input("INC-200 accepted").run()
    button(at, "Preview").click().run()  # type: ignore[attr-defined]
    assert any("**120** records would be acted on" in m.value for m in at.markdown)
    button(at, "Run…").click().run()  # type: ignore[attr-defined]
    run = button(at, "Resolve 120 records")
    assert run.disabled  # type: ignore[attr-defined]  # over 100: the count must be typed
    at.text_input(key="bulk_typed_count").input("120").run()
    button(at, "Resolve 120 records").click().run()  # type: ignore[attr-defined]
    job = at.session_state["bulk_job"]
    deadline = time.monotonic() + 60
    while job.running and time.monotonic() < deadline:
        time.sleep(0.2)
    at.run()
    assert job.report is not None and job.report.count("success") == 120
    assert any("120 resolved" in s.value for s in at.success)
    assert gateway.committed_offsets(
        kafka_settings.review_group, kafka_settings.dlq_topic, [0]
    ) == {0: 120}


def test_audit_page_filters_exports_and_verifies(
    kafka_settings: Settings, gateway: KafkaGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup_dlq(
        kafka_settings,
        gateway,
        [(b"=cmd|' /C calc'!A0", pipeline_value("=cmd|' /C calc'!A0"), [], NOW_MS)],
    )
    execute(
        kafka_settings,
        Request(
            "resolve",
            [RecordRef(kafka_settings.dlq_topic, 0, 0)],
            Identity("ana", "settings", True),
            "@SUM(1+1) looks fine",
        ),
    )
    at = open_page(kafka_settings, monkeypatch, "audit", actions="resolve")
    table = at.dataframe[0].value
    assert list(table["action"]) == ["resolve"]
    with Database(kafka_settings.db).read() as con:
        entries = audit.query(con, audit.AuditFilter())
    csv_text = audit.to_csv(entries)
    assert "'=cmd" in csv_text and "'@SUM(1+1)" in csv_text  # neutralised for spreadsheets
    button(at, "Verify the hash chain and the copies").click().run()  # type: ignore[attr-defined]
    assert any("chain intact" in s.value for s in at.success)
    assert json.loads(entries[0].details) == {}

"""A replay through the confirmation dialog in Chromium, checked on Kafka and in the audit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dashboard.actions import audit
from dashboard.adapters.db import Database
from dashboard.adapters.kafka import KafkaGateway
from dashboard.settings import Settings
from tests.browser.conftest import ARTIFACTS, running_app
from tests.browser.test_pages_in_chromium import wait_for_app
from tests.conftest import settings_env
from tests.integration.actions_support import read_topic, setup_dlq
from tests.kafka_helpers import NOW_MS, pipeline_value

pytestmark = [pytest.mark.browser, pytest.mark.kafka]


@pytest.fixture
def operator_app(kafka_settings: Settings, gateway: KafkaGateway, tmp_path: Path) -> Iterator[str]:
    setup_dlq(kafka_settings, gateway, [(b"evt-click", pipeline_value("evt-click"), [], NOW_MS)])
    with running_app(
        {**settings_env(kafka_settings), "DLQ_OPERATOR": "ana"}, tmp_path / "app.log"
    ) as url:
        yield url


def test_replay_through_the_dialog_lands_on_pending_and_in_the_audit(
    operator_app: str, browser_page: Any, kafka_settings: Settings
) -> None:
    page = browser_page
    record = f"{kafka_settings.dlq_topic}:0:0"
    page.goto(f"{operator_app}/messages?record={record}")
    wait_for_app(page)
    page.get_by_role("button", name="Replay…").click()
    dialog = page.get_by_role("dialog")
    dialog.wait_for(timeout=20_000)
    assert "its original task goes to" in dialog.inner_text()
    dialog.get_by_label("Reason (ticket or note)").fill("INC-300 from the browser")
    dialog.get_by_label("Reason (ticket or note)").press("Enter")
    dialog.get_by_role("button", name="Replay", exact=True).click()
    page.get_by_text("1 replayed").wait_for(timeout=30_000)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "replayed.png"))

    [message] = read_topic(kafka_settings, kafka_settings.pending_topic, 1)
    assert message.key() == b"evt-click"
    with Database(kafka_settings.db).read() as con:
        [entry] = audit.query(con, audit.AuditFilter(actions=("replay",)))
    assert (entry.result, entry.actor, entry.reason) == (
        "success",
        "ana",
        "INC-300 from the browser",
    )

"""The incident flow in Chromium at 1400x900, on demo data in the test broker: from the Overview
with an alert firing to a finished bulk replay of the burst, in at most six clicks, typing only
the reason and the count, in the same tab."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dashboard.actions.selection import matching
from dashboard.adapters.db import Database
from dashboard.adapters.kafka import KafkaGateway
from dashboard.settings import Settings
from dashboard.triage import incident
from ingest.job import ingest_once
from tests.browser.conftest import ARTIFACTS, running_app
from tests.browser.test_pages_in_chromium import wait_for_app
from tests.conftest import REPO, settings_env
from tests.kafka_helpers import produce_demo

pytestmark = [pytest.mark.browser, pytest.mark.kafka]

MAX_CLICKS = 6
VIEWPORT_HEIGHT = 900


@pytest.fixture
def demo_app(kafka_settings: Settings, gateway: KafkaGateway, tmp_path: Path) -> Iterator[str]:
    produce_demo(gateway, kafka_settings.dlq_topic, 3000, partitions=3, seed=8)
    gateway.create_topic(kafka_settings.pending_topic, 3)
    ingest_once(kafka_settings)
    with running_app(
        {**settings_env(kafka_settings), "DLQ_OPERATOR": "ana"}, tmp_path / "app.log"
    ) as url:
        yield url


@pytest.fixture
def clicks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every click the test makes, whichever way it is made."""
    from playwright.sync_api import Locator, Page

    made: list[str] = []
    for cls in (Locator, Page):
        original = cls.click

        def counting(self: Any, *args: Any, _original: Any = original, **kw: Any) -> Any:
            made.append(str(args[0]) if args else str(self))
            return _original(self, *args, **kw)

        monkeypatch.setattr(cls, "click", counting)
    return made


def _burst_refs(settings: Settings) -> tuple[set[tuple[int, int]], str]:
    now = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    with Database(settings.db).read() as con:
        found = incident.current(con, settings, now)
        assert found is not None and found.selection is not None and found.burst is not None
        refs = matching(con, settings.dlq_topic, found.selection)
    assert len(refs) == found.burst.total
    return {(r.partition, r.offset) for r in refs}, found.burst.domain or ""


def _bottom(locator: Any) -> float:
    box = locator.bounding_box()
    assert box is not None
    return float(box["y"] + box["height"])


def test_from_the_overview_to_a_finished_bulk_replay_in_six_clicks(
    demo_app: str, browser_page: Any, kafka_settings: Settings, clicks: list[str]
) -> None:
    page = browser_page
    expected, domain = _burst_refs(kafka_settings)
    assert domain == "docs.partner-claims.example.com"  # the demo's systematic burst

    started = time.monotonic()
    page.goto(demo_app)
    wait_for_app(page)
    headline = page.get_by_text(f"records from {domain} failing since")
    button = page.get_by_role("button", name=f"Bulk replay these {len(expected):,} records…")
    # The incident and its button are on the first screen, with an alert firing.
    assert _bottom(headline) <= VIEWPORT_HEIGHT
    assert _bottom(button) <= VIEWPORT_HEIGHT
    assert page.get_by_text("Alert KafkaDLQGrowthRapid firing since").count() == 1
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "overview-incident.png"))
    if os.environ.get("DLQ_UPDATE_DOCS_SCREENSHOT") == "1":
        page.screenshot(path=str(REPO / "docs" / "overview.png"))

    button.click()
    dialog = page.get_by_role("dialog")
    dialog.wait_for(timeout=20_000)
    assert "records would be acted on" in dialog.inner_text()  # the preview, in the dialog
    # The reason field has the focus: the operator types straight away.
    page.wait_for_function(
        "() => document.activeElement?.closest('.st-key-bulk_dialog_reason') !== null",
        timeout=10_000,
    )
    page.keyboard.type("INC-777 partner certificate renewed")
    dialog.get_by_label(f"Type the number of records ({len(expected)}) to confirm").click()
    # A wrong count says why the button stays grey.
    page.keyboard.type(str(len(expected) - 1))
    dialog.get_by_text(f"{len(expected) - 1} is not {len(expected)}").wait_for(timeout=10_000)
    page.keyboard.press("Control+A")
    page.keyboard.type(str(len(expected)))
    dialog.get_by_text(f"is not {len(expected)}").wait_for(state="detached", timeout=10_000)
    # No Enter, no click elsewhere: the button enables as the count is typed.
    replay = dialog.get_by_role("button", name=f"Replay {len(expected):,} records")
    replay.wait_for(timeout=10_000)
    page.screenshot(path=str(ARTIFACTS / "incident-dialog.png"))
    replay.click(timeout=10_000)
    page.get_by_text(f"{len(expected):,} replayed").first.wait_for(timeout=90_000)
    page.get_by_text("(bulk ").first.wait_for(timeout=30_000)
    elapsed = time.monotonic() - started
    # The page around the finished bulk shows the records as they are now (before Done):
    # the burst's records are replayed, so nothing offers to replay them again.
    button.wait_for(state="detached", timeout=20_000)
    page.screenshot(path=str(ARTIFACTS / "overview-incident-replayed.png"))

    assert len(clicks) <= MAX_CLICKS, clicks
    assert len(page.context.pages) == 1  # no new tab
    assert elapsed < 120
    with Database(kafka_settings.db).read() as con:
        replayed = {
            (int(p), int(o))
            for p, o in con.execute(
                'SELECT "partition", "offset" FROM replays WHERE topic = ?',
                [kafka_settings.dlq_topic],
            ).fetchall()
        }
    assert replayed == expected

    # The pages the engineer reads next, after the replay, at the same size (for the eye).
    for path, name in (
        ("patterns", "patterns-after-incident"),
        (f"messages?domain_is={domain}&states=replayed", "messages-after-incident"),
        ("audit", "audit-after-incident"),
    ):
        page.goto(f"{demo_app}/{path}")
        wait_for_app(page)
        assert page.locator('[data-testid="stException"]').count() == 0
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"))

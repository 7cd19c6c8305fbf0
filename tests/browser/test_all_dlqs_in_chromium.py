"""The All DLQs page in Chromium, on three DLQs of different formats read from the real
broker: every DLQ listed most urgent first, each opening its own Overview, the choice kept
in the URL and across a page switch."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from dashboard.adapters.kafka import KafkaGateway
from dashboard.settings import Settings
from ingest.job import ingest_once
from tests.browser.conftest import ARTIFACTS, running_app
from tests.browser.test_pages_in_chromium import wait_for_app
from tests.conftest import settings_env
from tests.integration.dlqs_support import dlq, produce_shape, with_dlqs
from tests.kafka_helpers import produce_demo

pytestmark = [pytest.mark.kafka, pytest.mark.browser]

SCREENSHOT = Path("/tmp/all_dlqs.png")


def dlqs_toml(dlqs: list[dict[str, Any]]) -> str:
    lines = []
    for d in dlqs:
        lines.append("[[dlqs]]")
        lines += [f'{k} = "{v}"' for k, v in d.items() if not isinstance(v, dict)]
        for table, values in ((k, v) for k, v in d.items() if isinstance(v, dict)):
            lines.append(f"[dlqs.{table}]")
            lines += [f"{k} = {v}" for k, v in values.items()]
    return "\n".join(lines) + "\n"


def labels(texts: list[str]) -> list[str]:
    """Link texts without their icon's ligature name (the line before the label)."""
    return [t.strip().split("\n")[-1].strip() for t in texts]


def test_all_dlqs_lists_three_dlqs_and_opens_each_overview(
    kafka_settings: Settings, gateway: KafkaGateway, browser_page: Any, tmp_path: Path
) -> None:
    xact = dlq(kafka_settings, "xact", "xact-download")
    claimx = dlq(kafka_settings, "claimx", "claimx-download")
    generic: dict[str, Any] = {
        **dlq(kafka_settings, "generic", "envelope", replay_target="origin"),
        "severity": {"size_review_above": 50},  # its own, lower line: Warning at 200
    }
    produce_demo(gateway, xact["topic"], 30)
    produce_shape(gateway, claimx["topic"], "claimx-download", 20)
    produce_shape(gateway, generic["topic"], "envelope", 200)
    three = with_dlqs(kafka_settings, xact, claimx, generic)
    assert ingest_once(three).records == 250

    (tmp_path / "dlq.toml").write_text(dlqs_toml([xact, claimx, generic]))
    env = {
        k: v
        for k, v in settings_env(kafka_settings).items()
        if k not in ("DLQ_TOPIC", "DLQ_PENDING_TOPIC", "DLQ_REVIEW_GROUP")
    }
    page = browser_page
    with running_app(env, tmp_path / "app.log") as url:
        # The server's first request (test_first_visit_in_chromium.py checks that one alone).
        page.goto(f"{url}/all-dlqs")
        wait_for_app(page)
        assert page.get_by_text("Page not found").count() == 0
        assert page.locator("h1").first.inner_text() == "All DLQs"
        assert page.locator('[data-testid="stException"]').count() == 0
        # First in the navigation, before Overview.
        nav = page.locator('[data-testid="stSidebarNav"] a').all_inner_texts()
        assert labels(nav[:2]) == ["All DLQs", "Overview"]
        # The generic DLQ, over its own line, leads; every DLQ opens its own Overview.
        links = page.locator('[data-testid="stPageLink"] a')
        assert labels(links.all_inner_texts())[0] == "generic overview"
        assert sorted(labels(links.all_inner_texts())) == [
            "claimx overview",
            "generic overview",
            "xact overview",
        ]
        grid = page.locator('[data-testid="stDataFrame"]')
        grid.wait_for()
        page.set_viewport_size({"width": 1400, "height": 900})
        page.wait_for_timeout(1000)
        page.screenshot(path=str(SCREENSHOT))
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "all-dlqs.png"))

        page.get_by_text("claimx overview").click()
        wait_for_app(page)
        assert page.locator("h1").first.inner_text() == "DLQ overview"
        assert re.search(r"[?&]dlq=claimx\b", page.url)
        assert page.get_by_text(claimx["topic"]).count() >= 1
        assert page.get_by_text(xact["topic"]).count() == 0

        # A page switch keeps the DLQ, in the page and in the URL.
        page.locator('[data-testid="stSidebarNav"] a', has_text="Messages").click()
        wait_for_app(page)
        assert page.locator("h1").first.inner_text() == "Messages"
        assert page.get_by_text("20 records match").count() >= 1
        assert re.search(r"[?&]dlq=claimx\b", page.url)

        # A reload of a link to an unknown DLQ: one line naming the configured ones.
        page.goto(f"{url}/?dlq=nope")
        page.wait_for_selector('[data-testid="stAlert"]', timeout=60_000)
        alert = page.locator('[data-testid="stAlert"]').first.inner_text()
        assert "No DLQ named 'nope'" in alert and "xact, claimx, generic" in alert
        assert page.locator('[data-testid="stException"]').count() == 0

"""A server's first request straight to a page whose URL has a hyphen (a link from an alert
or a bookmark after a restart) shows that page, and no "Page not found" popup over it:
Streamlit 1.67 starts in pages-folder mode (pages/ beside the entry point), where a URL
finds its page only by the page file's name (see ui._route_through_entry_point)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import running_app
from tests.browser.test_pages_in_chromium import wait_for_app
from tests.snapshots import TOPIC, demo_records, write_snapshot

pytestmark = pytest.mark.browser

CONFIG = f"""
[[dlqs]]
name = "xact"
topic = "{TOPIC}"
review_group = "xact-review"

[[dlqs]]
name = "workers"
topic = "workers.dlq"
format = "envelope"
review_group = "workers-review"
"""


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("first-visit") / "demo.duckdb"
    write_snapshot(db, demo_records(500, now=datetime.now(UTC), seed=3))
    return db


@pytest.mark.parametrize(
    ("path", "title"),
    [
        ("daily-review?dlq=xact", "Daily DLQ review"),
        ("weekly-cleanup?dlq=xact", "Weekly DLQ cleanup"),
        ("all-dlqs", "All DLQs"),
    ],
)
def test_a_fresh_servers_first_request_to_a_hyphenated_page_shows_it(
    snapshot: Path, browser_page: Any, tmp_path: Path, path: str, title: str
) -> None:
    (tmp_path / "dlq.toml").write_text(CONFIG)
    env = {"DLQ_DB": str(snapshot), "DLQ_AUDIT_LOG": str(tmp_path / "audit.log")}
    page = browser_page
    with running_app(env, tmp_path / "app.log") as url:  # a new server: its first request
        page.goto(f"{url}/{path}")
        wait_for_app(page)
        page.wait_for_timeout(2000)  # the popup, when it comes, comes after the first paint
        assert page.get_by_text("Page not found").count() == 0
        assert page.locator("h1").first.inner_text() == title
        assert page.locator('[data-testid="stException"]').count() == 0
        if "dlq=xact" in path:
            assert "dlq=xact" in page.url

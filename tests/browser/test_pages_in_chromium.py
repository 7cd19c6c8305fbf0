"""Each page of the running app in Chromium: no error element, and a screenshot of each."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS, start_app
from tests.snapshots import TOPIC, demo_records, write_snapshot

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("browser-app")
    db = workdir / "demo.duckdb"
    write_snapshot(db, demo_records(3000, now=datetime.now(UTC), seed=8))
    process, url = start_app({"DLQ_DB": str(db), "DLQ_TOPIC": TOPIC}, workdir / "app.log")
    try:
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


def wait_for_app(page: Any, heading: str = "h1") -> None:
    page.wait_for_selector(f'[data-testid="stMainBlockContainer"] {heading}', timeout=60_000)
    page.wait_for_load_state("networkidle")
    # Streamlit reruns after the first paint (charts, bound widgets); let it settle.
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000
    )
    page.wait_for_timeout(1500)


@pytest.mark.parametrize(
    ("path", "title"),
    [
        ("", "DLQ overview"),
        ("patterns", "Failure patterns"),
        ("messages", "Messages"),
        ("daily-review", "Daily DLQ review"),
        ("weekly-cleanup", "Weekly DLQ cleanup"),
        ("reports", "DLQ report"),
        ("audit", "Audit trail"),
    ],
)
def test_each_page_renders_without_errors(
    app_url: str, browser_page: Any, path: str, title: str
) -> None:
    page = browser_page
    page.goto(f"{app_url}/{path}")
    wait_for_app(page)
    assert page.locator("h1").first.inner_text() == title
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.get_by_text("Page not found").count() == 0
    if path in ("", "patterns", "reports"):
        page.wait_for_selector(".js-plotly-plot", state="attached", timeout=60_000)
        page.wait_for_timeout(1000)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot: Path = ARTIFACTS / f"{path or 'overview'}.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 20_000


def test_a_shared_messages_link_reopens_the_same_view(app_url: str, browser_page: Any) -> None:
    page = browser_page
    page.goto(f"{app_url}/messages?domain=partner-claims&retry_count=0")
    wait_for_app(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    domain_box = page.get_by_label("Domain contains")
    assert domain_box.input_value() == "partner-claims"
    assert page.get_by_text("domain=partner-claims retry_count=0").count() >= 1


def test_the_escalation_page_fits_one_screenshot(app_url: str, browser_page: Any) -> None:
    page = browser_page  # 1400x900, the size the runbook's escalation screenshot is taken at
    page.goto(f"{app_url}/escalation")
    wait_for_app(page, "h4")
    assert page.locator('[data-testid="stException"]').count() == 0
    page.wait_for_selector(".js-plotly-plot", state="attached", timeout=60_000)
    page.wait_for_timeout(1000)
    # The pack's parts are all on the first screen: the notes field is the last of them.
    notes = page.get_by_label("Recent configuration or deployment changes")
    box = notes.bounding_box()
    assert box is not None and box["y"] + box["height"] <= 900, box
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot: Path = ARTIFACTS / "escalation.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 50_000


def test_a_link_to_one_record_opens_on_that_record(app_url: str, browser_page: Any) -> None:
    """Not on the table above it: found walking the demo, where the reader had to scroll."""
    page = browser_page
    record = f"{TOPIC}:1:7"
    page.goto(f"{app_url}/messages?record={record}")
    wait_for_app(page)
    heading = page.get_by_role("heading", name=f"Record {record}")
    heading.wait_for(timeout=30_000)
    on_top = (
        "() => { const h = document.getElementById('record');"
        " return h !== null && h.getBoundingClientRect().top >= 0"
        " && h.getBoundingClientRect().top < window.innerHeight / 2; }"
    )
    page.wait_for_function(on_top, timeout=10_000)
    # And it stays there once the table above it has taken its height.
    page.wait_for_timeout(3000)
    assert page.evaluate(on_top)
    page.screenshot(path=str(ARTIFACTS / "messages-record-link.png"))

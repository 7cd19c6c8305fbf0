"""The exported HTML files opened in Chromium as a recipient would: offline, charts shown."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from dashboard.adapters.db import Database
from dashboard.exports import escalation_pack, images, report_formats
from dashboard.exports.charts import ChartSource, group_figure
from dashboard.settings import Settings
from dashboard.triage import reports
from tests.browser.conftest import ARTIFACTS
from tests.snapshots import TOPIC, demo_records, write_snapshot

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    workdir = tmp_path_factory.mktemp("exports")
    db = workdir / "demo.duckdb"
    now = datetime.now(UTC)
    write_snapshot(db, demo_records(2000, now=now, seed=3))
    settings = Settings(dlq_topic=TOPIC, db=db)
    with Database(db).read() as con:
        report = reports.build(con, TOPIC, now, 7)
        pack = escalation_pack.build(con, settings, now, "10:05 worker 2.14 rolled out")
    report_pngs = images.named_pngs(report_formats.figures(report), *report_formats.CHART_SIZE)
    pack_pngs = images.named_pngs(
        escalation_pack.figures(pack, settings), *escalation_pack.CHART_SIZE
    )
    files = {
        "report": report_formats.to_html(report, report_pngs),
        "escalation": escalation_pack.to_html(pack, pack_pngs),
    }
    paths = {}
    for name, text in files.items():
        paths[name] = workdir / f"{name}.html"
        paths[name].write_text(text, encoding="utf-8")
    return paths


@pytest.mark.parametrize(("name", "charts"), [("report", 2), ("escalation", 1)])
def test_the_html_export_shows_its_charts_offline(
    exports: dict[str, Path], browser_page: Any, name: str, charts: int
) -> None:
    page = browser_page
    blocked: list[str] = []
    # A recipient may be offline: the file must not need anything outside itself.

    def only_the_file(route: Any) -> None:
        if route.request.url.startswith(("file:", "data:")):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    page.route("**/*", only_the_file)
    page.goto(exports[name].as_uri())
    page.wait_for_load_state("load")
    sizes = page.eval_on_selector_all(
        "img", "imgs => imgs.map(i => [i.complete, i.naturalWidth, i.naturalHeight])"
    )
    assert len(sizes) == charts
    for complete, width, height in sizes:
        assert complete and width > 300 and height > 200  # decoded, not a broken image
    assert blocked == []
    assert page.locator("h1").count() == 1
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / f"export-{name}.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 30_000


def test_chart_images_are_real_pngs_of_the_requested_size(chromium_path: str) -> None:
    source = ChartSource("xact.downloads.dlq", datetime(2026, 11, 20, 12, 0, tzinfo=UTC))
    figure = group_figure(
        ["permanent", "transient"], [120, 45], "Records by error category", source
    )
    first, second = images.png([figure, figure], 640, 360)
    (doubled,) = images.png([figure], 640, 360, scale=2)
    assert images.png_size(first) == images.png_size(second) == (640, 360)
    assert images.png_size(doubled) == (1280, 720)
    assert len(first) > 5_000  # drawn, not blank

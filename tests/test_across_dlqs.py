"""The report, the escalation pack and the reviews across every DLQ: each DLQ's own figures,
most urgent DLQ first, and one file holding every DLQ's section."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest

from dashboard.adapters.db import Database
from dashboard.cli.main import main
from dashboard.exports import across_dlqs as exports
from dashboard.settings import load_settings
from dashboard.triage import across_dlqs
from tests.test_dlq_summary import BUSY, CONFIG, NOW, QUIET, two_dlqs  # noqa: F401

LATER = NOW + timedelta(minutes=1)  # a period ends before its end: NOW's records in it


def test_the_report_has_each_dlqs_section_most_urgent_first_and_the_totals(
    two_dlqs: Path,  # noqa: F811
) -> None:
    settings = load_settings(two_dlqs)
    with Database.of(settings).read() as con:
        whole = across_dlqs.report_all(con, settings, LATER, 7)
    # busy (Warning: over its own size line) before quiet, though configured after it.
    assert [(s.name, s.report.topic, s.report.total) for s in whole.sections] == [
        ("busy", BUSY, 40),
        ("quiet", QUIET, 3),
    ]
    assert (whole.totals.total, whole.totals.stale_backlog) == (43, 0)

    md = exports.report_markdown(whole)
    headings = [line for line in md.splitlines() if line.startswith("#")]
    assert headings[0] == "# DLQ report: all DLQs"
    assert [h for h in headings if h.startswith("# ")] == [headings[0]]  # one title
    assert [h for h in headings if h.startswith("## ")] == [
        f"## busy ({BUSY})",
        f"## quiet ({QUIET})",
    ]
    assert md.count("### Error categories") == 2
    assert "43 records entered the DLQs" in md

    rows = list(csv.reader(io.StringIO(exports.report_csv(whole))))
    assert rows[0][:3] == ["dlq", "section", "label"]
    records = {r[0]: int(r[3]) for r in rows[1:] if r[1:3] == ["totals", "records"]}
    assert records == {"busy": 40, "quiet": 3, "all": 43}

    data = json.loads(exports.report_json(whole))
    assert [(d["name"], d["report"]["total"]) for d in data["dlqs"]] == [("busy", 40), ("quiet", 3)]
    assert data["totals"]["total"] == 43

    html = exports.report_html(whole)
    assert html.count("<h1>") == 1 and html.count(f"<h2>busy ({BUSY})</h2>") == 1
    assert html.count("<h3>Error categories</h3>") == 2


def test_the_escalation_pack_holds_the_dlqs_at_warning_or_worse(
    two_dlqs: Path,  # noqa: F811
) -> None:
    settings = load_settings(two_dlqs)
    with Database.of(settings).read() as con:
        named = exports.packs(con, settings, NOW, "deployed 2.14")
    assert [(p.name, p.pack.topic, p.pack.severity.level.label) for p in named] == [
        ("busy", BUSY, "Warning")
    ]
    md = exports.packs_markdown(named)
    assert md.startswith("# ") and md.count("\n# ") == 0
    assert f"## busy ({BUSY})" in md and QUIET not in md
    assert "deployed 2.14" in md
    archive = zipfile.ZipFile(io.BytesIO(exports.packs_zip(named, {"busy": {"growth": b"png"}})))
    assert sorted(archive.namelist()) == ["busy-growth.png", "escalation.md"]
    assert "](busy-growth.png)" in archive.read("escalation.md").decode()
    assert exports.packs_html(named).count("<h1>") == 1


def test_with_no_dlq_at_warning_the_pack_holds_every_dlq(
    two_dlqs: Path,  # noqa: F811
) -> None:
    # Without busy's own low size line, and a day later (no growth), both DLQs are Normal.
    two_dlqs.write_text(CONFIG.split("[dlqs.severity]")[0])
    settings = load_settings(two_dlqs)
    with Database.of(settings).read() as con:
        named = exports.packs(con, settings, NOW + timedelta(days=1))
    assert sorted(p.name for p in named) == ["busy", "quiet"]
    assert {p.pack.severity.level.label for p in named} == {"Normal"}
    md = exports.packs_markdown(named)
    assert f"## busy ({BUSY})" in md and f"## quiet ({QUIET})" in md


def test_the_reviews_give_each_dlqs_figures_by_its_own_settings(
    two_dlqs: Path,  # noqa: F811
) -> None:
    settings = load_settings(two_dlqs)
    with Database.of(settings).read() as con:
        days = across_dlqs.daily_all(con, settings, LATER)
        weeks = across_dlqs.weekly_all(con, settings, NOW + timedelta(days=8))
    assert [(r.summary.name, r.day.backlog, r.day.report.total) for r in days] == [
        ("busy", 40, 40),
        ("quiet", 3, 0),  # arrived two days ago
    ]
    # Eight days on, every record has waited over 7 days: the weekly cleanup's records.
    assert sorted((r.summary.name, r.week.old_backlog) for r in weeks) == [
        ("busy", 40),
        ("quiet", 3),
    ]


def test_dlq_report_all_dlqs_prints_one_report_with_every_dlq(
    two_dlqs: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["--config", str(two_dlqs), "report", "--no-refresh", "--all-dlqs"]
    assert main([*argv, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [d["name"] for d in data["dlqs"]] == ["busy", "quiet"]
    assert main(argv) == 0
    assert capsys.readouterr().out.startswith("# DLQ report: all DLQs")

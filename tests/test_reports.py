"""The DLQ report and the escalation pack, from a snapshot with known contents: the right
numbers in every format, nothing secret and nothing executable in any export."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import plotly.graph_objects as go
import pytest

from dashboard.actions import audit
from dashboard.adapters.db import Connection, Database
from dashboard.exports import escalation_pack, images, report_formats
from dashboard.settings import Settings
from dashboard.triage import reports
from dashboard.triage.filters import IN_BACKLOG
from dashboard.triage.patterns import top_values
from ingest.parse import RawRecord
from tests.conftest import REPO, run_cli
from tests.snapshots import TOPIC, pipeline_record, write_snapshot

END = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SECRET = "S3CR3TSIGNATURE"
EVIL_SIGNATURE = "<script>alert(1)</script> [click](javascript:alert(2)) =HYPERLINK(1)"


def records() -> list[RawRecord]:
    out: list[RawRecord] = []
    offset = 0

    def add(at: datetime, **kw: object) -> None:
        nonlocal offset
        out.append(pipeline_record(0, offset, at, **kw))  # type: ignore[arg-type]
        offset += 1

    # This period (the 7 days to END): 6 permanent on a.example.com, 3 transient on
    # b.example.org, 1 with a hostile error text; the period before: 2 transient.
    for i in range(6):
        add(
            END - timedelta(days=1, hours=i),
            category="permanent",
            error="HTTP 404: Not Found",
            url=f"https://a.example.com/claims/C-100{i}/f{i}.pdf?X-Amz-Signature={SECRET}",
        )
    for i in range(3):
        add(
            END - timedelta(days=2, hours=i),
            category="transient",
            url=f"https://b.example.org/x/{i}.pdf?sig={SECRET}",
        )
    add(
        END - timedelta(days=3),
        category="=cmd|' /C calc'!A0",
        error=EVIL_SIGNATURE,
        url="https://=evil.example.net/a.pdf",
    )
    for i in range(2):
        add(
            END - timedelta(days=9, hours=i),
            category="transient",
            url=f"https://b.example.org/old/{i}.pdf?token={SECRET}",
        )
    # Older than 7 days and unresolved: 2 (the two above).
    return out


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "r.duckdb"
    write_snapshot(path, records())
    with Database(path).write() as con:
        con.execute("BEGIN TRANSACTION")
        audit.append(
            con,
            [
                audit.NewEntry(
                    action="replay",
                    actor="ana",
                    result="success",
                    topic=TOPIC,
                    partition=0,
                    offset=6,
                    reason="r",
                ),
                audit.NewEntry(
                    action="replay",
                    actor="ana",
                    result="failure",
                    topic=TOPIC,
                    partition=0,
                    offset=7,
                    reason="r",
                ),
                audit.NewEntry(
                    action="resolve",
                    actor="bob",
                    result="success",
                    topic=TOPIC,
                    partition=0,
                    offset=0,
                    reason="r",
                ),
            ],
            now=END - timedelta(hours=1),
        )
        con.execute("COMMIT")
    return path


def test_the_report_numbers_match_independent_sql(db: Path) -> None:
    with Database(db).read() as con:
        report = reports.build(con, TOPIC, END, 7)
        start, before = END - timedelta(days=7), END - timedelta(days=14)

        def sql(query: str, *params: object, con: Connection = con) -> int:
            row = con.execute(query, list(params)).fetchone()
            return int(row[0]) if row else -1

        in_period = "FROM records WHERE topic = ? AND kafka_timestamp >= ? AND kafka_timestamp < ?"
        assert report.total == sql(f"SELECT count(*) {in_period}", TOPIC, start, END) == 10
        assert (
            report.previous_total == sql(f"SELECT count(*) {in_period}", TOPIC, before, start) == 2
        )
        categories = {c.label: (c.count, c.previous) for c in report.categories}
        assert categories["permanent"] == (
            sql(f"SELECT count(*) {in_period} AND error_category = 'permanent'", TOPIC, start, END),
            0,
        )
        assert categories["transient"] == (3, 2)
        assert [c.label for c in report.categories][:2] == ["permanent", "transient"]
        assert {c.label: c.count for c in report.top_domains}["a.example.com"] == 6
        # Every URL is unique; grouped by host and folder (ids and file names dropped).
        urls = {c.label: (c.count, c.previous) for c in report.top_urls}
        assert urls["https://a.example.com/claims/{id}/"] == (6, 0)
        assert urls["https://b.example.org/x/"] == (3, 0)
        assert report.top_urls[0].label == "https://a.example.com/claims/{id}/"
        assert (report.replayed, report.resolved) == (1, 1)  # failures are not actions taken
        assert {(a.action, a.actor, a.count) for a in report.actions} == {
            ("replayed", "ana", 1),
            ("resolved", "bob", 1),
        }
        assert (
            report.stale_backlog
            == sql(
                "SELECT count(*) FROM records WHERE topic = ? AND kafka_timestamp < ?",
                TOPIC,
                END - timedelta(days=7),
            )
            == 2
        )


def test_every_format_holds_the_same_numbers(db: Path) -> None:
    with Database(db).read() as con:
        report = reports.build(con, TOPIC, END, 7)
    data = json.loads(report_formats.to_json(report))
    assert (data["total"], data["previous_total"], data["stale_backlog"]) == (10, 2, 2)
    assert {c["label"]: c["count"] for c in data["top_signatures"]}["HTTP 404: Not Found"] == 6

    rows = list(csv.DictReader(io.StringIO(report_formats.to_csv(report))))
    by_key = {(r["section"], r["label"]): r for r in rows}
    assert by_key[("totals", "records")]["count"] == "10"
    assert by_key[("totals", "records")]["previous_period"] == "2"
    assert by_key[("Error categories", "transient")]["change"] == "1"
    assert by_key[("actions", "resolved")]["count"] == "1"

    markdown = report_formats.to_markdown(report)
    assert "| Records entering the DLQ | 10 | 2 | +8 (+400%) |" in markdown
    assert "| transient | 3 | 30.0% | 2 | +1 (+50%) |" in markdown
    assert "**2**" in markdown  # backlog older than 7 days

    html = report_formats.to_html(report)
    assert "<td>Records entering the DLQ</td><td>10</td><td>2</td><td>+8 (+400%)</td>" in html
    assert "<td>transient</td><td>3</td><td>30.0%</td><td>2</td><td>+1 (+50%)</td>" in html


def test_no_export_carries_a_signed_url_or_runnable_content(db: Path, tmp_path: Path) -> None:
    with Database(db).read() as con:
        report = reports.build(con, TOPIC, END, 30)
        pack = escalation_pack.build(
            con, Settings(dlq_topic=TOPIC, db=db), END, notes="deployed <b>v2</b> [see](http://x)"
        )
    exports = {
        "md": report_formats.to_markdown(report),
        "html": report_formats.to_html(report),
        "json": report_formats.to_json(report),
        "csv": report_formats.to_csv(report),
        "pack.md": escalation_pack.to_markdown(pack),
        "pack.html": escalation_pack.to_html(pack),
    }
    for name, text in exports.items():
        assert SECRET not in text, name
        # JSON and CSV are data and keep the text as it was (CSV minus formula triggers);
        # the documents people open must not turn it into markup.
        if name.endswith("html"):
            assert "<script>" not in text, name
        # Markdown: an escaped "<" or "]" shows as text, so neither a tag nor a link is live.
        if name.endswith("md"):
            assert not re.search(r"(?<!\\)<script", text), name
            assert not re.search(r"(?<!\\)\]\(javascript:", text), name
        # In HTML the same characters are inert text, so there the check is that no
        # attribute carries a script URL.
        if name.endswith("html"):
            assert not re.search(r"(href|src)\s*=\s*[\"']?\s*javascript:", text, re.I), name
    assert "&lt;script&gt;" in exports["html"] and "&lt;b&gt;v2&lt;/b&gt;" in exports["pack.html"]
    assert "\\<script>" in exports["md"] and "\\[see\\](http://x)" in exports["pack.md"]
    cells = [cell for row in csv.reader(io.StringIO(exports["csv"])) for cell in row]
    assert "'=cmd|' /c calc'!a0" in cells  # categories are stored lower-cased
    assert not any(cell.startswith(("=", "+", "@")) for cell in cells)
    assert "Content-Security-Policy" in exports["html"] and "<script" not in exports["html"]


def test_the_escalation_pack_holds_what_the_runbook_asks_for(db: Path) -> None:
    settings = Settings(dlq_topic=TOPIC, db=db)
    with Database(db).read() as con:
        pack = escalation_pack.build(con, settings, END, notes="10:05 worker 2.14 rolled out")
    assert pack.size.backlog == 12
    assert pack.top_signatures[0] == ("HTTP 404: Not Found", 6)
    assert pack.sample_ref is not None
    sample = {k: v for section in pack.sample for k, v in section.rows}
    assert sample["Error"] == "HTTP 404: Not Found"  # the commonest error, newest record
    assert sample["Timestamp"].startswith("2026-11-19T12:00")
    assert [e.action for e in pack.actions] == ["resolve", "replay", "replay"]
    assert len(pack.growth) == 24 * 6
    text = escalation_pack.to_markdown(pack, {"growth": "growth.png"})
    for heading in (
        "DLQ count and growth",
        "Common error patterns",
        "Sample record",
        "Recent configuration or deployment changes",
        "Actions already attempted",
        "Escalation criteria",
    ):
        assert f"## {heading}" in text
    assert "![growth](growth.png)" in text
    assert "10:05 worker 2.14 rolled out" in text
    archive = zipfile.ZipFile(io.BytesIO(escalation_pack.markdown_zip(pack, {"growth": b"png"})))
    assert sorted(archive.namelist()) == ["escalation.md", "growth.png"]


def test_dlq_report_cli_prints_each_format(db: Path, tmp_path: Path) -> None:
    env = {"PYTHONPATH": str(REPO), "DLQ_DB": str(db), "DLQ_TOPIC": TOPIC}
    done = run_cli(["report", "--days", "3650", "--format", "json", "--no-refresh"], env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["total"] == 12
    out = tmp_path / "r.csv"
    done = run_cli(
        ["report", "--days", "3650", "--format", "csv", "--no-refresh", "--output", str(out)],
        env,
        tmp_path,
    )
    assert done.returncode == 0 and "records,12" in out.read_text()
    page = tmp_path / "r.html"
    done = run_cli(
        ["report", "--days", "3650", "--format", "html", "--no-refresh", "--output", str(page)],
        env,
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert page.read_text().count('src="data:image/png;base64,') == 2
    done = run_cli(["report", "--days", "3650", "--no-refresh"], env, tmp_path)  # md default
    assert "| Records entering the DLQ | 12 | 0 |" in done.stdout
    assert run_cli(["report", "--days", "0", "--no-refresh"], env, tmp_path).returncode == 2


def test_the_pack_counts_its_incident_window_only(db: Path) -> None:
    as_of = END - timedelta(days=2) + timedelta(minutes=30)  # just after a transient failure
    settings = Settings(dlq_topic=TOPIC, db=db)
    with Database(db).read() as con:
        pack = escalation_pack.build(con, settings, as_of, "")
        chosen = escalation_pack.build(
            con, settings, as_of, "", since=END - timedelta(days=2, hours=3)
        )
    # No alert and no burst: the window starts at the oldest unresolved record. The 404s
    # arrive after `as_of` and are not part of it.
    assert pack.window.start == END - timedelta(days=9, hours=1)
    assert "oldest record in the backlog" in pack.window.why
    timeout = "Connection timeout after <n>s - retries exhausted (<n> attempts)"
    assert pack.top_signatures[0] == (timeout, 5)
    assert "HTTP 404: Not Found" not in dict(pack.top_signatures)
    sample = {k: v for section in pack.sample for k, v in section.rows}
    assert sample["Category"] == "transient"
    assert sample["Timestamp"].startswith("2026-11-18T12:00")  # the newest in the window
    # A window chosen by hand: only the three timeouts of the last hours.
    assert (chosen.window.why, chosen.window_records) == ("chosen", 3)
    assert chosen.top_signatures == [(timeout, 3)]


def test_without_chromium_the_exports_say_so_instead_of_failing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(images, "chromium_path", lambda: None)
    with pytest.raises(images.ImagesUnavailable, match="apt-get install chromium"):
        images.named_pngs({"growth": go.Figure()}, 100, 100)


def test_top_values_count_the_scope_by_dimension(db: Path) -> None:
    with Database(db).read() as con:
        assert top_values(con, TOPIC, IN_BACKLOG, "domain", 2) == [
            ("a.example.com", 6),
            ("b.example.org", 5),
        ]
        old = replace(IN_BACKLOG, until=END - timedelta(days=7))
        assert top_values(con, TOPIC, old, "error_category", 5) == [("transient", 2)]

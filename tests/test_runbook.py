"""The runbook's wording as data: the shipped file loads, a team's edited copy changes what
the pages and the escalation pack show, and a broken copy is refused with the file and key."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import streamlit as st

from dashboard.adapters.db import Database
from dashboard.exports import escalation_pack
from dashboard.settings import Settings
from dashboard.triage import escalation, patterns, runbook
from dashboard.triage.runbook import PATTERN_KEYS, SHIPPED, RunbookError, load
from tests.snapshots import TOPIC, demo_records, write_snapshot
from tests.test_app_pages import app, texts

SHIPPED_TEXT = SHIPPED.read_text()


def edited(tmp_path: Path, *replacements: tuple[str, str]) -> Path:
    text = SHIPPED_TEXT
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new, 1)
    path = tmp_path / "our-runbook.toml"
    path.write_text(text)
    return path


def test_the_shipped_runbook_loads_and_is_what_the_code_uses() -> None:
    shipped = load(SHIPPED)
    assert list(shipped.patterns) == list(PATTERN_KEYS)
    assert [p.number for p in shipped.patterns.values()] == [1, 2, 3, 4, 5]
    assert shipped.patterns == patterns.RUNBOOK_PATTERNS
    expired = shipped.patterns["expired_url"]
    assert expired.title == "Invalid/expired URLs (404, 410)"
    assert isinstance(expired.resolution, tuple) and len(expired.resolution) == 4
    assert shipped.escalation.growth.format(limit="50") == (
        "DLQ growth > 50 messages/min (systematic failure)"
    )
    assert shipped.pack.changes == "Recent configuration or deployment changes"


def test_dlq_runbook_names_a_teams_copy() -> None:
    assert runbook.configured_path({}) == SHIPPED
    assert runbook.configured_path({"DLQ_RUNBOOK": "/etc/dlq/runbook.toml"}) == Path(
        "/etc/dlq/runbook.toml"
    )


@pytest.fixture
def small_db(tmp_path: Path) -> Path:
    db = tmp_path / "demo.duckdb"
    write_snapshot(db, demo_records(400, now=datetime.now(UTC), seed=3))
    return db


def test_an_edited_runbook_changes_the_patterns_page(
    small_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ours = load(
        edited(
            tmp_path,
            ('root_cause = "Presigned URLs expired', 'root_cause = "The CDN link timed out'),
            ('"Reduce event-to-download latency."', '"Page the ingestion team (#ingest-oncall)."'),
        )
    )
    monkeypatch.setattr(patterns, "RUNBOOK_PATTERNS", ours.patterns)
    monkeypatch.chdir(tmp_path)
    try:
        at = app(small_db, monkeypatch, "patterns")
        shown = "\n".join(texts(at.markdown))
    finally:
        st.cache_data.clear()
    assert "The CDN link timed out" in shown
    assert "Page the ingestion team (#ingest-oncall)." in shown
    assert "Presigned URLs expired" not in shown


def test_an_edited_runbook_changes_the_escalation_criteria_and_pack(
    small_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ours = load(
        edited(
            tmp_path,
            ('growth = "DLQ growth > {limit}', 'growth = "Inflow above {limit}'),
            (
                'changes = "Recent configuration or deployment changes"',
                'changes = "Changes rolled out this week"',
            ),
            ('title = "DLQ escalation"', 'title = "L3 hand-over"'),
        )
    )
    monkeypatch.setattr(runbook, "RUNBOOK", ours)
    settings = Settings(dlq_topic=TOPIC, db=small_db)
    as_of = datetime.now(UTC)
    with Database(small_db).read() as con:
        titles = [c.title for c in escalation.check(con, settings, as_of)]
        pack = escalation_pack.build(con, settings, as_of)
    assert titles[0] == "Inflow above 50 messages/min (systematic failure)"
    markdown = escalation_pack.to_markdown(pack)
    assert markdown.startswith(f"# L3 hand-over: {TOPIC}")
    assert "## Changes rolled out this week\n" in markdown
    assert "- MET: Inflow above 50" in markdown or "- not met: Inflow above 50" in markdown
    html = escalation_pack.to_html(pack)
    assert "<h2>Changes rolled out this week</h2>" in html
    assert "DLQ escalation" not in html


@pytest.mark.parametrize(
    ("replacements", "expected"),
    [
        (
            (('key = "file_type"\n', 'key = "file_type"\nowner = "team-a"\n'),),
            "patterns[file_type].owner: unknown key",
        ),
        (
            (('root_cause = "Persistent network', 'cause = "Persistent network'),),
            "patterns[network_timeout].root_cause: Field required",
        ),
        (
            (("number = 4\n", 'number = "4"\n'),),
            "patterns[onelake_upload].number: Input should be a valid integer",
        ),
        (
            (('prevention = [\n    "Review allowed', 'prevention = "Review allowed'),),
            "is not valid TOML: ",  # with the line and column
        ),
        (
            (('key = "onelake_upload"', 'key = "storage_upload"'),),
            "patterns: Value error, the patterns must be exactly expired_url",
        ),
        (
            (("{limit} messages/min", "{count} messages/min"),),
            "escalation.growth: Value error, the only placeholder is {limit}",
        ),
        (
            (('actions = "Actions already attempted"\n', ""),),
            "pack.actions: Field required",
        ),
        (
            (('short = "File type"', 'short = "  "'),),
            "patterns[file_type].short: String should have at least 1 character",
        ),
    ],
)
def test_a_broken_runbook_is_refused_naming_the_file_and_key(
    tmp_path: Path, replacements: tuple[tuple[str, str], ...], expected: str
) -> None:
    path = edited(tmp_path, *replacements)
    with pytest.raises(RunbookError) as raised:
        load(path)
    message = str(raised.value)
    assert message.startswith(f"runbook {path}"), message
    assert expected in message, message
    assert "\n" not in message


def test_a_missing_runbook_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RunbookError, match=r"runbook .*nowhere\.toml cannot be read"):
        load(tmp_path / "nowhere.toml")

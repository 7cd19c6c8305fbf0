"""Every configured DLQ at a glance (`dlq dlqs`): each judged by its own bands and rules,
the most urgent first, in the table and as JSON."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dashboard.cli.main import main
from dashboard.triage.dlq_summary import DlqSummary
from dashboard.triage.severity import Level
from tests.snapshots import pipeline_record, write_snapshot

NOW = datetime.now(UTC).replace(microsecond=0)
QUIET, BUSY = "claimx.downloads.dlq", "xact.downloads.dlq"
CONFIG = f"""
[[dlqs]]
name = "quiet"
topic = "{QUIET}"
format = "claimx-download"
review_group = "claimx-review"

[[dlqs]]
name = "busy"
topic = "{BUSY}"
review_group = "xact-review"
[dlqs.severity]
size_review_above = 10
"""


@pytest.fixture
def two_dlqs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    db = tmp_path / "snapshot.duckdb"
    # The busy DLQ: 40 records in the last half hour, over its own size line (10); the quiet
    # one: 3 old records, under the runbook's default line (1,000).
    busy = [pipeline_record(0, i, NOW - timedelta(minutes=i % 30), topic=BUSY) for i in range(40)]
    quiet = [pipeline_record(0, i, NOW - timedelta(days=2), topic=QUIET) for i in range(3)]
    write_snapshot(db, busy, topic=BUSY)
    write_snapshot(db, quiet, topic=QUIET)
    config = tmp_path / "dlq.toml"
    config.write_text(CONFIG)
    monkeypatch.chdir(tmp_path)
    for name in ("DLQ_TOPIC", "DLQ_PENDING_TOPIC", "DLQ_REVIEW_GROUP"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DLQ_DB", str(db))
    monkeypatch.setenv("DLQ_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    return config


def test_every_dlq_is_listed_most_urgent_first(
    two_dlqs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(two_dlqs), "dlqs", "--no-refresh", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    # Listed by urgency, not in the configured order; each with its own bands.
    assert [r["name"] for r in rows] == ["busy", "quiet"]
    busy, quiet = rows
    assert (busy["topic"], busy["backlog"], busy["severity"]) == (BUSY, 40, "Warning")
    assert busy["format"] == "xact-download" and busy["replay_target"] == "xact.downloads.pending"
    assert (quiet["backlog"], quiet["severity"], quiet["entered_last_hour"]) == (3, "Normal", 0)
    assert quiet["format"] == "claimx-download"
    assert quiet["replay_target"] == "claimx.downloads.pending"

    assert main(["--config", str(two_dlqs), "dlqs", "--no-refresh"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["DLQ", "Topic", "Format", "Replays"]
    assert [line.split()[0] for line in lines[2:]] == ["busy", "quiet"]


def test_dlq_list_all_dlqs_lists_each_dlq_in_turn(
    two_dlqs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--config", str(two_dlqs), "list", "--all-dlqs", "--no-refresh"]
    assert main([*argv, "--format", "json"]) == 0
    listings = json.loads(capsys.readouterr().out)
    assert [(x["dlq"], x["topic"], x["counts"]["backlog"]) for x in listings] == [
        ("quiet", QUIET, 3),
        ("busy", BUSY, 40),
    ]
    assert [len(x["records"]) for x in listings] == [3, 40]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "# quiet (claimx.downloads.dlq)" in out and "# busy (xact.downloads.dlq)" in out
    # Without --all-dlqs, the first configured DLQ only.
    assert main(["--config", str(two_dlqs), "list", "--no-refresh", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["topic"] == QUIET


def test_alerts_are_counted_for_the_table_and_named_for_the_line_under_it() -> None:
    quiet = DlqSummary("a", "t", "xact-download", "p", 0, 0, 0, Level.NORMAL, (), ())
    assert (quiet.alerts_counted, quiet.alerts_named) == ("-", "")
    loud = replace(
        quiet,
        firing=("KafkaDLQGrowthRapid", "KafkaDLQSizeHigh"),
        pending=("KafkaDLQGrowthWarning",),
    )
    assert loud.alerts_counted == "2 FIRING, 1 pending"
    assert loud.alerts_named == (
        "FIRING KafkaDLQGrowthRapid, KafkaDLQSizeHigh; pending KafkaDLQGrowthWarning"
    )

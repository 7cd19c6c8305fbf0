"""The audit of one DLQ: the query keeps that DLQ's records' entries and those of no record
(a bulk action's summary), so the newest entries shown are that DLQ's, not the newest of all
DLQs filtered afterwards; `dlq audit list --dlq` and `--all-dlqs` read it the same way."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dashboard.actions import audit
from dashboard.adapters.db import Database, transaction
from dashboard.cli.main import main
from dashboard.settings import load_settings

CONFIG = """
db = "{db}"
audit_log = "{log}"
audit_topic = "off"

[[dlqs]]
name = "xact"
topic = "xact.downloads.dlq"
review_group = "g1"

[[dlqs]]
name = "workers"
topic = "workers.dlq"
format = "envelope"
review_group = "g2"
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "dlq.toml"
    path.write_text(CONFIG.format(db=tmp_path / "s.duckdb", log=tmp_path / "audit.jsonl"))
    settings = load_settings(path, environ={})
    at = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    # One xact replay, then many more recent entries of the workers DLQ, then a summary.
    entries = [audit.NewEntry("replay", "ana", "success", "t-x", "xact.downloads.dlq", 0, 1)]
    entries += [
        audit.NewEntry("replay", "ana", "success", f"t-{i}", "workers.dlq", 0, i) for i in range(20)
    ]
    entries.append(audit.NewEntry("bulk-start", "ana", "success", bulk_id="b1"))
    with Database.of(settings).write() as con, transaction(con):
        audit.append(con, entries, at)
    return path


def test_the_query_keeps_one_dlqs_entries_and_those_of_no_record(config: Path) -> None:
    settings = load_settings(config, environ={})
    with Database.of(settings).read() as con:
        # The newest 5 of the xact DLQ: its replay and the summary, though 20 newer entries
        # of the workers DLQ come between them.
        xact = audit.query(con, audit.AuditFilter(topics=("xact.downloads.dlq",)), 5)
        every = audit.query(con, audit.AuditFilter(), 5)
    assert [(e.action, e.topic) for e in xact] == [
        ("bulk-start", None),
        ("replay", "xact.downloads.dlq"),
    ]
    assert len(every) == 5
    assert {e.topic for e in every} == {None, "workers.dlq"}


def test_dlq_audit_list_reads_the_chosen_dlq_or_every_dlq(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def listed(*args: str) -> list[str | None]:
        assert main(["--config", str(config), "audit", "list", "--format", "json", *args]) == 0
        return [e["topic"] for e in json.loads(capsys.readouterr().out)]

    assert listed() == [None, "xact.downloads.dlq"]  # the first DLQ by default
    assert listed("--dlq", "xact", "--limit", "3") == [None, "xact.downloads.dlq"]
    assert listed("--dlq", "workers", "--limit", "3") == [None, "workers.dlq", "workers.dlq"]
    assert listed("--all-dlqs") == [None, *["workers.dlq"] * 20, "xact.downloads.dlq"]

"""An action the preview leaves nothing to do still prints its report with --format json:
a script reads one shape of output whether or not any record was left to act on."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli
from tests.snapshots import TOPIC, demo_records, write_snapshot


def test_json_report_lists_every_refused_record_when_nothing_is_left(tmp_path: Path) -> None:
    db = tmp_path / "dlq.duckdb"
    records = demo_records(6, partitions=1, seed=5)
    # The review group has passed every record: each is resolved already.
    write_snapshot(db, records, committed={0: len(records)})
    refs = [f"{TOPIC}:0:{offset}" for offset in (1, 4)]
    env = {
        "DLQ_DB": str(db),
        "DLQ_TOPIC": TOPIC,
        "DLQ_OPERATOR": "ana",
        "DLQ_AUDIT_LOG": str(tmp_path / "audit.jsonl"),
        # No broker: nothing here may need one.
        "DLQ_BOOTSTRAP_SERVERS": "127.0.0.1:1",
    }
    done = run_cli(
        ["replay", *refs, "--reason", "INC-1", "--yes", "--no-refresh", "--format", "json"],
        env,
        tmp_path,
    )
    assert done.returncode == 1, done.stderr  # refused, not a crash
    assert "nothing to do" in done.stderr
    report = json.loads(done.stdout)
    assert report["bulk_id"] is None
    assert [(r["record"], r["result"]) for r in report["results"]] == [
        (ref, "refused") for ref in refs
    ]
    assert all(r["error"].startswith("already resolved") for r in report["results"])
    assert "2 refused" in report["summary"]

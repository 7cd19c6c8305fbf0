"""`discover = "*.dlq"`: topics matching the pattern are read as "any"-format DLQs until
configured; the dashboard and the CLI add those the snapshot holds, marked discovered."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dashboard.cli.main import main
from dashboard.settings import Settings, SettingsError, load_settings
from ingest.parse import RawRecord
from tests.snapshots import TOPIC, write_snapshot

CONFIGURED = Settings.model_validate(
    {
        "discover": "*.dlq",
        "dlqs": [{"name": "xact", "topic": TOPIC, "review_group": "g1"}],
    }
)


def test_matching_topics_become_any_dlqs_replayed_to_their_origin() -> None:
    found = CONFIGURED.with_discovered(
        [TOPIC, "orders.dlq", "payments.dlq", "orders.pending", "__consumer_offsets", "_x.dlq"]
    )
    assert [(d.name, d.topic, d.discovered) for d in found.dlq_list] == [
        ("xact", TOPIC, False),
        ("orders", "orders.dlq", True),
        ("payments", "payments.dlq", True),
    ]
    orders = found.dlq("orders")
    assert (orders.format, orders.replay_target, orders.review_group) == (
        "any",
        "origin",
        "orders-review",
    )
    assert found.for_dlq("orders").dlq_topic == "orders.dlq"


def test_names_never_clash_nor_take_the_selectors_all() -> None:
    found = CONFIGURED.with_discovered(["xact.dlq", "all.dlq", "x+y.dlq"])
    assert sorted(d.name for d in found.dlq_list if d.discovered) == ["all-2", "x-y", "xact-2"]


def test_no_pattern_discovers_nothing() -> None:
    settings = Settings()
    assert settings.with_discovered(["orders.dlq"]) is settings


def test_a_file_cannot_mark_a_dlq_discovered(tmp_path: Path) -> None:
    (tmp_path / "dlq.toml").write_text(
        f'[[dlqs]]\nname = "x"\ntopic = "{TOPIC}"\nreview_group = "g"\ndiscovered = true\n'
    )
    with pytest.raises(SettingsError, match="discovered is not set in a file"):
        load_settings(environ={}, cwd=tmp_path)


def test_dlq_dlqs_lists_the_discovered_dlqs_the_snapshot_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "s.duckdb"
    write_snapshot(db, [])
    raw = [RawRecord(0, i, b"not json", topic="orders.dlq") for i in range(3)]
    write_snapshot(db, raw, topic="orders.dlq", formats={"orders.dlq": "any"})
    config = tmp_path / "dlq.toml"
    config.write_text(
        f'db = "{db}"\ndiscover = "*.dlq"\n\n'
        f'[[dlqs]]\nname = "xact"\ntopic = "{TOPIC}"\nreview_group = "g1"\n'
    )
    monkeypatch.chdir(tmp_path)
    assert main(["--config", str(config), "dlqs", "--format", "json", "--no-refresh"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["orders"]["discovered"] is True
    assert rows["orders"]["format"] == "any"
    assert rows["orders"]["backlog"] == 3
    assert rows["xact"]["discovered"] is False
    assert main(["--config", str(config), "dlqs", "--no-refresh"]) == 0
    assert "orders (discovered)" in capsys.readouterr().out
    # --dlq takes a discovered DLQ's name like a configured one's.
    assert main(["--config", str(config), "list", "--dlq", "orders", "--no-refresh"]) == 0

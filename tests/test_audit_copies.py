"""The audit's copies against each other: an entry cut from the end of the table or the log
file is found (a chain alone only proves what came before its last link), and an entry a
copy could not take (a full disk) is reported at once and named by verify."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboard.actions import audit
from dashboard.actions.audit_copies import AuditCopies
from dashboard.actions.audit_entries import audit_look
from dashboard.actions.audit_verify import verify_all
from dashboard.actions.identity import Identity
from dashboard.adapters.db import Database, transaction
from dashboard.settings import Settings
from tests.conftest import REPO, SettingsFactory, run_cli, settings_env

ANA = Identity("ana", "settings", True)


@pytest.fixture
def three_looks(make_settings: SettingsFactory) -> Settings:
    settings = make_settings()
    for _ in range(3):
        assert audit_look(settings, ANA, "list") == []
    return settings


def _verify(settings: Settings, tmp_path: Path) -> tuple[int, str]:
    env = {**settings_env(settings), "PYTHONPATH": str(REPO)}
    done = run_cli(["audit", "verify"], env, tmp_path)
    return done.returncode, done.stdout + done.stderr


def test_intact_copies_agree(three_looks: Settings, tmp_path: Path) -> None:
    code, out = _verify(three_looks, tmp_path)
    assert code == 0, out
    assert "copies agree" in out


def test_lines_cut_from_the_end_of_the_file_are_found(
    three_looks: Settings, tmp_path: Path
) -> None:
    lines = three_looks.audit_log.read_text().splitlines(keepends=True)
    three_looks.audit_log.write_text("".join(lines[:1]))
    code, out = _verify(three_looks, tmp_path)
    assert code == 1
    assert "entry 2 is in the database" in out
    assert f"log file {three_looks.audit_log} ends at entry 1" in out


def test_an_emptied_file_is_found(three_looks: Settings, tmp_path: Path) -> None:
    three_looks.audit_log.unlink()
    code, out = _verify(three_looks, tmp_path)
    assert code == 1
    assert "entry 1 is in the database" in out and "is empty" in out


def test_rows_cut_from_the_end_of_the_table_are_found(
    three_looks: Settings, tmp_path: Path
) -> None:
    with Database.of(three_looks).write() as con, transaction(con):
        con.execute("DELETE FROM audit_log WHERE audit_id >= 2")
    code, out = _verify(three_looks, tmp_path)
    assert code == 1
    assert "entry 2 is in the log file" in out
    assert "database" in out and "ends at entry 1" in out


def test_a_full_disk_under_the_log_is_reported_at_once_and_named_by_verify(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    full = make_settings(audit_log=Path("/dev/full"))
    missing = audit_look(full, ANA, "list")
    assert missing == ["audit entry 1 missing in the log file /dev/full (No space left on device)"]
    # The entry is in the table; verify names what the file lacks.
    readable = make_settings(audit_log=tmp_path / "after-the-disk-filled.jsonl")
    assert audit_look(readable, ANA, "list") == []
    check = verify_all(readable)
    assert not check.ok
    assert any("entry 1 is in the database" in line for line in check.lines), check.lines


def test_once_kafka_is_known_down_entries_are_reported_missing_from_the_topic_at_once(
    make_settings: SettingsFactory,
) -> None:
    # Port 9 (discard) has no broker: a write that tried the topic would wait out its
    # timeout and create a client; one told Kafka is down does neither.
    settings = make_settings(bootstrap_servers="127.0.0.1:9", audit_topic="audit.t")
    with Database(settings.db).write() as con, transaction(con):
        made = audit.append(con, [audit.NewEntry("list", "ana", "success")])
    copies = AuditCopies(settings)
    copies.kafka_down("Kafka at 127.0.0.1:9 is not answering")
    missing = copies.write(made)
    assert missing == [
        f"audit entry {made[0].audit_id} missing in the audit topic audit.t "
        "(Kafka at 127.0.0.1:9 is not answering)"
    ]
    assert copies._sender is None  # no client was made, so nothing waited for one
    assert settings.audit_log.read_text().count("\n") == 1  # the log file still has it

"""`dlq audit resend`: after Kafka was down, the audit topic gets the entries it missed, and
`dlq audit verify` agrees again; an entry one copy alone holds is never resent."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import pytest

from dashboard.actions import audit
from dashboard.actions.audit_copies import AuditCopies
from dashboard.actions.audit_entries import audit_look
from dashboard.actions.audit_resend import resend_missing
from dashboard.actions.audit_verify import verify_all
from dashboard.actions.identity import Identity
from dashboard.actions.values import Refused
from dashboard.adapters.db import Database, transaction
from dashboard.settings import Settings
from tests.conftest import REPO, run_cli, settings_env

pytestmark = pytest.mark.kafka

ANA = Identity("ana", "settings", True)


def _written_while_kafka_was_down(settings: Settings) -> int:
    """An entry as an action makes it when Kafka does not answer: in the table and the log
    file, reported missing in the topic."""
    with Database.of(settings).write() as con, transaction(con):
        made = audit.append(con, [audit.NewEntry("list", "ana", "success")])
    copies = AuditCopies(settings)
    copies.kafka_down("Kafka at 127.0.0.1:9092 is not answering")
    assert copies.write(made) != []
    return made[0].audit_id


def test_entries_missed_while_kafka_was_down_are_resent_and_verify_agrees(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    settings = kafka_settings
    assert settings.audit_topic_name is not None
    for _ in range(2):
        assert audit_look(settings, ANA, "list") == []
    missed = _written_while_kafka_was_down(settings)
    assert audit_look(settings, ANA, "list") == []  # Kafka is back: a later entry goes on

    broken = verify_all(settings)
    assert not broken.ok
    assert any(f"entry {missed} is in the database" in line for line in broken.lines)
    assert any("dlq audit resend" in line for line in broken.lines)

    env = {**settings_env(settings), "PYTHONPATH": str(REPO)}
    anonymous = run_cli(["audit", "resend", "--reason", "INC-3"], env, tmp_path)
    assert anonymous.returncode == 1 and "refused" in anonymous.stderr  # no operator
    env["DLQ_OPERATOR"] = "ana"
    done = run_cli(["audit", "resend", "--reason", "INC-3 Kafka was down"], env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert (
        done.stdout.strip()
        == f"resent entry {missed} to the audit topic {settings.audit_topic_name}"
    )

    mended = verify_all(settings)
    assert mended.ok, mended.lines
    # Who copied it late, and why: the resend is itself an entry of every copy.
    assert any(
        f"entry {missed} copied to it late by a resend" in line
        and "by ana at" in line
        and "(INC-3 Kafka was down)" in line
        for line in mended.lines
    ), mended.lines
    assert resend_missing(settings, ANA, "again").ids == []  # nothing left to resend
    again = run_cli(["audit", "verify"], env, tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr


def test_an_entry_that_reached_the_topic_late_without_a_resend_fails_verify(
    kafka_settings: Settings,
) -> None:
    settings = kafka_settings
    assert audit_look(settings, ANA, "list") == []
    missed = _written_while_kafka_was_down(settings)
    assert audit_look(settings, ANA, "list") == []
    # Copied to the topic by hand, around the resend and its audit entry.
    with Database.of(settings).read() as con:
        [entry] = [e for e in audit.stored_entries(con) if e.audit_id == missed]
    with closing(AuditCopies(settings)) as copies:
        assert copies.to_topic_only([entry]) == []
    check = verify_all(settings)
    assert not check.ok
    assert any(
        f"entry {missed} came after later ones, and no audit-resend entry names them" in line
        for line in check.lines
    ), check.lines


def test_an_entry_the_table_alone_holds_is_not_resent(kafka_settings: Settings) -> None:
    settings = kafka_settings
    assert audit_look(settings, ANA, "list") == []
    # Inserted into the table with no copy written: the log file does not hold it.
    with Database.of(settings).write() as con, transaction(con):
        audit.append(con, [audit.NewEntry("replay", "mallory", "success")])
    with pytest.raises(Refused, match="the table and the log file do not agree"):
        resend_missing(settings, ANA, "INC-4")
    assert not verify_all(settings).ok

"""Faults around an action, on the real broker: a bulk replay killed with SIGKILL leaves no
claim stuck and sends nothing twice; a broker that stops acknowledging stops a bulk after
its first chunk; the audit topic witnesses the table and the file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer

from dashboard.actions import audit
from dashboard.actions import run as run_module
from dashboard.actions.audit_verify import verify_all
from dashboard.actions.interrupted import replayed_from, settle_before_preview
from dashboard.actions.run import execute
from dashboard.actions.values import Request
from dashboard.adapters.db import Database, transaction
from dashboard.adapters.kafka import KafkaGateway, OutgoingRecord, read_until_now
from dashboard.devtools.broker.launcher import _free_port
from dashboard.settings import Settings
from tests.conftest import REPO, run_cli, settings_env
from tests.integration.actions_support import ANA, ref, replay, setup_dlq
from tests.kafka_helpers import NOW_MS, pipeline_value

pytestmark = pytest.mark.kafka


def _dlq(settings: Settings, gateway: KafkaGateway, count: int) -> None:
    records: list[OutgoingRecord] = [
        (f"evt-{i}".encode(), pipeline_value(f"evt-{i}"), [], NOW_MS + i) for i in range(count)
    ]
    setup_dlq(settings, gateway, records)


def _sent_per_record(settings: Settings, gateway: KafkaGateway) -> Counter[int]:
    """How many times each DLQ offset is on the pending topic (by the replay's headers)."""
    found: Counter[int] = Counter()
    for message in read_until_now(gateway, settings.pending_topic):
        source = replayed_from(message)
        assert source is not None
        found[source.offset] += 1
    return found


def _pending_count(gateway: KafkaGateway, topic: str) -> int:
    marks = gateway.watermarks(topic, gateway.partitions(topic))
    return sum(m.high - m.low for m in marks.values())


def _claims(settings: Settings) -> list[Any]:
    with Database.of(settings).read() as con:
        return con.execute('SELECT "offset", token, pid FROM action_claims').fetchall()


def test_a_killed_bulk_replay_leaves_no_claim_and_sends_nothing_twice(
    kafka_settings: Settings, gateway: KafkaGateway, tmp_path: Path
) -> None:
    count = 30
    _dlq(kafka_settings, gateway, count)
    env = {**settings_env(kafka_settings), "PYTHONPATH": str(REPO), "DLQ_OPERATOR": "tester"}
    refs = [str(ref(kafka_settings, 0, i)) for i in range(count)]
    args = ["replay", *refs, "--reason", "INC-9", "--yes", "--no-refresh", "--rate", "3"]
    child = subprocess.Popen(
        [sys.executable, "-m", "dashboard.cli.main", *args],
        env={**os.environ, **env},
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # At 3 records/s a chunk is 3 records, committed once all 3 are acknowledged: the
        # moment a chunk's first message is on the topic, its claims are held uncommitted.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            sent = _pending_count(gateway, kafka_settings.pending_topic)
            if sent >= 4 and sent % 3 == 1:
                break
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL
    held = _claims(kafka_settings)
    assert held, "the kill was meant to land while a chunk's claims were held"
    on_topic = _sent_per_record(kafka_settings, gateway)

    # The next read (a preview) releases them, settling each replay from the pending topic.
    assert settle_before_preview(kafka_settings) == []
    assert _claims(kafka_settings) == []
    with Database.of(kafka_settings).read() as con:
        entries = audit.query(con, audit.AuditFilter(actions=("replay",)))
        replayed = {o for (o,) in con.execute('SELECT "offset" FROM replays').fetchall()}
    settled = {e.offset: e for e in entries if "interrupted" in (e.error or e.details)}
    assert {offset for offset, *_ in held} == set(settled)
    for offset, entry in settled.items():
        landed = offset in on_topic
        assert entry.result == ("success" if landed else "failure"), entry
        assert entry.reason == "INC-9", entry  # the request's, kept with its claim
        assert (offset in replayed) == landed
    assert replayed == set(on_topic), "every message on the pending topic is recorded as replayed"

    # A plain replay afterwards sends what was not sent, and nothing twice.
    report = replay(kafka_settings, [ref(kafka_settings, 0, i) for i in range(count)])
    assert report.count("refused") == len(on_topic)
    assert _sent_per_record(kafka_settings, gateway) == Counter(range(count))
    assert verify_all(kafka_settings).ok


class _SilentBrokerGateway(KafkaGateway):
    """The real broker answers metadata; the producer talks to a port nothing listens on,
    as when the broker goes away after the preview."""

    def __init__(self, settings: Settings, dead: str) -> None:
        super().__init__(settings)
        self._dead = dead

    def producer(self, delivery_timeout: float) -> Producer:
        config = {**self.base_config(), "bootstrap.servers": self._dead, "log_level": 0}
        config.update({"enable.idempotence": True, "acks": "all"})
        config["message.timeout.ms"] = int(delivery_timeout * 1000)
        return Producer(config)


def _silent_after_setup(
    kafka_settings: Settings, gateway: KafkaGateway, count: int
) -> tuple[Settings, _SilentBrokerGateway]:
    """A DLQ of `count` records; settings with a 2 s delivery timeout and a gateway whose
    producer no broker answers."""
    _dlq(kafka_settings, gateway, count)
    settings = kafka_settings.model_copy(
        update={
            "actions": kafka_settings.actions.model_copy(update={"delivery_timeout_seconds": 2.0})
        }
    )
    return settings, _SilentBrokerGateway(settings, f"127.0.0.1:{_free_port(set())}")


def test_a_bulk_replay_stops_once_kafka_stops_acknowledging(
    kafka_settings: Settings, gateway: KafkaGateway
) -> None:
    settings, silent = _silent_after_setup(kafka_settings, gateway, 20)
    refs = [ref(settings, 0, i) for i in range(20)]
    started = time.monotonic()

    report = execute(settings, Request("replay", refs, ANA, "INC-10", rate=5.0), gateway=silent)
    elapsed = time.monotonic() - started
    # The first chunk (5 records at 5/s) waits out one timeout; the other 15 are not tried.
    assert report.stopped and "Kafka stopped acknowledging" in report.stopped
    assert (len(report.results), report.not_attempted) == (5, 15)
    assert "stopped with 15 not attempted" in report.summary()
    assert elapsed < 20, elapsed
    # Unacknowledged sends may still have landed: their claims wait to be settled, and a
    # replay of them is refused until then; the next action settles them as not sent.
    assert sorted(t for _o, t, _p in _claims(settings)) == ["unsettled"] * 5
    assert settle_before_preview(settings) == []
    assert _claims(settings) == []
    again = replay(settings, refs)
    assert again.count("success") == 20
    assert _sent_per_record(settings, gateway) == Counter(range(20))


def test_an_unthrottled_bulk_stops_before_sending_the_chunk_claimed_meanwhile(
    kafka_settings: Settings, gateway: KafkaGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unthrottled, the second chunk is claimed while the first one's sends are in flight;
    once the first is not acknowledged, the second is released unsent, not attempted."""
    monkeypatch.setattr(run_module, "UNTHROTTLED_CHUNK", 5)
    settings, silent = _silent_after_setup(kafka_settings, gateway, 20)
    refs = [ref(settings, 0, i) for i in range(20)]

    report = execute(settings, Request("replay", refs, ANA, "INC-11"), gateway=silent)
    assert report.stopped and "Kafka stopped acknowledging" in report.stopped
    assert (len(report.results), report.not_attempted) == (5, 15)
    assert {r.ref.offset for r in report.results} == set(range(5))
    # Only the sent chunk's claims stay, to be settled; the chunk claimed meanwhile is free.
    assert sorted(o for o, t, _p in _claims(settings) if t == "unsettled") == list(range(5))
    assert len(_claims(settings)) == 5
    assert settle_before_preview(settings) == []
    again = replay(settings, refs)
    assert again.count("success") == 20
    assert _sent_per_record(settings, gateway) == Counter(range(20))


def test_a_bulk_of_several_chunks_leaves_the_audit_topic_complete_and_in_order(
    kafka_settings: Settings, gateway: KafkaGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unthrottled, a bulk waits for the audit topic's acknowledgements once, at its end:
    every entry of every chunk is still there, in id order, before the file is let go."""
    monkeypatch.setattr(run_module, "UNTHROTTLED_CHUNK", 4)
    _dlq(kafka_settings, gateway, 10)
    report = replay(kafka_settings, [ref(kafka_settings, 0, i) for i in range(10)])
    assert report.audit_missing == [] and report.count("success") == 10
    check = verify_all(kafka_settings)
    assert check.ok, check.lines
    topic = kafka_settings.audit_topic_name
    assert topic is not None
    ids = [int(m.key() or b"0") for m in read_until_now(gateway, topic)]
    # bulk-start, ten replays, bulk-finish, numbered from the table's first entry on.
    assert len(ids) == 12 and ids == sorted(ids) == list(range(ids[0], ids[0] + 12))


def test_the_audit_topic_witnesses_the_end_of_the_table_and_the_file(
    kafka_settings: Settings, gateway: KafkaGateway, tmp_path: Path
) -> None:
    _dlq(kafka_settings, gateway, 3)
    assert kafka_settings.audit_topic_name == f"{kafka_settings.dlq_topic}.audit"
    report = replay(kafka_settings, [ref(kafka_settings, 0, i) for i in range(3)])
    assert report.audit_missing == [] and report.count("success") == 3
    check = verify_all(kafka_settings)
    assert check.ok, check.lines
    assert any("audit topic" in line for line in check.lines)

    # The newest rows of the table and the file go; the topic still has them.
    with Database.of(kafka_settings).write() as con, transaction(con):
        (last,) = con.execute("SELECT max(audit_id) FROM audit_log").fetchone() or (0,)
        con.execute("DELETE FROM audit_log WHERE audit_id = ?", [last])
    lines = kafka_settings.audit_log.read_text().splitlines(keepends=True)
    kafka_settings.audit_log.write_text("".join(lines[:-1]))
    env = {**settings_env(kafka_settings), "PYTHONPATH": str(REPO)}
    done = run_cli(["audit", "verify"], env, tmp_path)
    assert done.returncode == 1
    assert f"entry {last} is in the audit topic" in done.stdout, done.stdout

    # An audit topic that cannot be written: the action is reported done, its entries missing.
    broken = kafka_settings.model_copy(update={"audit_topic": "no spaces allowed here"})
    more = replay(broken, [ref(broken, 0, 0)], override=True)
    assert more.count("success") == 1
    assert any("missing in the audit topic no spaces allowed here" in m for m in more.audit_missing)
    assert "The action happened but its audit is incomplete" in more.summary()

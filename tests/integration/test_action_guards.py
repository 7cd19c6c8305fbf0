"""The guards around actions, against the real broker: an ambiguous trace id, the typed
count, who may act, dry runs, cancelling, and the audit chain that records it all."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from dashboard.actions import audit, audit_copies
from dashboard.actions.identity import resolve
from dashboard.actions.run import execute
from dashboard.actions.values import Progress, Refused, Request
from dashboard.adapters.db import Database
from dashboard.adapters.kafka import KafkaGateway, OutgoingRecord
from dashboard.devtools.broker.launcher import _free_port
from dashboard.settings import Settings
from tests.conftest import REPO, run_cli, settings_env
from tests.integration.actions_support import (
    ANA,
    read_topic,
    ref,
    replay,
    resolve_refs,
    setup_dlq,
)
from tests.kafka_helpers import NOW_MS, pipeline_value

pytestmark = pytest.mark.kafka


def test_an_ambiguous_trace_id_acts_on_nothing(
    kafka_settings: Settings, gateway: KafkaGateway, tmp_path: Path
) -> None:
    setup_dlq(
        kafka_settings,
        gateway,
        [
            (b"evt-twice", pipeline_value("evt-twice"), [], NOW_MS),
            (b"evt-twice", pipeline_value("evt-twice"), [], NOW_MS + 1),
        ],
    )
    env = {**settings_env(kafka_settings), "PYTHONPATH": str(REPO), "DLQ_OPERATOR": "ana"}
    done = run_cli(["replay", "evt-twice", "--reason", "x", "--yes", "--no-refresh"], env, tmp_path)
    assert done.returncode == 1
    assert "matches 2 records and acts on none of them" in done.stderr
    assert f"{kafka_settings.dlq_topic}:0:1" in done.stderr
    exact = run_cli(
        ["replay", f"{kafka_settings.dlq_topic}:0:1", "--reason", "x", "--yes", "--no-refresh"],
        env,
        tmp_path,
    )
    assert exact.returncode == 0, exact.stderr
    assert len(read_topic(kafka_settings, kafka_settings.pending_topic, 1)) == 1


def test_a_bulk_over_the_limit_needs_the_typed_count_and_a_reason(
    kafka_settings: Settings, gateway: KafkaGateway, tmp_path: Path
) -> None:
    records: list[OutgoingRecord] = [
        (f"evt-{i}".encode(), pipeline_value(f"evt-{i}"), [], NOW_MS + i) for i in range(101)
    ]
    setup_dlq(kafka_settings, gateway, records)
    env = {**settings_env(kafka_settings), "PYTHONPATH": str(REPO), "DLQ_OPERATOR": "ana"}
    bulk = ["replay", "--domain", "claims-docs", "--yes", "--no-refresh", "--rate", "0"]

    no_reason = run_cli(bulk, env, tmp_path)
    assert no_reason.returncode == 1 and "--reason is required" in no_reason.stderr
    no_count = run_cli([*bulk, "--reason", "INC-7"], env, tmp_path)
    assert no_count.returncode == 1 and "pass --count 101" in no_count.stderr
    wrong_count = run_cli([*bulk, "--reason", "INC-7", "--count", "100"], env, tmp_path)
    assert wrong_count.returncode == 1
    assert "--count 100 given, but 101 records would be acted on" in wrong_count.stderr
    with Database(kafka_settings.db).read() as con:
        assert con.execute("SELECT count(*) FROM replays").fetchone() == (0,)

    typed = run_cli([*bulk, "--reason", "INC-7", "--count", "101"], env, tmp_path)
    assert typed.returncode == 0, typed.stderr
    assert len(read_topic(kafka_settings, kafka_settings.pending_topic, 101)) == 101


def test_a_stated_count_is_checked_below_the_limit_too(
    kafka_settings: Settings, gateway: KafkaGateway, tmp_path: Path
) -> None:
    """Under actions.confirm_count_above no count is needed, but one given must be right: a
    script that says it expects 999 records does not act on the 2 its filter found."""
    records: list[OutgoingRecord] = [
        (f"evt-{i}".encode(), pipeline_value(f"evt-{i}"), [], NOW_MS + i) for i in range(2)
    ]
    setup_dlq(kafka_settings, gateway, records)
    env = {**settings_env(kafka_settings), "PYTHONPATH": str(REPO), "DLQ_OPERATOR": "ana"}
    bulk = ["resolve", "--domain", "claims-docs", "--yes", "--no-refresh", "--reason", "INC-8"]
    for extra in ([], ["--dry-run"]):
        wrong = run_cli([*bulk, *extra, "--count", "999"], env, tmp_path)
        assert wrong.returncode == 1, wrong.stderr
        assert "--count 999 given, but 2 records would be acted on" in wrong.stderr
    with Database(kafka_settings.db).read() as con:
        assert con.execute("SELECT count(*) FROM resolutions").fetchone() == (0,)
        assert con.execute("SELECT count(*) FROM audit_log").fetchone() == (0,)
    right = run_cli([*bulk, "--count", "2"], env, tmp_path)
    assert right.returncode == 0, right.stderr
    with Database(kafka_settings.db).read() as con:
        assert con.execute("SELECT count(*) FROM resolutions").fetchone() == (2,)


def test_a_viewer_cannot_act(
    kafka_settings: Settings, gateway: KafkaGateway, tmp_path: Path
) -> None:
    setup_dlq(kafka_settings, gateway, [(b"evt-v", pipeline_value("evt-v"), [], NOW_MS)])
    target = [ref(kafka_settings, 0, 0)]
    nobody = resolve(kafka_settings)
    assert not nobody.can_act
    with pytest.raises(Refused, match="no operator identity"):
        execute(kafka_settings, Request("replay", target, nobody, "x"))
    outsider = resolve(
        kafka_settings.model_copy(
            update={
                "operator": "mallory",
                "actions": kafka_settings.actions.model_copy(update={"operators": ("ana",)}),
            }
        )
    )
    with pytest.raises(Refused, match="not one of the operators"):
        execute(kafka_settings, Request("resolve", target, outsider, "x"))
    switched_off = resolve(
        kafka_settings.model_copy(
            update={
                "operator": "ana",
                "actions": kafka_settings.actions.model_copy(update={"enabled": False}),
            }
        )
    )
    with pytest.raises(Refused, match="turned off"):
        execute(kafka_settings, Request("resolve", target, switched_off, "x"))
    with pytest.raises(Refused, match="reason is required"):
        execute(kafka_settings, Request("resolve", target, ANA, "  "))
    env = {**settings_env(kafka_settings), "PYTHONPATH": str(REPO)}
    done = run_cli(["resolve", str(target[0]), "--reason", "x", "--yes"], env, tmp_path)
    assert done.returncode == 1 and "Read-only" in done.stderr
    with Database(kafka_settings.db).read() as con:
        assert con.execute("SELECT count(*) FROM resolutions").fetchone() == (0,)
        assert con.execute("SELECT count(*) FROM replays").fetchone() == (0,)


def test_dry_run_changes_nothing_and_is_audited_once(
    kafka_settings: Settings, gateway: KafkaGateway, tmp_path: Path
) -> None:
    setup_dlq(
        kafka_settings,
        gateway,
        [(f"evt-{i}".encode(), pipeline_value(f"evt-{i}"), [], NOW_MS + i) for i in range(5)],
    )
    refs = [ref(kafka_settings, 0, i) for i in range(5)]
    report = replay(kafka_settings, refs, dry_run=True, selection="domain: example")
    assert report.count("dry-run") == 5 and report.bulk_id
    assert report.summary() == "dry run: would replay 5 records"
    assert read_topic(kafka_settings, kafka_settings.pending_topic, 0, timeout=3) == []
    with Database(kafka_settings.db).read() as con:
        assert con.execute("SELECT count(*) FROM replays").fetchone() == (0,)
        entries = audit.query(con, audit.AuditFilter())
    # One entry for the whole dry run: its selection and count, no per-record lines, no
    # bulk start and finish.
    assert [(e.action, e.result, e.bulk_id) for e in entries] == [
        ("replay", "dry-run", report.bulk_id)
    ]
    details = json.loads(entries[0].details)
    assert details["selection"] == "domain: example"
    assert (details["selected"], details["would_replay"], details["refused"]) == (5, 5, 0)

    # The CLI says what would happen, never "ok"; still one entry per dry run.
    env = {**settings_env(kafka_settings), "PYTHONPATH": str(REPO), "DLQ_OPERATOR": "ana"}
    done = run_cli(
        ["resolve", *map(str, refs[:3]), "--reason", "x", "--dry-run", "--no-refresh"],
        env,
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "dry run: would resolve 3 records" in done.stdout
    assert "3/3 done: 3 would resolve" in done.stderr
    assert " ok" not in done.stdout + done.stderr
    with Database(kafka_settings.db).read() as con:
        later = audit.query(con, audit.AuditFilter(actions=("resolve",)))
        assert con.execute("SELECT count(*) FROM resolutions").fetchone() == (0,)
    assert [(e.result, json.loads(e.details)["would_resolve"]) for e in later] == [("dry-run", 3)]


def test_cancel_keeps_what_was_done_and_records_it(
    kafka_settings: Settings, gateway: KafkaGateway
) -> None:
    setup_dlq(
        kafka_settings,
        gateway,
        [(f"evt-{i}".encode(), pipeline_value(f"evt-{i}"), [], NOW_MS + i) for i in range(60)],
    )
    refs = [ref(kafka_settings, 0, i) for i in range(60)]
    cancel = threading.Event()

    def cancel_once_some_are_done(progress: Progress) -> None:
        # Cancelled by what has happened, not by a clock: a loaded machine stays correct.
        if progress.succeeded >= 5:
            cancel.set()

    report = execute(
        kafka_settings,
        Request("replay", refs, ANA, "INC-7", rate=20.0),
        progress=cancel_once_some_are_done,
        cancel=cancel,
    )
    done = report.count("success")
    assert report.cancelled and 5 <= done < 60
    assert report.not_attempted == 60 - done
    with Database(kafka_settings.db).read() as con:
        assert con.execute("SELECT count(*) FROM replays").fetchone() == (done,)
        assert con.execute("SELECT count(*) FROM action_claims").fetchone() == (0,)
        [cancelled] = audit.query(con, audit.AuditFilter(actions=("bulk-cancel",)))
    details = json.loads(cancelled.details)
    assert (details["succeeded"], details["not_attempted"]) == (done, 60 - done)
    assert len(read_topic(kafka_settings, kafka_settings.pending_topic, done)) == done


def test_the_audit_chain_verifies_and_names_a_tampered_entry(
    kafka_settings: Settings, gateway: KafkaGateway, tmp_path: Path
) -> None:
    setup_dlq(
        kafka_settings,
        gateway,
        [(f"evt-{i}".encode(), pipeline_value(f"evt-{i}"), [], NOW_MS + i) for i in range(4)],
    )
    resolve_refs(kafka_settings, [ref(kafka_settings, 0, i) for i in range(4)])
    env = {**settings_env(kafka_settings), "PYTHONPATH": str(REPO)}
    ok = run_cli(["audit", "verify"], env, tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "chain intact" in ok.stdout and "log file" in ok.stdout
    with Database(kafka_settings.db).write() as con:
        con.execute("UPDATE audit_log SET reason = 'nothing to see' WHERE audit_id = 3")
    broken = run_cli(["audit", "verify"], env, tmp_path)
    assert broken.returncode == 1
    assert "entry 3 does not match its hash: it was changed" in broken.stdout
    with Database(kafka_settings.db).write() as con:
        con.execute("DELETE FROM audit_log WHERE audit_id = 3")
    gap = run_cli(["audit", "verify"], env, tmp_path)
    assert "entry 4 follows entry 2: entries are missing" in gap.stdout
    # The JSON-lines copy verifies on its own: an edited line is found there too.
    lines = kafka_settings.audit_log.read_text().splitlines()
    entry = json.loads(lines[1])
    entry["actor"] = "someone else"
    lines[1] = json.dumps(entry)
    kafka_settings.audit_log.write_text("\n".join(lines) + "\n")
    in_file = audit.verify_entries(audit_copies.file_entries(kafka_settings.audit_log))
    assert not in_file.ok
    assert in_file.first_broken == 2


def test_kafka_not_answering_is_an_audited_failure_in_words(
    kafka_settings: Settings, gateway: KafkaGateway, tmp_path: Path
) -> None:
    setup_dlq(
        kafka_settings,
        gateway,
        [(f"evt-{i}".encode(), pipeline_value(f"evt-{i}"), [], NOW_MS + i) for i in range(3)],
    )
    closed = f"127.0.0.1:{_free_port(set())}"  # nothing listens there
    env = {
        **settings_env(kafka_settings),
        "DLQ_BOOTSTRAP_SERVERS": closed,
        "PYTHONPATH": str(REPO),
        "DLQ_OPERATOR": "ana",
    }
    for action, target in (("replay", ["evt-0"]), ("resolve", [f"{kafka_settings.dlq_topic}:0:1"])):
        done = run_cli(
            [action, *target, "--reason", "INC-7", "--yes", "--no-refresh"], env, tmp_path
        )
        assert done.returncode == 1, done.stdout + done.stderr
        assert f"{action} failed, nothing done: Kafka at {closed} is not answering" in done.stdout
        assert "KafkaError{" not in done.stdout + done.stderr
        assert "Traceback" not in done.stderr
    with Database(kafka_settings.db).read() as con:
        entries = audit.query(con, audit.AuditFilter(actions=("replay", "resolve")))
        assert con.execute("SELECT count(*) FROM replays").fetchone() == (0,)
        assert con.execute("SELECT count(*) FROM resolutions").fetchone() == (0,)
    assert [(e.action, e.result, e.offset, e.error) for e in entries] == [
        ("resolve", "failure", 1, f"Kafka at {closed} is not answering"),
        ("replay", "failure", 0, f"Kafka at {closed} is not answering"),
    ]
    assert read_topic(kafka_settings, kafka_settings.pending_topic, 0, timeout=2) == []

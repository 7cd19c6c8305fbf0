"""Replay and resolve against the real broker: what lands on the pending topic, the new-URL
replay, no double replay, exact commits of the review group's offsets, replays the results
topic reports as succeeded."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from dashboard.actions import audit
from dashboard.actions.selection import ready_to_resolve
from dashboard.actions.values import Refused
from dashboard.adapters.db import Database
from dashboard.adapters.kafka import KafkaGateway, OutgoingRecord
from dashboard.settings import Settings
from dashboard.triage.filters import RecordFilter
from dashboard.triage.messages import search
from ingest.job import ingest_once
from tests.conftest import REPO, run_cli, settings_env
from tests.integration.actions_support import (
    read_topic,
    ref,
    replay,
    resolve_refs,
    setup_dlq,
)
from tests.kafka_helpers import NOW_MS, pipeline_value, produce

pytestmark = pytest.mark.kafka


def test_a_replay_puts_the_original_task_on_pending_as_the_spec_says(
    kafka_settings: Settings, gateway: KafkaGateway
) -> None:
    task = {
        "trace_id": "evt-r1",
        "media_id": "m-1",
        "attachment_url": "https://h.example/a.pdf",
        "blob_path": "documentsReceived/C-1/pdf/a.pdf",
        "status_subtype": "documentsReceived",
        "file_type": "pdf",
        "assignment_id": "C-1",
        "estimate_version": None,
        "retry_count": 4,
        "event_type": "xact",
        "event_subtype": "documentsReceived",
        "original_timestamp": "2026-11-18T09:00:00Z",
        "metadata": {"last_error": "timeout", "retry_at": "2026-11-18T09:40:00Z"},
        "priority": "high",
        "nested_extra": {"keep": [1, 2, {"x": None}]},
    }
    setup_dlq(
        kafka_settings,
        gateway,
        [(b"evt-r1", pipeline_value("evt-r1", original_task=task), [], NOW_MS)],
    )
    report = replay(kafka_settings, [ref(kafka_settings, 0, 0)])
    assert report.count("success") == 1, report.results
    [message] = read_topic(kafka_settings, kafka_settings.pending_topic, 1)
    assert message.key() == b"evt-r1"
    assert dict(message.headers()) == {
        "trace_id": b"evt-r1",
        "replayed_from_dlq": b"true",
        # The DLQ record it came from, readable whatever the payload (settling a crash).
        "dlq_topic": kafka_settings.dlq_topic.encode(),
        "dlq_partition": b"0",
        "dlq_offset": b"0",
    }
    sent = json.loads(message.value())
    metadata = sent.pop("metadata")
    expected = {k: v for k, v in task.items() if k != "metadata"}
    assert sent == {**expected, "retry_count": 0}  # every other field untouched
    assert metadata["replayed_from_dlq"] is True
    assert (metadata["dlq_partition"], metadata["dlq_offset"]) == (0, 0)
    assert metadata["dlq_topic"] == kafka_settings.dlq_topic
    assert metadata["replayed_by"] == "ana"
    assert metadata["last_error"] == "timeout"  # extended, not replaced
    detail = report.results[0].detail
    assert (detail["pending_partition"], detail["pending_offset"]) == (
        message.partition(),
        message.offset(),
    )
    with Database(kafka_settings.db).read() as con:
        found = search(con, kafka_settings.dlq_topic, RecordFilter(states=("replayed",)))
        [entry] = audit.query(con, audit.AuditFilter(actions=("replay",)))
    assert [r.coordinates for r in found.rows] == [str(ref(kafka_settings, 0, 0))]
    assert found.rows[0].replay_outcome == "waiting"
    assert (entry.result, entry.actor, entry.reason) == ("success", "ana", "INC-42")
    assert json.loads(entry.details)["pending_offset"] == message.offset()


def test_replay_with_a_new_url_keeps_file_type_and_path_and_audits_both_urls(
    kafka_settings: Settings, gateway: KafkaGateway
) -> None:
    setup_dlq(kafka_settings, gateway, [(b"evt-u", pipeline_value("evt-u"), [], NOW_MS)])
    new = "https://fresh.example.com/claims/C-1/evt-u.pdf?X-Amz-Signature=newsecret"
    report = replay(kafka_settings, [ref(kafka_settings, 0, 0)], new_url=new)
    assert report.count("success") == 1
    [message] = read_topic(kafka_settings, kafka_settings.pending_topic, 1)
    sent = json.loads(message.value())
    assert sent["attachment_url"] == new
    assert (sent["file_type"], sent["event_type"]) == ("pdf", "xact")
    with Database(kafka_settings.db).read() as con:
        [entry] = audit.query(con, audit.AuditFilter(actions=("replay-with-new-url",)))
    assert entry.old_url is not None and "claims-docs.s3.amazonaws.com" in entry.old_url
    assert entry.new_url == "https://fresh.example.com/claims/C-1/evt-u.pdf?X-Amz-Signature=***"
    with pytest.raises(Refused, match="not an http"):
        replay(kafka_settings, [ref(kafka_settings, 0, 0)], new_url="ftp://x", override=True)


def test_no_double_replay_without_override_and_a_failed_replay_may_go_again(
    kafka_settings: Settings, gateway: KafkaGateway
) -> None:
    setup_dlq(kafka_settings, gateway, [(b"evt-d", pipeline_value("evt-d"), [], NOW_MS)])
    first = ref(kafka_settings, 0, 0)
    assert replay(kafka_settings, [first]).count("success") == 1
    again = replay(kafka_settings, [first])
    assert again.count("refused") == 1
    assert "already replayed" in (again.results[0].error or "")
    assert replay(kafka_settings, [first], override=True).count("success") == 1
    # The replayed task fails again: the pipeline puts it back in the DLQ, same trace id.
    gateway.produce_all(
        kafka_settings.dlq_topic,
        [(b"evt-d", pipeline_value("evt-d"), [], int(time.time() * 1000) + 1000)],
    )
    ingest_once(kafka_settings)
    with Database(kafka_settings.db).read() as con:
        failed = search(con, kafka_settings.dlq_topic, RecordFilter(states=("replay-failed",)))
    assert [r.coordinates for r in failed.rows] == [str(first)]
    assert replay(kafka_settings, [first]).count("success") == 1  # allowed again
    assert len(read_topic(kafka_settings, kafka_settings.pending_topic, 3)) == 3


def test_resolve_commits_only_across_contiguous_resolved_records(
    kafka_settings: Settings, gateway: KafkaGateway
) -> None:
    records: list[OutgoingRecord] = [
        (f"evt-{i}".encode(), pipeline_value(f"evt-{i}"), [], NOW_MS + i) for i in range(10)
    ]
    setup_dlq(kafka_settings, gateway, records)
    group, topic = kafka_settings.review_group, kafka_settings.dlq_topic

    def committed() -> int | None:
        return gateway.committed_offsets(group, topic, [0])[0]

    resolve_refs(kafka_settings, [ref(kafka_settings, 0, 7)])
    assert committed() is None  # offset 0 is still open: nothing may be committed
    resolve_refs(kafka_settings, [ref(kafka_settings, 0, 3)])
    assert committed() is None
    report = resolve_refs(kafka_settings, [ref(kafka_settings, 0, o) for o in (0, 1, 2)])
    assert report.committed == {0: 4} and committed() == 4  # 0-3 resolved, 4 open
    resolve_refs(kafka_settings, [ref(kafka_settings, 0, o) for o in (4, 5, 6)])
    assert committed() == 8  # 7 was resolved first: the run now reaches 8
    twice = resolve_refs(kafka_settings, [ref(kafka_settings, 0, 7)])
    assert twice.count("refused") == 1 and committed() == 8


def test_records_below_the_group_offset_count_as_resolved_before_the_dashboard(
    kafka_settings: Settings, gateway: KafkaGateway
) -> None:
    records: list[OutgoingRecord] = [
        (f"evt-{i}".encode(), pipeline_value(f"evt-{i}"), [], NOW_MS + i) for i in range(8)
    ]
    produce(gateway, kafka_settings.dlq_topic, records, partitions=1)
    gateway.commit_offsets(kafka_settings.review_group, kafka_settings.dlq_topic, {0: 5})
    gateway.create_topic(kafka_settings.pending_topic, 1)
    ingest_once(kafka_settings)
    with Database(kafka_settings.db).read() as con:
        sources = dict(con.execute('SELECT "offset", source FROM resolutions').fetchall())
    assert sources == dict.fromkeys(range(5), "before-dashboard")
    report = resolve_refs(kafka_settings, [ref(kafka_settings, 0, 5)])
    assert report.committed == {0: 6}


def test_a_success_result_after_the_replay_makes_it_ready_to_resolve(
    make_settings: Any, kafka_bootstrap: str, tmp_path: Path
) -> None:
    settings: Settings = make_settings(bootstrap_servers=kafka_bootstrap)
    settings = settings.model_copy(update={"results_topic": settings.dlq_topic + ".results"})
    gateway = KafkaGateway(settings)
    gateway.create_topic(settings.results_topic or "", 1)
    setup_dlq(
        settings,
        gateway,
        [
            (b"evt-ok", pipeline_value("evt-ok"), [], NOW_MS),
            (b"evt-no", pipeline_value("evt-no"), [], NOW_MS + 1),
        ],
    )
    replay(settings, [ref(settings, 0, 0), ref(settings, 0, 1)])
    later = datetime.now(UTC).isoformat()
    gateway.produce_all(
        settings.results_topic or "",
        [
            (
                b"evt-ok",
                json.dumps(
                    {"trace_id": "evt-ok", "status": "completed", "created_at": later}
                ).encode(),
                [],
                int(time.time() * 1000),
            ),
            (
                b"evt-no",
                json.dumps(
                    {"trace_id": "evt-no", "status": "failed_transient", "completed_at": later}
                ).encode(),
                [],
                int(time.time() * 1000),
            ),
            (
                b"evt-x",
                json.dumps({"trace_id": "evt-x", "status": "success"}).encode(),
                [],
                int(time.time() * 1000),
            ),
        ],
    )
    summary = ingest_once(settings)
    assert summary.replay_results == 2  # evt-x was never replayed: not kept
    with Database(settings.db).read() as con:
        assert ready_to_resolve(con, settings.dlq_topic) == [ref(settings, 0, 0)]
    env = {**settings_env(settings), "PYTHONPATH": str(REPO), "DLQ_OPERATOR": "ana"}
    done = run_cli(
        ["resolve", "--ready", "--reason", "replay ok", "--yes", "--no-refresh"], env, tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert "1 resolved" in done.stdout

"""Replay and resolve on DLQs of other formats, on the real broker: the bytes on the target
topic are what each DLQ's own consumer expects (dlq-other-formats.md), and resolve commits
each DLQ's own review group."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from typing import Any

import pytest

from dashboard.actions.values import RecordRef
from dashboard.adapters.kafka import KafkaGateway, OutgoingRecord
from dashboard.devtools import demo_formats
from dashboard.settings import Settings
from ingest.job import ingest_once
from tests.integration.actions_support import read_topic, replay, resolve_refs
from tests.integration.dlqs_support import dlq, with_dlqs
from tests.kafka_helpers import NOW_MS, produce

pytestmark = pytest.mark.kafka

WHEN = datetime(2026, 11, 20, 10, 30, tzinfo=UTC)
MARKERS = {"replayed_from_dlq", "dlq_topic", "dlq_partition", "dlq_offset"}


def demo_value(dlq_format: str, seed: int) -> dict[str, Any]:
    record = demo_formats.SHAPES[dlq_format](random.Random(seed), WHEN)
    assert record.value is not None
    value: dict[str, Any] = json.loads(record.value)
    return value


def three_dlqs(base: Settings) -> Settings:
    return with_dlqs(
        base,
        dlq(base, "claimx", "claimx-download", replay_target=f"{base.dlq_topic}.claimx.pending"),
        dlq(base, "enrich", "claimx-enrichment", replay_target=f"{base.dlq_topic}.enrich.pending"),
        dlq(base, "generic", "envelope"),
    )


def only(settings: Settings, name: str, records: list[OutgoingRecord]) -> Settings:
    """Put `records` on the DLQ `name` and ingest; the settings narrowed to it."""
    narrowed = settings.for_dlq(name)
    produce(KafkaGateway(settings), narrowed.dlq_topic, records, partitions=1)
    if not settings.dlq(name).replays_to_origin:
        KafkaGateway(settings).create_topic(narrowed.pending_topic, 1)
    ingest_once(settings)
    return narrowed


def check_markers(headers: dict[str, bytes], topic: str) -> None:
    assert headers["replayed_from_dlq"] == b"true"
    assert (headers["dlq_topic"], headers["dlq_partition"], headers["dlq_offset"]) == (
        topic.encode(),
        b"0",
        b"0",
    )


def test_a_claimx_download_replay_is_the_task_its_worker_expects(
    kafka_settings: Settings,
) -> None:
    settings = three_dlqs(kafka_settings)
    value = demo_value("claimx-download", 4)
    claimx = only(
        settings, "claimx", [(value["media_id"].encode(), json.dumps(value).encode(), [], NOW_MS)]
    )
    report = replay(claimx, [RecordRef(claimx.dlq_topic, 0, 0)])
    assert report.count("success") == 1, report.results
    [message] = read_topic(claimx, claimx.pending_topic, 1)
    assert message.key() == value["media_id"].encode()  # as the ClaimX DLQ tool keys it
    headers = dict(message.headers())
    assert headers["trace_id"] == value["trace_id"].encode()
    check_markers(headers, claimx.dlq_topic)
    task = json.loads(message.value())
    # The spec's download task fields, with their types.
    for name in ("media_id", "project_id", "download_url", "blob_path", "trace_id"):
        assert isinstance(task[name], str) and task[name], name
    assert isinstance(task["file_type"], str) and isinstance(task["file_name"], str)
    assert task["retry_count"] == 0
    assert task["expires_at"] is None or isinstance(task["expires_at"], str)
    assert isinstance(task["refresh_count"], int)
    metadata = task.pop("metadata")
    original = dict(value["original_task"])
    original_metadata = original.pop("metadata")
    assert task == {**original, "retry_count": 0}  # every other field untouched
    assert metadata == {
        **original_metadata,
        **{k: metadata[k] for k in metadata if k not in original_metadata},
    }
    assert metadata["replayed_from_dlq"] is True and metadata["replayed_by"] == "ana"
    assert report.results[0].detail["pending_topic"] == claimx.pending_topic


def test_a_claimx_enrichment_replay_is_keyed_by_trace_id(kafka_settings: Settings) -> None:
    settings = three_dlqs(kafka_settings)
    value = demo_value("claimx-enrichment", 5)
    enrich = only(
        settings, "enrich", [(value["trace_id"].encode(), json.dumps(value).encode(), [], NOW_MS)]
    )
    assert replay(enrich, [RecordRef(enrich.dlq_topic, 0, 0)]).count("success") == 1
    [message] = read_topic(enrich, enrich.pending_topic, 1)
    assert message.key() == value["trace_id"].encode()
    check_markers(dict(message.headers()), enrich.dlq_topic)
    task = json.loads(message.value())
    for name in ("trace_id", "event_type", "project_id", "created_at"):
        assert isinstance(task[name], str) and task[name], name
    assert task["retry_count"] == 0
    task.pop("metadata")
    assert task == {**value["original_task"], "retry_count": 0}


def test_an_envelope_replay_puts_the_original_message_back_byte_for_byte(
    kafka_settings: Settings, gateway: KafkaGateway
) -> None:
    settings = three_dlqs(kafka_settings)
    origin = f"{kafka_settings.dlq_topic}.origin"
    gateway.create_topic(origin, 1)
    original_value = '{"trace_id": "évt-1", "n": [1, 2.50, null], "note": "ünïcode ✓"}'
    headers = {"trace_id": "évt-1", "content-type": "application/json", "x-empty": ""}
    plain = "<html>502 Bad Gateway</html>"  # the original value need not be JSON
    envelopes: list[OutgoingRecord] = []
    for i, (key, text) in enumerate([("évt-1", original_value), (None, plain)]):
        envelope = demo_value("envelope", 6)
        envelope.update(
            original_topic=origin,
            original_offset=100 + i,
            original_key=key,
            trace_id=key,
            original_value=text,
            original_headers=headers if i == 0 else {},
        )
        dlq_key = (key or f"dlq-{100 + i}").encode()
        envelopes.append((dlq_key, json.dumps(envelope).encode(), [], NOW_MS))
    generic = only(settings, "generic", envelopes)
    refs = [RecordRef(generic.dlq_topic, 0, 0), RecordRef(generic.dlq_topic, 0, 1)]
    report = replay(generic, refs)
    assert report.count("success") == 2, report.results
    first, second = read_topic(generic, origin, 2)
    assert first.value() == original_value.encode()  # the UTF-8 bytes of original_value
    assert first.key() == "évt-1".encode()
    sent_headers = first.headers()
    assert sent_headers[:3] == [(k, v.encode()) for k, v in headers.items()]
    assert {k for k, _ in sent_headers[3:]} == MARKERS
    assert (second.value(), second.key()) == (plain.encode(), None)
    assert {k for k, _ in second.headers()} == MARKERS
    assert {r.detail["pending_topic"] for r in report.results} == {origin}


def test_resolve_commits_each_dlqs_own_review_group(
    kafka_settings: Settings, gateway: KafkaGateway
) -> None:
    settings = three_dlqs(kafka_settings)
    claimx_value = demo_value("claimx-download", 7)
    claimx = only(
        settings,
        "claimx",
        [(b"k", json.dumps(claimx_value).encode(), [], NOW_MS)] * 3,
    )
    generic = only(
        settings,
        "generic",
        [(b"k", json.dumps(demo_value("envelope", 8)).encode(), [], NOW_MS)] * 2,
    )
    report = resolve_refs(claimx, [RecordRef(claimx.dlq_topic, 0, o) for o in (0, 1)])
    assert report.count("success") == 2 and report.committed == {0: 2}
    assert gateway.committed_offsets(claimx.review_group, claimx.dlq_topic, [0]) == {0: 2}
    # The other DLQ's group has committed nothing, on either topic.
    assert gateway.committed_offsets(generic.review_group, generic.dlq_topic, [0]) == {0: None}
    assert gateway.committed_offsets(generic.review_group, claimx.dlq_topic, [0]) == {0: None}
    report = resolve_refs(generic, [RecordRef(generic.dlq_topic, 0, 0)])
    assert report.committed == {0: 1}
    assert gateway.committed_offsets(generic.review_group, generic.dlq_topic, [0]) == {0: 1}
    assert gateway.committed_offsets(claimx.review_group, claimx.dlq_topic, [0]) == {0: 2}

"""Replay messages for each DLQ format: what each DLQ's own consumer expects back
(dlq-other-formats.md), with the same replay markers as the xact download replay.

- xact-download: `replay_message.build` (the original task to the pending topic).
- claimx-download: the original task with retry_count 0, key media_id, to its pending topic.
- claimx-enrichment: the original task with retry_count 0, key trace_id, to its pending topic.
- envelope: the original value, key and headers, byte for byte, to the original topic; the
  markers are extra headers only (the original value is not the dashboard's to change).
- any, replayed to "origin": a foreign DLQ (Kafka Connect, Spring Kafka, Kafka Streams,
  Karafka) keeps the failed message itself, its source named in headers: its value, key and
  headers go back to that topic, without the headers the DLQ producer added (`origin_message`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, Final

from dashboard.actions.replay_message import (
    NotReplayable,
    ReplayMessage,
    build,
    check_url,
    moment_text,
)
from dashboard.actions.values import NO_ORIGIN_TOPIC
from dashboard.settings import DlqSettings

# The ClaimX download task's fields its worker cannot do without (all non-empty strings).
CLAIMX_DOWNLOAD_REQUIRED = ("media_id", "project_id", "download_url", "blob_path")
CLAIMX_ENRICHMENT_REQUIRED = ("trace_id", "event_type", "project_id")


def replay_key_field(dlq_format: str) -> str:
    """The task field a replayed task is keyed by: what its consumer partitions on."""
    return "media_id" if dlq_format == "claimx-download" else "trace_id"


def build_for_dlq(
    dlq: DlqSettings,
    value: bytes | None,
    *,
    dlq_topic: str,
    dlq_partition: int,
    dlq_offset: int,
    actor: str,
    replayed_at: datetime,
    new_url: str | None = None,
    new_file_type: str | None = None,
    new_blob_path: str | None = None,
    key: bytes | None = None,
    headers: Sequence[tuple[str, bytes | None]] = (),
) -> ReplayMessage:
    """The message that replays one record (of `dlq_topic`, read as `dlq`'s format), with
    the topic it goes to. `key` and `headers` are the record's own: only a foreign DLQ's
    replay to its origin sends them back."""
    markers = _Markers(dlq_topic, dlq_partition, dlq_offset, actor, replayed_at)
    if dlq.format == "envelope":
        if new_url or new_file_type or new_blob_path:
            raise NotReplayable("an envelope is replayed as it was: no new URL, type or path")
        return envelope_message(value, markers)
    if dlq.format in ("claimx-download", "claimx-enrichment"):
        if dlq.format == "claimx-enrichment" and (new_url or new_file_type or new_blob_path):
            raise NotReplayable("an enrichment task has no URL, file type or blob path")
        message = claimx_message(dlq.format, value, markers, new_url, new_file_type, new_blob_path)
        return replace(message, topic=dlq.replay_target)
    if dlq.replays_to_origin:  # format "any": the headers name the origin
        if new_url or new_file_type or new_blob_path:
            raise NotReplayable("a message is replayed to its origin as it was: no new URL")
        return origin_message(value, key, headers, markers)
    return build(
        value,
        dlq_topic=dlq_topic,
        dlq_partition=dlq_partition,
        dlq_offset=dlq_offset,
        actor=actor,
        replayed_at=replayed_at,
        new_url=new_url,
        new_file_type=new_file_type,
        new_blob_path=new_blob_path,
        topic=dlq.replay_target,
    )


class _Markers:
    """Where a replay came from and who sent it: in the task's metadata and in headers."""

    def __init__(
        self, topic: str, partition: int, offset: int, actor: str, replayed_at: datetime
    ) -> None:
        self.topic, self.partition, self.offset = topic, partition, offset
        self.actor, self.replayed_at = actor, replayed_at

    def metadata(self) -> dict[str, Any]:
        return {
            "replayed_from_dlq": True,
            "dlq_topic": self.topic,
            "dlq_partition": self.partition,
            "dlq_offset": self.offset,
            "replayed_by": self.actor,
            "replayed_at": moment_text(self.replayed_at),
        }

    def headers(self) -> list[tuple[str, bytes]]:
        return [
            ("replayed_from_dlq", b"true"),
            ("dlq_topic", self.topic.encode()),
            ("dlq_partition", str(self.partition).encode()),
            ("dlq_offset", str(self.offset).encode()),
        ]


def _json_object(value: bytes | None) -> dict[str, Any]:
    if value is None:
        raise NotReplayable("the record has no value (tombstone)")
    try:
        record = json.loads(value)
    except (UnicodeDecodeError, ValueError):
        raise NotReplayable("the record's value is not JSON") from None
    if not isinstance(record, dict):
        raise NotReplayable("the record's value is not a JSON object")
    return record


def claimx_message(
    dlq_format: str,
    value: bytes | None,
    markers: _Markers,
    new_url: str | None = None,
    new_file_type: str | None = None,
    new_blob_path: str | None = None,
) -> ReplayMessage:
    """The ClaimX DLQ tool's replay: the original task, retry_count 0; keyed by media_id
    (downloads) or trace_id (enrichment)."""
    record = _json_object(value)
    if not isinstance(record.get("original_task"), dict):
        raise NotReplayable("the record holds no original_task object to replay")
    task: dict[str, Any] = json.loads(json.dumps(record["original_task"]))  # a deep copy
    download = dlq_format == "claimx-download"
    for name in CLAIMX_DOWNLOAD_REQUIRED if download else CLAIMX_ENRICHMENT_REQUIRED:
        if not isinstance(task.get(name), str) or not task[name].strip():
            raise NotReplayable(f"the task's {name} is missing or empty")
    task["retry_count"] = 0
    metadata = task.get("metadata")
    if metadata is None:
        metadata = {}
    elif not isinstance(metadata, dict):
        metadata = {"original_metadata": metadata}
    metadata.update(markers.metadata())
    task["metadata"] = metadata
    if new_url is not None:
        task["download_url"] = check_url(new_url)
    if new_file_type:
        task["file_type"] = new_file_type
    if new_blob_path:
        task["blob_path"] = new_blob_path
    key = task[replay_key_field(dlq_format)]
    trace_id = task.get("trace_id") or record.get("trace_id")
    headers = [("trace_id", str(trace_id).encode())] if trace_id else []
    return ReplayMessage(
        key=key.encode(),
        value=json.dumps(task, ensure_ascii=False).encode(),
        headers=headers + markers.headers(),
        task=task,
    )


def envelope_message(value: bytes | None, markers: _Markers) -> ReplayMessage:
    """The generic DLQ's replay: `original_value` (its UTF-8 bytes), `original_key` and
    `original_headers` to `original_topic`, unchanged; the markers as extra headers."""
    record = _json_object(value)
    topic = record.get("original_topic")
    if not isinstance(topic, str) or not topic.strip():
        raise NotReplayable("the envelope names no original_topic to replay to")
    original = record.get("original_value")
    if not isinstance(original, str):
        raise NotReplayable("the envelope kept no original_value (a tombstone is not replayed)")
    key = record.get("original_key")
    if key is not None and not isinstance(key, str):
        raise NotReplayable("the envelope's original_key is not text")
    headers = record.get("original_headers") or {}
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise NotReplayable("the envelope's original_headers are not an object of texts")
    kept = [(name, text.encode()) for name, text in headers.items()]
    return ReplayMessage(
        key=key.encode() if key is not None else None,
        value=original.encode(),
        headers=kept + markers.headers(),
        task={"original_topic": topic, "original_key": key, "original_value": original},
        topic=topic,
    )


# The header naming the source topic in each foreign DLQ convention, in the order parse.sql
# tells them apart, and the prefix (or names) of the headers its DLQ producer adds.
FOREIGN_CONVENTIONS: Final = (
    ("Kafka Connect", "__connect.errors.topic", ("__connect.errors.",)),
    ("Spring Kafka", "kafka_dlt-original-topic", ("kafka_dlt-",)),
    ("Kafka Streams", "__streams.errors.topic", ("__streams.errors.",)),
)
# Karafka's dispatch headers are plain names, not a prefix.
KARAFKA_HEADERS: Final = frozenset(
    {
        "source_topic",
        "source_partition",
        "source_offset",
        "source_consumer_group",
        "source_attempts",
        "source_key",
    }
)
MARKER_HEADERS: Final = frozenset({"replayed_from_dlq", "dlq_topic", "dlq_partition", "dlq_offset"})


def origin_topic(
    headers: Sequence[tuple[str, bytes | None]],
) -> tuple[str, str, Callable[[str], bool]] | None:
    """(convention, source topic, whether a header is one its DLQ producer adds) of a
    foreign DLQ record, or None when no convention's headers are there. The last header of
    a name counts, as in the clients and the parse."""
    names = [name for name, _ in headers]
    for convention, topic_header, prefixes in FOREIGN_CONVENTIONS:
        if any(name.startswith(prefixes) for name in names):
            return convention, _last_text(headers, topic_header), _prefixed(prefixes)
    if "source_topic" in names and "source_offset" in names:
        return "Karafka", _last_text(headers, "source_topic"), KARAFKA_HEADERS.__contains__
    return None


def _prefixed(prefixes: tuple[str, ...]) -> Callable[[str], bool]:
    return lambda name: name.startswith(prefixes)


def _last_text(headers: Sequence[tuple[str, bytes | None]], name: str) -> str:
    found = [value for key, value in headers if key == name]
    try:
        return (found[-1] or b"").decode().strip() if found else ""
    except UnicodeDecodeError:
        return ""


def origin_message(
    value: bytes | None,
    key: bytes | None,
    headers: Sequence[tuple[str, bytes | None]],
    markers: _Markers,
) -> ReplayMessage:
    """A foreign DLQ record back to the topic its headers name: its value, key and headers
    byte for byte, plus the replay markers.

    Left out: the headers the DLQ producer added (the convention's error headers: they
    describe the failure, not the message, and that convention's DLQ producer would add
    a second set on top of them should it fail again), and markers of an earlier replay
    (the new ones replace them, so the message names one DLQ record). Everything else the
    message carried goes back as it was. No partition is pinned: the origin's partitioner
    places it by its key, as it placed the original."""
    found = origin_topic(headers)
    if found is None:
        raise NotReplayable(NO_ORIGIN_TOPIC)
    convention, topic, added = found
    if not topic:
        raise NotReplayable(f"the record's {convention} headers name no source topic")
    if value is None:
        raise NotReplayable("the record has no value (a tombstone is not replayed)")
    kept = [(name, data) for name, data in headers if not (added(name) or name in MARKER_HEADERS)]
    return ReplayMessage(
        key=key,
        value=value,
        headers=[*kept, *markers.headers()],
        task={"origin_topic": topic, "convention": convention, "value_bytes": len(value)},
        topic=topic,
    )

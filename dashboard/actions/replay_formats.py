"""Replay messages for each DLQ format: what each DLQ's own consumer expects back
(dlq-other-formats.md), with the same replay markers as the xact download replay.

- xact-download: `replay_message.build` (the original task to the pending topic).
- claimx-download: the original task with retry_count 0, key media_id, to its pending topic.
- claimx-enrichment: the original task with retry_count 0, key trace_id, to its pending topic.
- envelope: the original value, key and headers, byte for byte, to the original topic; the
  markers are extra headers only (the original value is not the dashboard's to change).
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from typing import Any

from dashboard.actions.replay_message import NotReplayable, ReplayMessage, build, check_url
from dashboard.settings import DlqSettings

# The ClaimX download task's fields its worker cannot do without (all non-empty strings).
CLAIMX_DOWNLOAD_REQUIRED = ("media_id", "project_id", "download_url", "blob_path")
CLAIMX_ENRICHMENT_REQUIRED = ("trace_id", "event_type", "project_id")


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
) -> ReplayMessage:
    """The message that replays one record (of `dlq_topic`, read as `dlq`'s format), with
    the topic it goes to."""
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
    if dlq.replays_to_origin:
        raise NotReplayable(f"replay of {dlq.format} records to their origin is not supported yet")
    message = build(
        value,
        dlq_topic=dlq_topic,
        dlq_partition=dlq_partition,
        dlq_offset=dlq_offset,
        actor=actor,
        replayed_at=replayed_at,
        new_url=new_url,
        new_file_type=new_file_type,
        new_blob_path=new_blob_path,
    )
    return replace(message, topic=dlq.replay_target)


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
            "replayed_at": self.replayed_at.isoformat(),
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
    key = task["media_id"] if download else task["trace_id"]
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

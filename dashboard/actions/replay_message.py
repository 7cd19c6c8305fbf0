"""The message a replay puts on the pending topic, built from a DLQ record's raw value.

Format spec, "Replay": the original task with `retry_count` = 0 and `metadata` extended with
`replayed_from_dlq`, `dlq_partition`, `dlq_offset` (and who replayed it, when); a new URL in
`attachment_url` when the operator gave one, `file_type` and `blob_path` unchanged unless
the operator changes them; key: the trace id; headers: `trace_id`, `replayed_from_dlq`, and
the same `dlq_topic`/`dlq_partition`/`dlq_offset` markers as the metadata, so the pending
topic can be matched to DLQ records without parsing any payload (interrupted.py).
Every other field of the task, known or not, goes through untouched.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from urllib.parse import urlsplit


class NotReplayable(Exception):
    """The record holds no task that could be sent again; the message says why."""


@dataclass(frozen=True)
class ReplayMessage:
    key: bytes | None  # None: an envelope's original message had no key
    value: bytes
    headers: Sequence[tuple[str, bytes | None]]  # None: a header without a value, kept so
    task: dict[str, Any]
    # Where it goes (replay_formats.build_for_dlq); None: the settings' pending topic.
    topic: str | None = None


# Presigned URLs run to a couple of thousand characters; browsers and S3 stop near 8 KB.
MAX_URL_CHARS = 8_192
# The task's JSON as the pipeline writes it (UTF-8, not escaped); one encoder for every
# message, not one per json.dumps call.
TASK_JSON: Final = json.JSONEncoder(ensure_ascii=False)


@functools.lru_cache(maxsize=16)  # a chunk's messages share their moment
def moment_text(moment: datetime) -> str:
    return moment.isoformat()


def check_url(url: str) -> str:
    """A new attachment URL must be an absolute http(s) URL with a host, printable (no
    control characters or line breaks: the downloader would get another URL than the one
    previewed) and at most MAX_URL_CHARS long."""
    candidate = url.strip()
    if len(candidate) > MAX_URL_CHARS:
        raise ValueError(f"a URL of {len(candidate):,} characters; at most {MAX_URL_CHARS:,}")
    if not candidate.isprintable():
        raise ValueError("the URL holds control characters or line breaks")
    parts = urlsplit(candidate)
    if parts.scheme not in ("http", "https") or not parts.netloc or " " in candidate:
        raise ValueError(f"not an http(s) URL with a host: {candidate!r}")
    return candidate


def build(
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
    topic: str | None = None,
) -> ReplayMessage:
    """The replay of one xact download DLQ record, to `topic` (None: the pending topic)."""
    if value is None:
        raise NotReplayable("the record has no value (tombstone)")
    try:
        record = json.loads(value)
    except (UnicodeDecodeError, ValueError):
        raise NotReplayable("the record's value is not JSON") from None
    if not isinstance(record, dict) or not isinstance(record.get("original_task"), dict):
        raise NotReplayable("the record holds no original_task object to replay")
    # Parsed from the bytes just now, so the task is this call's own to change (no copy).
    task: dict[str, Any] = record["original_task"]
    trace_id = task.get("trace_id") or record.get("trace_id")
    if not isinstance(trace_id, str) or not trace_id:
        raise NotReplayable("the task has no trace id to key the replay with")

    task["retry_count"] = 0
    metadata = task.get("metadata")
    if metadata is None:
        metadata = {}
    elif not isinstance(metadata, dict):
        metadata = {"original_metadata": metadata}
    metadata.update(
        {
            "replayed_from_dlq": True,
            "dlq_topic": dlq_topic,
            "dlq_partition": dlq_partition,
            "dlq_offset": dlq_offset,
            "replayed_by": actor,
            "replayed_at": moment_text(replayed_at),
        }
    )
    task["metadata"] = metadata
    if new_url is not None:
        task["attachment_url"] = check_url(new_url)
    if new_file_type:
        task["file_type"] = new_file_type
    if new_blob_path:
        task["blob_path"] = new_blob_path
    return ReplayMessage(
        key=trace_id.encode(),
        value=TASK_JSON.encode(task).encode(),
        headers=[
            ("trace_id", trace_id.encode()),
            ("replayed_from_dlq", b"true"),
            ("dlq_topic", dlq_topic.encode()),
            ("dlq_partition", str(dlq_partition).encode()),
            ("dlq_offset", str(dlq_offset).encode()),
        ],
        task=task,
        topic=topic,
    )

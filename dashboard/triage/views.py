"""A record laid out as the runbook's `view` shows it, for the page and the CLI alike."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dashboard.text.limits import FIELD_CHARS, capped
from dashboard.text.urls import mask_text, mask_url
from dashboard.triage.dimensions import NO_TEXT_LABEL
from dashboard.triage.messages import RecordDetail
from dashboard.triage.states import OPEN, RESOLVED, lower_label


@dataclass(frozen=True)
class Section:
    title: str
    rows: list[tuple[str, str]]


def _plain(value: Any) -> str:
    if value is None:
        return "-"
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    if isinstance(value, list):
        return "; ".join(str(v) for v in value) if value else "-"
    return str(value)


def view_sections(
    detail: RecordDetail, show_secrets: bool = False, limit: int | None = FIELD_CHARS
) -> list[Section]:
    """Kafka metadata, message details, error information, original task, metadata; each
    field cut to `limit` characters (None: whole) before it is masked."""
    c = detail.columns
    url_of: Callable[[str], str] = (lambda u: u) if show_secrets else mask_url
    text_of: Callable[[str], str] = (lambda t: t) if show_secrets else mask_text

    def url(value: str) -> str:
        return url_of(capped(value, limit))

    def text(value: str) -> str:
        return text_of(capped(value, limit))

    def _text(value: Any) -> str:
        return text(_plain(value))

    task = detail.original_task or {}
    sections = [
        Section(
            "Kafka metadata",
            [
                ("Topic", _text(c["topic"])),
                ("Partition", _text(c["partition"])),
                ("Offset", _text(c["offset"])),
                ("Key", _text(c["key"])),
                (
                    "Timestamp",
                    f"{_text(c['kafka_timestamp'])} ({c['timestamp_type'] or 'no type'})",
                ),
                ("Headers", "; ".join(f"{text(k)}={text(v)}" for k, v in detail.headers) or "-"),
                ("State", _state(c)),
            ],
        ),
        Section(
            "Message details",
            [
                ("Trace ID", _text(c["trace_id"])),
                ("URL", url(c["attachment_url"]) if c["attachment_url"] else "-"),
                ("Domain", _text(c["domain"])),
                ("Retry count", _text(c["retry_count"])),
                ("Format", _text(c["record_format"])),
            ],
        ),
        Section(
            "Error information",
            [
                ("Category", _text(c["error_category"])),
                ("Error", text(c["error_message"]) if c["error_message"] else NO_TEXT_LABEL),
                ("Error from", _text(c["error_source"])),
                ("Signature", _text(c["error_signature"])),
                ("Exception", _text(c["exception_class"])),
                ("Origin", _origin(c)),
                ("Parse error", _text(c["parse_error"])),
                ("Parse warnings", _text(c["parse_warnings"])),
            ],
        ),
        Section(
            "Original task",
            [
                ("Event type", _text(task.get("event_type"))),
                ("Event subtype", _text(task.get("event_subtype"))),
                ("Destination path", _text(task.get("blob_path"))),
                ("File type", _text(task.get("file_type") or c["file_type"])),
                ("Assignment", _text(task.get("assignment_id"))),
                ("Media ID", _text(task.get("media_id"))),
                ("Estimate version", _text(task.get("estimate_version"))),
            ],
        ),
        Section(
            "Metadata",
            [
                ("Failed at", _text(c["failed_at"])),
                ("Original timestamp", _text(task.get("original_timestamp"))),
                *[
                    (f"metadata.{capped(k, limit)}", _text(v))
                    for k, v in (detail.metadata or {}).items()
                ],
                ("Ingested at", _text(c["ingested_at"])),
                ("Gone from Kafka at", _text(c["gone_from_kafka_at"])),
            ],
        ),
    ]
    return sections


def _state(columns: dict[str, Any]) -> str:
    word = str(columns.get("state") or OPEN)
    state = lower_label(word)
    source = columns.get("resolution_source")
    if word == RESOLVED and source:
        state += f" ({source}, {_plain(columns.get('resolved_at'))})"
    if columns.get("parse_error"):
        state += ", unparseable"
    if columns.get("gone_from_kafka_at"):
        state += ", gone from Kafka"
    return state


def _origin(columns: dict[str, Any]) -> str:
    if columns.get("origin_topic") is None:
        return "-"
    return (
        f"{columns['origin_topic']}:{_plain(columns['origin_partition'])}:"
        f"{_plain(columns['origin_offset'])}"
    )


def raw_value(detail: RecordDetail, show_secrets: bool = False, limit: int | None = None) -> str:
    if detail.value_text is None:
        return "(tombstone: no value)"
    value = capped(detail.value_text, limit)
    return value if show_secrets else mask_text(value)

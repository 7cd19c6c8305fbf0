"""Demo records of the pipeline's other DLQs (dlq-other-formats.md): ClaimX downloads, ClaimX
enrichment and the generic `<topic>.dlq` envelope, each with the failures its workers really
have and a little poison. Pure functions of a random generator and a timestamp, like
demo_shapes for the xact download DLQ."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from dashboard.devtools.demo_poison import poison
from dashboard.devtools.demo_shapes import DemoRecord, iso, new_trace_id, presigned_url

_CLAIMX_HOSTS = ["claimx-media.s3.amazonaws.com", "claimx-media-eu.s3.eu-west-1.amazonaws.com"]
_CLAIMX_FILES = [("jpg", "IMG_{n}.jpg"), ("mp4", "walkthrough_{n}.mp4"), ("pdf", "report_{n}.pdf")]
# (error_category, retry_count): ClaimX download records carry no error text.
_CLAIMX_FAILURES = [("transient", 4), ("permanent", 0), ("auth", 0), ("circuit_open", 2)]
_ENRICHMENT_EVENTS = ["PROJECT_CREATED", "PROJECT_FILE_ADDED", "PROJECT_ASSIGNMENT_UPDATED"]
_ENRICHMENT_ERRORS = [
    ("transient", "ClaimX API timeout after 30s (GET /projects/{p})"),
    ("auth", "ClaimX API returned 401 Unauthorized: token expired"),
    ("permanent", "ClaimX API returned 404 Not Found for project {p}"),
]
# A worker's input topic, what failed it, and the original message it could not handle.
_ENVELOPE_FAILURES = [
    ("claimx.enrichment.pending", "enrichment-worker", "ValidationError", "permanent",
     "1 validation error for EnrichmentTask: project_id field required"),
    ("xact.events.raw", "event-ingester", "JSONDecodeError", "permanent",
     "Expecting value: line 1 column 1 (char 0)"),
    ("claimx.downloads.results", "result-processor", "TimeoutError", "transient",
     "Timed out writing to OneLake after 60s"),
]  # fmt: skip


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def claimx_download(
    rng: random.Random, when: datetime, failure: int | None = None, host: int | None = None
) -> DemoRecord:
    """A failed ClaimX media download; `failure` and `host` (indexes) fix what failed where,
    for a burst."""
    trace_id = new_trace_id(rng)
    media_id = str(rng.randrange(10_000_000, 99_999_999))
    project_id = str(rng.randrange(100_000, 999_999))
    file_type, pattern = rng.choice(_CLAIMX_FILES)
    server = rng.choice(_CLAIMX_HOSTS) if host is None else _CLAIMX_HOSTS[host]
    url = presigned_url(rng, server, file_type)
    failed = rng.choice(_CLAIMX_FAILURES) if failure is None else _CLAIMX_FAILURES[failure]
    category, retry_count = failed
    task: dict[str, Any] = {
        "media_id": media_id,
        "project_id": project_id,
        "download_url": url,
        "blob_path": f"claimx/{project_id}/media/{media_id}.{file_type}",
        "file_type": file_type,
        "file_name": pattern.format(n=rng.randrange(1000, 9999)),
        "trace_id": trace_id,
        "retry_count": retry_count,
        "expires_at": iso(when + timedelta(hours=1)),
        "refresh_count": rng.randrange(0, 3),
        "metadata": {"source": "claimx"},
    }
    value = {
        "trace_id": trace_id,
        "media_id": media_id,
        "project_id": project_id,
        "download_url": url,
        "original_task": task,
        "error_category": category,
        "retry_count": retry_count,
        "failed_at": iso(when),
    }
    return DemoRecord(
        media_id.encode(), json.dumps(value).encode(), [], _ms(when), f"claimx-{category}"
    )


def claimx_enrichment(rng: random.Random, when: datetime) -> DemoRecord:
    trace_id = new_trace_id(rng)
    project_id = str(rng.randrange(100_000, 999_999))
    event_type = rng.choice(_ENRICHMENT_EVENTS)
    category, error = rng.choice(_ENRICHMENT_ERRORS)
    task: dict[str, Any] = {
        "trace_id": trace_id,
        "event_type": event_type,
        "project_id": project_id,
        "retry_count": 4 if category == "transient" else 0,
        "created_at": iso(when - timedelta(minutes=rng.randrange(1, 90))),
    }
    if event_type == "PROJECT_FILE_ADDED":
        task["media_id"] = str(rng.randrange(10_000_000, 99_999_999))
    value = {
        "trace_id": trace_id,
        "event_type": event_type,
        "project_id": project_id,
        "original_task": task,
        "final_error": error.format(p=project_id)[:500],
        "error_category": category,
        "retry_count": task["retry_count"],
        "failed_at": iso(when),
    }
    return DemoRecord(
        trace_id.encode(), json.dumps(value).encode(), [], _ms(when), f"enrichment-{category}"
    )


def envelope(
    rng: random.Random, when: datetime, offset: int | None = None, failure: int | None = None
) -> DemoRecord:
    """A generic DLQ's envelope; `failure` (an index) fixes which worker failed how."""
    chosen = rng.choice(_ENVELOPE_FAILURES) if failure is None else _ENVELOPE_FAILURES[failure]
    source, worker, error_type, category, message = chosen
    original_offset = rng.randrange(0, 500_000) if offset is None else offset
    keyed = rng.random() < 0.9
    key = new_trace_id(rng) if keyed else None
    original: bytes
    if error_type == "JSONDecodeError":
        original = b"<html>502 Bad Gateway</html>"
    else:
        original = json.dumps(
            {"trace_id": key, "project_id": str(rng.randrange(100_000, 999_999)), "n": 1}
        ).encode()
    value = {
        "trace_id": key,
        "original_topic": source,
        "original_partition": rng.randrange(0, 6),
        "original_offset": original_offset,
        "original_key": key,
        "original_value": original.decode(),
        "original_headers": {"trace_id": key or "", "source": "demo"},
        "original_timestamp": _ms(when) - rng.randrange(1_000, 600_000),
        "error_type": error_type,
        "error_message": message,
        "error_category": category,
        "consumer_group": f"{worker}-group",
        "worker_id": f"{worker}-{uuid.UUID(int=rng.getrandbits(128)).hex[:6]}",
        "worker_name": worker,
        "domain": "claimx" if source.startswith("claimx") else "xact",
        "dlq_timestamp": when.timestamp(),
    }
    headers = [
        ("dlq_source_topic", source.encode()),
        ("dlq_error_category", category.encode()),
        ("dlq_consumer_group", f"{worker}-group".encode()),
    ]
    dlq_key = (key or f"dlq-{original_offset}").encode()
    return DemoRecord(
        dlq_key, json.dumps(value).encode(), headers, _ms(when), f"envelope-{error_type}"
    )


# The topics the envelope's failed messages were read from: a replay puts them back there.
ENVELOPE_ORIGINS: tuple[str, ...] = tuple(sorted({f[0] for f in _ENVELOPE_FAILURES}))

SHAPES: dict[str, Callable[[random.Random, datetime], DemoRecord]] = {
    "claimx-download": claimx_download,
    "claimx-enrichment": claimx_enrichment,
    "envelope": envelope,
}


def generate(
    dlq_format: str,
    count: int,
    days: float,
    now: datetime | None = None,
    seed: int | None = None,
) -> Iterator[DemoRecord]:
    """`count` records of one DLQ format over the past `days`, oldest first; about one in
    two hundred is poison, as on a real topic."""
    shape = SHAPES[dlq_format]
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    span = days * 86_400
    moments = sorted(now - timedelta(seconds=rng.uniform(0, span)) for _ in range(count))
    for moment in moments:
        yield poison(rng, _ms(moment)) if rng.random() < 0.005 else shape(rng, moment)

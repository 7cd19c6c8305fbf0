"""The demo's record shapes: what each of the runbook's failure patterns looks like as a DLQ
record (pipeline format drift included), and the poison records a real DLQ holds sooner or
later. Pure functions of a random generator, a trace id and a timestamp."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

Header = tuple[str, bytes]


@dataclass(frozen=True)
class DemoRecord:
    key: bytes | None
    value: bytes | None
    headers: list[Header]
    timestamp_ms: int
    pattern: str  # which failure pattern (or poison kind) produced it


# The systematic burst's domain and error (demo_data and demo_live decide when and how many).
BURST_DOMAIN = "docs.partner-claims.example.com"
BURST_ERROR = "SSL certificate verification failed: certificate has expired (notAfter 2026-11-27)"
S3_HOSTS = [
    "claims-docs.s3.amazonaws.com",
    "xact-attachments.s3.us-east-1.amazonaws.com",
    "estimates-prod.s3.eu-west-1.amazonaws.com",
]
_AZURE_HOSTS = ["claimsmedia.blob.core.windows.net", "partnerfiles.blob.core.windows.net"]
_SLOW_HOSTS = [
    "files.slowvendor.example.net",
    "media.regional-adjusters.example.org",
    "cdn.contractor-portal.example.com",
]
_SUBTYPES = [
    "documentsReceived",
    "estimatePackageReceived",
    "photosReceived",
    "invoiceReceived",
    "statusUpdate",
]
_FILE_TYPES = ["pdf", "pdf", "pdf", "xml", "jpg", "png"]
_REJECTED = [".exe", ".zip", ".docm", ".bat", ".html", ".js"]


def new_trace_id(rng: random.Random) -> str:
    return f"evt-{uuid.UUID(int=rng.getrandbits(128)).hex[:12]}"


def task(
    rng: random.Random,
    trace_id: str,
    url: str,
    file_type: str,
    failed: datetime,
    retry_count: int,
    last_error: str | None,
    category: str,
) -> dict[str, object]:
    claim = f"C-{rng.randrange(10000, 99999)}"
    subtype = rng.choice(_SUBTYPES)
    name = url.split("?", 1)[0].rsplit("/", 1)[-1]
    metadata: dict[str, object] = {}
    if last_error is not None:
        metadata = {
            "last_error": last_error,
            "error_category": category,
            "retry_at": iso(failed - timedelta(minutes=5)),
        }
    task: dict[str, object] = {
        "trace_id": trace_id,
        "media_id": str(uuid.UUID(int=rng.getrandbits(128))),
        "attachment_url": url,
        "blob_path": f"{subtype}/{claim}/{file_type}/{name}",
        "status_subtype": subtype,
        "file_type": file_type,
        "assignment_id": claim,
        "estimate_version": rng.choice([None, None, "1", "2"]),
        "retry_count": retry_count,
        "event_type": "xact",
        "event_subtype": subtype,
        "original_timestamp": iso(failed - timedelta(minutes=rng.randrange(2, 90))),
        "metadata": metadata,
    }
    if rng.random() < 0.1:  # newer ingesters add fields; a replay must keep them
        task["priority"] = rng.choice(["normal", "high"])
    return task


def _record(
    rng: random.Random,
    trace_id: str,
    when_ms: int,
    *,
    url: str,
    file_type: str,
    category: str,
    retry_count: int,
    error: str | None,
    pattern: str,
) -> DemoRecord:
    failed = datetime.fromtimestamp(when_ms / 1000, UTC)
    newer = rng.random() < 0.3  # newer pipeline versions drop final_error
    # Only a task that went through a retry topic carries metadata.last_error, so in the newer
    # format a task that failed permanently on its first attempt has no error text at all.
    last_error = error if retry_count > 0 else None
    value: dict[str, object] = {
        "trace_id": trace_id,
        "attachment_url": url,
        "retry_count": retry_count,
        "error_category": category.upper() if rng.random() < 0.03 else category,
        "failed_at": iso(failed, naive=rng.random() < 0.05),
        "original_task": task(
            rng, trace_id, url, file_type, failed, retry_count, last_error, category
        ),
    }
    if not newer and error is not None:
        value["final_error"] = error[:500]
    headers = [
        ("retry_count", str(retry_count).encode()),
        ("error_category", category.encode()),
        ("failed", b"true"),
    ]
    return DemoRecord(trace_id.encode(), json.dumps(value).encode(), headers, when_ms, pattern)


def presigned_url(rng: random.Random, host: str, file_type: str) -> str:
    name = f"{uuid.UUID(int=rng.getrandbits(128)).hex[:10]}.{file_type}"
    path = f"claims/C-{rng.randrange(10000, 99999)}/{name}"
    if host.endswith("windows.net"):
        sig = uuid.UUID(int=rng.getrandbits(128)).hex
        return (
            f"https://{host}/{path}?sv=2023-11-03&se=2026-11-20T10%3A00%3A00Z&sr=b&sp=r"
            f"&sig={sig}%3D"
        )
    signature = uuid.UUID(int=rng.getrandbits(128)).hex + uuid.UUID(int=rng.getrandbits(128)).hex
    return (
        f"https://{host}/{path}?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        f"&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20261120%2Fus-east-1%2Fs3%2Faws4_request"
        f"&X-Amz-Date=20261120T100000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
        f"&X-Amz-Signature={signature}"
    )


def _expired_url(rng: random.Random, trace_id: str, when: int) -> DemoRecord:
    file_type = rng.choice(_FILE_TYPES)
    url = presigned_url(rng, rng.choice(S3_HOSTS + _AZURE_HOSTS), file_type)
    error = rng.choice(
        [
            "HTTP 404: Not Found - URL no longer available",
            "HTTP 410: Gone - presigned URL expired",
            f"File not found (404) - URL returned 404 Not Found after {rng.choice([1, 4])} "
            "retry attempts",
        ]
    )
    retry = 0 if rng.random() < 0.85 else 4
    return _record(
        rng,
        trace_id,
        when,
        url=url,
        file_type=file_type,
        category="permanent",
        retry_count=retry,
        error=error,
        pattern="expired_url",
    )


def _file_type(rng: random.Random, trace_id: str, when: int) -> DemoRecord:
    ext = rng.choice(_REJECTED)
    url = presigned_url(rng, rng.choice(S3_HOSTS), ext.lstrip("."))
    error = f"File type validation failed: {ext} not in allowed types [.pdf, .xml, .jpg, .png]"
    return _record(
        rng,
        trace_id,
        when,
        url=url,
        file_type=ext.lstrip("."),
        category="permanent",
        retry_count=0,
        error=error,
        pattern="file_type",
    )


def _timeout(rng: random.Random, trace_id: str, when: int) -> DemoRecord:
    file_type = rng.choice(_FILE_TYPES)
    host = rng.choice(_SLOW_HOSTS)
    url = f"https://{host}/api/v2/attachments/{rng.randrange(10**6, 10**7)}/download.{file_type}"
    error = rng.choice(
        [
            f"Connection timeout after {rng.choice([30, 45, 60])}s"
            " - retries exhausted (4 attempts)",
            "HTTP 503: Service Unavailable - retries exhausted (4 attempts)",
            f"Read timed out after {rng.randrange(20, 120)}s while downloading "
            f"{rng.randrange(5, 400)} MB - retries exhausted (4 attempts)",
            "Connection reset by peer - retries exhausted (4 attempts)",
        ]
    )
    return _record(
        rng,
        trace_id,
        when,
        url=url,
        file_type=file_type,
        category="transient",
        retry_count=4,
        error=error,
        pattern="timeout",
    )


def _onelake(rng: random.Random, trace_id: str, when: int) -> DemoRecord:
    file_type = rng.choice(_FILE_TYPES)
    url = presigned_url(rng, rng.choice(S3_HOSTS), file_type)
    error, category = rng.choice(
        [
            ("OneLake upload failed: AuthenticationError - Token expired", "transient"),
            ("OneLake upload failed: AuthenticationError - Token expired", "auth"),
            ("OneLake upload failed: StorageQuotaExceeded - capacity 100% used", "permanent"),
            (
                "OneLake upload failed: ServiceUnavailable (503) - request id "
                f"{uuid.UUID(int=rng.getrandbits(128))}",
                "transient",
            ),
        ]
    )
    return _record(
        rng,
        trace_id,
        when,
        url=url,
        file_type=file_type,
        category=category,
        retry_count=4,
        error=error,
        pattern="onelake",
    )


def _other_category(rng: random.Random, trace_id: str, when: int) -> DemoRecord:
    file_type = rng.choice(_FILE_TYPES)
    url = presigned_url(rng, rng.choice(S3_HOSTS), file_type)
    category, error = rng.choice(
        [
            ("circuit_open", f"Circuit breaker open for {rng.choice(_SLOW_HOSTS)} - not attempted"),
            ("unknown", "Unexpected error: KeyError('content-length')"),
        ]
    )
    return _record(
        rng,
        trace_id,
        when,
        url=url,
        file_type=file_type,
        category=category,
        retry_count=rng.choice([0, 4]),
        error=error,
        pattern="other_category",
    )


def _systematic(rng: random.Random, trace_id: str, when: int) -> DemoRecord:
    file_type = rng.choice(_FILE_TYPES)
    url = presigned_url(rng, BURST_DOMAIN, file_type)
    return _record(
        rng,
        trace_id,
        when,
        url=url,
        file_type=file_type,
        category="permanent",
        retry_count=0,
        error=BURST_ERROR,
        pattern="systematic",
    )


PATTERNS: dict[str, Callable[[random.Random, str, int], DemoRecord]] = {
    "expired_url": _expired_url,
    "file_type": _file_type,
    "timeout": _timeout,
    "onelake": _onelake,
    "other_category": _other_category,
    "systematic": _systematic,
}


def iso(moment: datetime, naive: bool = False) -> str:
    if naive:
        return moment.replace(tzinfo=None).isoformat(timespec="seconds")
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")

"""A believable DLQ for demos and benchmarks: the runbook's five failure patterns, format
drift between pipeline versions, replays that failed again, and a few poison records.

`generate()` is pure (records as values, keys, headers and timestamps); `produce()` sends
them to the configured DLQ topic through `dashboard.adapters.kafka`.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from dashboard.adapters.kafka import KafkaGateway
from dashboard.settings import Settings

Header = tuple[str, bytes]


@dataclass(frozen=True)
class DemoRecord:
    key: bytes | None
    value: bytes | None
    headers: list[Header]
    timestamp_ms: int
    pattern: str  # which failure pattern (or poison kind) produced it


# The systematic burst: one domain, one error, in the last half hour, fast enough to put the
# growth rate in the runbook's Critical band (> 10 per minute).
BURST_DOMAIN = "docs.partner-claims.example.com"
BURST_ERROR = "SSL certificate verification failed: certificate has expired (notAfter 2026-11-27)"
BURST_MINUTES = 30

# Share of the records each pattern gets (the rest of the runbook's background).
PATTERN_WEIGHTS: dict[str, float] = {
    "expired_url": 0.30,
    "file_type": 0.09,
    "timeout": 0.25,
    "onelake": 0.10,
    "other_category": 0.03,
    "systematic": 0.20,
    "replay_failed": 0.025,
    "poison": 0.005,
}

_S3_HOSTS = [
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


def generate(
    count: int, days: float, now: datetime | None = None, seed: int | None = None
) -> Iterator[DemoRecord]:
    """`count` records with timestamps over the past `days`, oldest first."""
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    now_ms = int(now.timestamp() * 1000)
    span_ms = int(days * 86_400_000)
    burst_ms = BURST_MINUTES * 60_000

    kinds = rng.choices(list(PATTERN_WEIGHTS), weights=list(PATTERN_WEIGHTS.values()), k=count)
    stamps = [
        now_ms - rng.randrange(0, burst_ms)
        if kind == "systematic"
        else now_ms - _business_hours_offset(rng, span_ms, now_ms)
        for kind in kinds
    ]
    order = sorted(range(count), key=stamps.__getitem__)
    recent_trace_ids: list[str] = []
    for index in order:
        kind = kinds[index]
        when = stamps[index]
        if kind == "poison":
            yield _poison(rng, when)
            continue
        if kind == "replay_failed":
            # A replayed task that failed again lands in the DLQ again, same trace id.
            kind = "timeout"
            trace_id = rng.choice(recent_trace_ids) if recent_trace_ids else _new_trace_id(rng)
        else:
            trace_id = _new_trace_id(rng)
        recent_trace_ids.append(trace_id)
        if len(recent_trace_ids) > 500:
            del recent_trace_ids[: len(recent_trace_ids) - 500]
        yield _PATTERNS[kind](rng, trace_id, when)


def _new_trace_id(rng: random.Random) -> str:
    return f"evt-{uuid.UUID(int=rng.getrandbits(128)).hex[:12]}"


def _business_hours_offset(rng: random.Random, span_ms: int, now_ms: int) -> int:
    # Downloads follow office hours, so their failures do too: keep most night-time draws out.
    while True:
        offset = rng.randrange(0, span_ms)
        hour = ((now_ms - offset) // 3_600_000) % 24
        if 7 <= hour <= 19 or rng.random() < 0.35:
            return offset


def _task(
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
            "retry_at": _iso(failed - timedelta(minutes=5)),
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
        "original_timestamp": _iso(failed - timedelta(minutes=rng.randrange(2, 90))),
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
        "failed_at": _iso(failed, naive=rng.random() < 0.05),
        "original_task": _task(
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


def _presigned_url(rng: random.Random, host: str, file_type: str) -> str:
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
    url = _presigned_url(rng, rng.choice(_S3_HOSTS + _AZURE_HOSTS), file_type)
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
    url = _presigned_url(rng, rng.choice(_S3_HOSTS), ext.lstrip("."))
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
    url = _presigned_url(rng, rng.choice(_S3_HOSTS), file_type)
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
    url = _presigned_url(rng, rng.choice(_S3_HOSTS), file_type)
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
    url = _presigned_url(rng, BURST_DOMAIN, file_type)
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


_PATTERNS: dict[str, Callable[[random.Random, str, int], DemoRecord]] = {
    "expired_url": _expired_url,
    "file_type": _file_type,
    "timeout": _timeout,
    "onelake": _onelake,
    "other_category": _other_category,
    "systematic": _systematic,
}


def _poison(rng: random.Random, when: int) -> DemoRecord:
    """Records a real DLQ topic holds sooner or later; none may be lost."""
    trace_id = f"evt-poison-{rng.randrange(10**8)}"
    kind = rng.choice(
        [
            "not_json",
            "not_utf8",
            "wrong_shape",
            "tombstone",
            "empty",
            "missing_fields",
            "connect",
            "spring",
            "huge",
            "future",
            "idn",
            "bad_url",
        ]
    )
    key: bytes | None = trace_id.encode()
    headers: list[Header] = []
    value: bytes | None
    if kind == "not_json":
        value = b"ERROR 2026-11-27 download failed: <html>502 Bad Gateway</html>"
    elif kind == "not_utf8":
        value = b"\xff\xfe\x00garbage\x80\x81"
    elif kind == "wrong_shape":
        value = json.dumps([{"trace_id": trace_id}, "retry_count", 4]).encode()
    elif kind == "tombstone":
        value = None
    elif kind == "empty":
        value = b""
    elif kind == "missing_fields":
        value = json.dumps({"trace_id": trace_id, "error_category": "permanent"}).encode()
    elif kind == "connect":
        key = None
        value = json.dumps({"claim": "C-12345", "amount": "12.5O"}).encode()
        headers = [
            ("__connect.errors.topic", b"xact.claims.raw"),
            ("__connect.errors.partition", b"2"),
            ("__connect.errors.offset", str(rng.randrange(10**6)).encode()),
            (
                "__connect.errors.exception.class.name",
                b"org.apache.kafka.connect.errors.DataException",
            ),
            (
                "__connect.errors.exception.message",
                b"Converting byte[] to Kafka Connect data failed due to serialization error",
            ),
        ]
    elif kind == "spring":
        key = None
        value = b"\x00\x00\x00\x00\x07binary-avro"
        headers = [
            ("kafka_dlt-original-topic", b"xact.events"),
            ("kafka_dlt-original-partition", (3).to_bytes(4, "big")),
            ("kafka_dlt-original-offset", rng.randrange(10**9).to_bytes(8, "big")),
            (
                "kafka_dlt-exception-fqcn",
                b"org.springframework.kafka.support.serializer.DeserializationException",
            ),
            ("kafka_dlt-exception-message", b"failed to deserialize; nested exception"),
        ]
    else:
        failed = datetime.fromtimestamp(when / 1000, UTC)
        url = _presigned_url(rng, rng.choice(_S3_HOSTS), "pdf")
        error = "HTTP 404: Not Found - URL no longer available"
        if kind == "future":
            failed = failed + timedelta(days=400)
        if kind == "idn":
            url = "https://bücher-schadensakten.example.de/akten/C-4711/gutachten.pdf"
        if kind == "bad_url":
            url = "htp:/broken url with spaces.pdf"
        body: dict[str, object] = {
            "trace_id": trace_id,
            "attachment_url": url,
            "retry_count": 0,
            "error_category": "permanent",
            "final_error": error,
            "failed_at": _iso(failed),
            "original_task": _task(rng, trace_id, url, "pdf", failed, 0, None, "permanent"),
        }
        if kind == "huge":
            body["final_error"] = error
            body["original_task"]["metadata"] = {  # type: ignore[index]
                "response_body": "x" * 300_000
            }
        value = json.dumps(body).encode()
    return DemoRecord(key, value, headers, when, f"poison:{kind}")


def _iso(moment: datetime, naive: bool = False) -> str:
    if naive:
        return moment.replace(tzinfo=None).isoformat(timespec="seconds")
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def records_in_topic(settings: Settings, gateway: KafkaGateway | None = None) -> int:
    """How many records the DLQ topic holds now (0 when it does not exist)."""
    kafka = gateway or KafkaGateway(settings)
    if not kafka.topic_exists(settings.dlq_topic):
        return 0
    marks = kafka.watermarks(settings.dlq_topic, kafka.partitions(settings.dlq_topic))
    return sum(wm.high - wm.low for wm in marks.values())


@dataclass(frozen=True)
class DemoSummary:
    topic: str
    records: int
    partitions: int
    created_topic: bool


def produce(
    settings: Settings,
    count: int,
    days: float,
    partitions: int = 6,
    seed: int | None = None,
    gateway: KafkaGateway | None = None,
) -> DemoSummary:
    kafka = gateway or KafkaGateway(settings)
    created = kafka.create_topic(settings.dlq_topic, partitions)
    kafka.create_topic(settings.pending_topic, partitions)
    sent = kafka.produce_all(
        settings.dlq_topic,
        ((r.key, r.value, r.headers, r.timestamp_ms) for r in generate(count, days, seed=seed)),
    )
    return DemoSummary(settings.dlq_topic, sent, len(kafka.partitions(settings.dlq_topic)), created)

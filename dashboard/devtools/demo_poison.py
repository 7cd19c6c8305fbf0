"""Poison records for the demo: what a real DLQ topic holds sooner or later (not JSON, not
UTF-8, tombstones, Kafka Connect and Spring dead letters, huge values, odd URLs); none may be
lost or break a page."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

from dashboard.devtools.demo_shapes import S3_HOSTS, DemoRecord, Header, iso, presigned_url, task


def poison(rng: random.Random, when: int) -> DemoRecord:
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
        url = presigned_url(rng, rng.choice(S3_HOSTS), "pdf")
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
            "failed_at": iso(failed),
            "original_task": task(rng, trace_id, url, "pdf", failed, 0, None, "permanent"),
        }
        if kind == "huge":
            body["final_error"] = error
            body["original_task"]["metadata"] = {  # type: ignore[index]
                "response_body": "x" * 300_000
            }
        value = json.dumps(body).encode()
    return DemoRecord(key, value, headers, when, f"poison:{kind}")

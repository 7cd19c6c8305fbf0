"""What the parser tests share: a pipeline record, a DuckDB connection, one-record parsing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import duckdb
import pytest

from ingest.parse import RawRecord, parse_raw_records
from tests.kafka_helpers import changed_json

PIPELINE_RECORD: dict[str, Any] = {
    "trace_id": "evt-2024-004",
    "attachment_url": "https://storage.example.com/claims/C-99999/missing.pdf?X-Amz-Signature=abc",
    "retry_count": 4,
    "error_category": "permanent",
    "final_error": "File not found (404) - URL returned 404 Not Found after 4 retry attempts",
    "failed_at": "2024-12-25T10:45:00Z",
    "original_task": {
        "trace_id": "evt-2024-004",
        "media_id": "8c1f",
        "attachment_url": "https://x",
        "blob_path": "documentsReceived/C-99999/pdf/missing.pdf",
        "file_type": "pdf",
        "assignment_id": "C-99999",
        "event_type": "xact",
        "event_subtype": "documentsReceived",
        "retry_count": 4,
        "metadata": {"last_error": "File not found (404)"},
    },
}


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    yield connection
    connection.close()


def parse_one(con: duckdb.DuckDBPyConnection, value: bytes | None, **kw: Any) -> dict[str, Any]:
    rows = parse_raw_records(con, [RawRecord(0, 0, value, **kw)])
    assert len(rows) == 1
    return rows[0]


def record(**changes: Any) -> bytes:
    return changed_json(json.loads(json.dumps(PIPELINE_RECORD)), changes)

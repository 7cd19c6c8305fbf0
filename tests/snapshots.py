"""Build real snapshot files without Kafka, through the ingest job's own write path."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from dashboard.adapters import record_states
from dashboard.adapters.db import Connection, Database
from dashboard.adapters.kafka import PartitionOffsets
from dashboard.devtools.demo_data import generate
from ingest import store
from ingest.parse import BatchParser, RawRecord, stage_raw

TOPIC = "xact.downloads.dlq"
VARIED_AT = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def write_snapshot(
    db_path: Path,
    records: Sequence[RawRecord],
    *,
    committed: dict[int, int | None] | None = None,
    low: dict[int, int] | None = None,
    topic: str = TOPIC,
    formats: dict[str, str] | None = None,
) -> None:
    """One ingest run that finds `records` new in `topic`, the review group at `committed`,
    and retention having deleted everything below `low` (per partition)."""
    db = Database(db_path)
    committed = committed or {}
    with db.write() as con:
        stored = store.stored_positions(con, topic)
        offsets: dict[int, PartitionOffsets] = {}
        for p in {r.partition for r in records} | set(stored) | set(committed) | set(low or {}):
            high = max([*(r.offset + 1 for r in records if r.partition == p), stored.get(p, 0)])
            offsets[p] = PartitionOffsets(p, (low or {}).get(p, 0), high)
        run_id = store.start_run(con, topic)
        store.record_watermarks(con, run_id, topic, offsets, committed)
        store.resolve_below_committed(con, topic, committed)
        gone = store.mark_gone(con, topic, offsets)
        if records:
            staged = stage_raw(records)
            batch = pa.Table.from_batches(staged.to_batches(max_chunksize=10_000))
            with BatchParser(formats=formats) as parser:
                parsed = parser.parse(batch)
            store.write_parsed(con, run_id, topic, parsed, committed=committed)
        store.finish_run(con, run_id, status="ok", missed=0, marked_gone=gone)


def pipeline_record(
    partition: int,
    offset: int,
    at: datetime,
    *,
    trace_id: str | None = None,
    url: str = "https://files.example.com/a/b.pdf?X-Amz-Signature=sekrit",
    category: str = "transient",
    retry_count: int = 4,
    error: str | None = "Connection timeout after 30s - retries exhausted (4 attempts)",
    headers: Sequence[tuple[str, bytes]] = (),
    topic: str = TOPIC,
    **task: Any,
) -> RawRecord:
    trace = trace_id or f"evt-{partition}-{offset}"
    body: dict[str, Any] = {
        "trace_id": trace,
        "attachment_url": url,
        "retry_count": retry_count,
        "error_category": category,
        "failed_at": at.isoformat(),
        "original_task": {
            "trace_id": trace,
            "attachment_url": url,
            "file_type": "pdf",
            "event_type": "xact",
            "event_subtype": "documentsReceived",
            "retry_count": retry_count,
            "metadata": {},
            **task,
        },
    }
    if error is not None:
        body["final_error"] = error
    return RawRecord(
        partition,
        offset,
        json.dumps(body).encode(),
        trace.encode(),
        list(headers),
        int(at.timestamp() * 1000),
        topic=topic,
    )


def demo_records(
    count: int,
    *,
    seed: int = 5,
    partitions: int = 3,
    topic: str = TOPIC,
    now: datetime | None = None,
) -> list[RawRecord]:
    """Demo records as Kafka would have stored them (round-robin partitions, dense offsets)."""
    next_offset = [0] * partitions
    out: list[RawRecord] = []
    for i, r in enumerate(generate(count, 14, now=now or datetime.now(UTC), seed=seed)):
        p = i % partitions
        out.append(
            RawRecord(p, next_offset[p], r.value, r.key, r.headers, r.timestamp_ms, topic=topic)
        )
        next_offset[p] += 1
    return out


def write_varied(db: Path) -> Path:
    """Four records an hour apart from VARIED_AT, each filter telling some apart: two trace
    ids, URLs with LIKE wildcards and a signature, a header, categories, one record resolved
    (1:0) and one unparseable (1:1)."""
    t0 = VARIED_AT
    records = [
        pipeline_record(
            0,
            0,
            t0,
            trace_id="evt-alpha",
            category="permanent",
            retry_count=0,
            error="HTTP 404: Not Found",
            url="https://a.example.com/50%_off.pdf",
        ),
        pipeline_record(
            0,
            1,
            t0 + timedelta(hours=1),
            trace_id="evt-beta",
            url="https://b.example.org/C-12345/x.pdf?sig=abc",
            headers=[("x-team", b"claims-blue"), ("x-env", b"prod")],
        ),
        pipeline_record(
            1,
            0,
            t0 + timedelta(hours=2),
            trace_id="evt-alpha",
            category="auth",
            error="OneLake upload failed: AuthenticationError",
        ),
        RawRecord(
            1,
            1,
            b"\xff not json",
            b"k",
            [],
            int((t0 + timedelta(hours=3)).timestamp() * 1000),
            topic=TOPIC,
        ),
    ]
    write_snapshot(db, records, committed={1: 1})  # partition 1 offset 0 resolved already
    return db


def add_replay(con: Connection, partition: int, offset: int, at: datetime) -> None:
    """A replay by the dashboard, as the actions record it (trace id evt-PARTITION-OFFSET)."""
    con.execute(
        "INSERT INTO replays VALUES (?, ?, ?, ?, ?, 'ana', 1, 'bulk-1', 'pending', 0, ?, NULL)",
        [TOPIC, partition, offset, at, f"evt-{partition}-{offset}", offset],
    )
    record_states.refresh(con, [(TOPIC, partition, offset)])


def add_resolution(con: Connection, partition: int, offset: int, at: datetime) -> None:
    """A resolution by the dashboard."""
    con.execute(
        "INSERT INTO resolutions VALUES (?, ?, ?, ?, 'dashboard', 'ana', 'fixed', 2)",
        [TOPIC, partition, offset, at],
    )
    record_states.refresh(con, [(TOPIC, partition, offset)])


def add_success(con: Connection, partition: int, offset: int, at: datetime) -> None:
    """The results topic reporting the replayed record's task a success."""
    con.execute(
        "INSERT INTO replay_results VALUES (?, 'success', ?, 'results', 0, ?)",
        [f"evt-{partition}-{offset}", at, offset],
    )
    record_states.after_results(con, [f"evt-{partition}-{offset}"])

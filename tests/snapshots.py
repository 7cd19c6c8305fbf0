"""Build real snapshot files without Kafka, through the ingest job's own write path."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa

from dashboard.db import Database
from dashboard.demo_data import generate
from dashboard.kafka_clients import PartitionOffsets
from ingest import store
from ingest.parse import RawRecord, stage_raw


def write_snapshot(
    db_path: Path,
    records: Sequence[RawRecord],
    committed: dict[int, int | None] | None = None,
) -> None:
    """Store `records` as one ingest run would, with watermarks taken from them."""
    db = Database(db_path)
    topics = {r.topic for r in records} or {"xact.downloads.dlq"}
    with db.write() as con:
        for topic in topics:
            mine = [r for r in records if r.topic == topic]
            run_id = store.start_run(con, topic)
            offsets: dict[int, PartitionOffsets] = {}
            for r in mine:
                low = (
                    min(r.offset, offsets[r.partition].low) if r.partition in offsets else r.offset
                )
                high = (
                    max(r.offset + 1, offsets[r.partition].high)
                    if r.partition in offsets
                    else r.offset + 1
                )
                offsets[r.partition] = PartitionOffsets(r.partition, low, high)
            store.record_watermarks(con, run_id, topic, offsets, committed or {})
            if mine:
                staged = stage_raw(mine)
                store.write_batch(
                    con,
                    run_id,
                    topic,
                    pa.Table.from_batches(staged.to_batches(max_chunksize=10_000)),
                )
            store.finish_run(con, run_id, status="ok", missed=0, marked_gone=0)


def demo_records(
    count: int,
    *,
    seed: int = 5,
    partitions: int = 3,
    topic: str = "xact.downloads.dlq",
    now_ms: int | None = None,
) -> list[RawRecord]:
    """Demo records as Kafka would have stored them (round-robin partitions, dense offsets)."""
    from datetime import UTC, datetime

    now = datetime.fromtimestamp(now_ms / 1000, UTC) if now_ms else None
    next_offset = [0] * partitions
    out: list[RawRecord] = []
    for i, r in enumerate(generate(count, 14, now=now, seed=seed)):
        p = i % partitions
        out.append(
            RawRecord(p, next_offset[p], r.value, r.key, r.headers, r.timestamp_ms, topic=topic)
        )
        next_offset[p] += 1
    return out

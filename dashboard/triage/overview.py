"""The Overview's questions, asked of the snapshot: how big is the DLQ, how fast is it
growing, how fresh is what we know."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from dashboard.adapters.db import Connection
from dashboard.triage.states import LATEST_WATERMARKS_SQL, records_with_state_sql


@dataclass(frozen=True)
class PartitionSize:
    partition: int
    low: int
    high: int
    committed: int | None
    in_topic: int  # high - low
    unresolved: int
    replayed: int
    resolved: int
    not_ingested: int  # in the topic, not (yet) in the snapshot


@dataclass(frozen=True)
class DlqSize:
    in_topic: int
    unresolved: int
    replayed: int
    resolved: int
    not_ingested: int
    gone: int  # deleted by retention, kept in the snapshot
    unparseable: int  # unresolved records whose value could not be read
    partitions: list[PartitionSize]
    watermarks_at: datetime | None


@dataclass(frozen=True)
class Freshness:
    last_ingest_at: datetime | None
    last_status: str | None
    age: timedelta | None
    stale: bool


@dataclass(frozen=True)
class Bucket:
    start: datetime
    count: int


@dataclass(frozen=True)
class Point:
    at: datetime
    value: int


def freshness(con: Connection, topic: str, now: datetime, stale_after: timedelta) -> Freshness:
    row = con.execute(
        "SELECT finished_at, status FROM ingest_runs WHERE topic = ? AND finished_at IS NOT NULL "
        "ORDER BY finished_at DESC LIMIT 1",
        [topic],
    ).fetchone()
    if row is None:
        return Freshness(None, None, None, True)
    age = now - row[0]
    return Freshness(row[0], row[1], age, age > stale_after)


def dlq_size(con: Connection, topic: str) -> DlqSize:
    rows = con.execute(
        f"""
        WITH w AS ({LATEST_WATERMARKS_SQL}),
        s AS (
            SELECT "partition",
                   count(*) FILTER (WHERE state = 'unresolved') AS unresolved,
                   count(*) FILTER (WHERE state = 'replayed') AS replayed,
                   count(*) FILTER (WHERE state = 'resolved') AS resolved,
                   count(*) AS held
            FROM {records_with_state_sql()} r
            WHERE topic = $topic AND gone_from_kafka_at IS NULL
            GROUP BY "partition"
        )
        SELECT w."partition", w.low_offset, w.high_offset, w.committed_offset,
               coalesce(s.unresolved, 0), coalesce(s.replayed, 0), coalesce(s.resolved, 0),
               coalesce(s.held, 0), w.taken_at
        FROM w LEFT JOIN s USING ("partition")
        WHERE w.topic = $topic
        ORDER BY w."partition"
        """,
        {"topic": topic},
    ).fetchall()
    partitions = [
        PartitionSize(
            partition=p,
            low=low,
            high=high,
            committed=committed,
            in_topic=high - low,
            unresolved=unresolved,
            replayed=replayed,
            resolved=resolved,
            not_ingested=max(0, (high - low) - held),
        )
        for p, low, high, committed, unresolved, replayed, resolved, held, _ in rows
    ]
    extra = con.execute(
        f"""
        SELECT count(*) FILTER (WHERE gone_from_kafka_at IS NOT NULL),
               count(*) FILTER (WHERE gone_from_kafka_at IS NULL AND state = 'unresolved'
                                AND parse_error IS NOT NULL)
        FROM {records_with_state_sql()} r WHERE topic = $topic
        """,
        {"topic": topic},
    ).fetchone()
    gone, unparseable = (int(extra[0]), int(extra[1])) if extra else (0, 0)
    return DlqSize(
        in_topic=sum(p.in_topic for p in partitions),
        unresolved=sum(p.unresolved for p in partitions),
        replayed=sum(p.replayed for p in partitions),
        resolved=sum(p.resolved for p in partitions),
        not_ingested=sum(p.not_ingested for p in partitions),
        gone=gone,
        unparseable=unparseable,
        partitions=partitions,
        watermarks_at=max((r[8] for r in rows), default=None),
    )


def floor_to(moment: datetime, minutes: int) -> datetime:
    """`moment` rounded down to a multiple of `minutes` since the epoch (UTC)."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    step = timedelta(minutes=minutes)
    return epoch + ((moment - epoch) // step) * step


def arrivals(
    con: Connection, topic: str, start: datetime, end: datetime, bucket_minutes: int
) -> list[Bucket]:
    """Records entering the DLQ (by their Kafka timestamp) per bucket, empty buckets
    included, from `start` (rounded down to a bucket) up to `end`."""
    first = floor_to(start, bucket_minutes)
    rows = con.execute(
        """
        WITH buckets AS (
            SELECT unnest(generate_series($first, $end, to_minutes($minutes))) AS bucket
        ),
        counts AS (
            SELECT time_bucket(to_minutes($minutes), kafka_timestamp, $first) AS bucket,
                   count(*) AS n
            FROM records
            WHERE topic = $topic AND kafka_timestamp >= $first AND kafka_timestamp < $end
            GROUP BY ALL
        )
        SELECT bucket, coalesce(n, 0) FROM buckets LEFT JOIN counts USING (bucket)
        WHERE bucket < $end
        ORDER BY bucket
        """,
        {"topic": topic, "first": first, "end": end, "minutes": bucket_minutes},
    ).fetchall()
    return [Bucket(at, int(n)) for at, n in rows]


def count_between(con: Connection, topic: str, start: datetime, end: datetime) -> int:
    row = con.execute(
        "SELECT count(*) FROM records WHERE topic = ? AND kafka_timestamp >= ? "
        "AND kafka_timestamp < ?",
        [topic, start, end],
    ).fetchone()
    return int(row[0]) if row else 0


def unresolved_history(
    con: Connection, topic: str, start: datetime, end: datetime, bucket_minutes: int
) -> list[Point]:
    """Unresolved records still in Kafka at the end of each bucket: records that arrived,
    minus those resolved since and those retention deleted since. Records resolved before
    the dashboard first saw them never count."""
    first = floor_to(start, bucket_minutes)
    rows = con.execute(
        f"""
        WITH r AS (
            SELECT kafka_timestamp, gone_from_kafka_at, state, resolution_source, resolved_at
            FROM {records_with_state_sql()} x
            WHERE topic = $topic AND coalesce(resolution_source, '') <> 'before-dashboard'
        ),
        events AS (
            SELECT kafka_timestamp AS event_at, 1 AS delta FROM r WHERE kafka_timestamp IS NOT NULL
            UNION ALL
            SELECT resolved_at, -1 FROM r WHERE state = 'resolved'
            UNION ALL
            SELECT gone_from_kafka_at, -1 FROM r
            WHERE gone_from_kafka_at IS NOT NULL AND state <> 'resolved'
        ),
        base AS (SELECT coalesce(sum(delta), 0) AS n FROM events WHERE event_at < $first),
        moves AS (
            SELECT time_bucket(to_minutes($minutes), event_at, $first) AS bucket, sum(delta) AS n
            FROM events WHERE event_at >= $first AND event_at < $end GROUP BY ALL
        ),
        buckets AS (
            SELECT unnest(generate_series($first, $end, to_minutes($minutes))) AS bucket
        )
        SELECT bucket + to_minutes($minutes) AS bucket_end,
               (SELECT n FROM base)
               + sum(coalesce(moves.n, 0)) OVER (ORDER BY bucket) AS unresolved
        FROM buckets LEFT JOIN moves USING (bucket)
        WHERE bucket < $end
        ORDER BY bucket
        """,
        {"topic": topic, "first": first, "end": end, "minutes": bucket_minutes},
    ).fetchall()
    return [Point(min(at, end), int(n)) for at, n in rows]

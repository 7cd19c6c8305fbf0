"""The Overview's questions, asked of the snapshot: how big is the DLQ, how fast is it
growing, how fresh is what we know."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from dashboard.adapters.db import Connection
from dashboard.adapters.record_states import replay_outcomes_sql
from dashboard.triage.states import (
    BACKLOG_STATES,
    IN_KAFKA,
    LATEST_WATERMARKS_SQL,
    OPEN,
    READY_TO_RESOLVE,
    REPLAY_FAILED,
    REPLAYED_WAITING,
    RESOLVED,
    STATES,
    StateCounts,
    choices_condition,
)


@dataclass(frozen=True)
class PartitionSize:
    partition: int
    low: int
    high: int
    committed: int | None
    in_topic: int  # high - low
    states: StateCounts  # the records of the partition still in Kafka, by state
    not_ingested: int  # in the topic, not (yet) in the snapshot


@dataclass(frozen=True)
class DlqSize:
    in_topic: int
    states: StateCounts  # records still in Kafka, by state (see dashboard.triage.states)
    not_ingested: int
    gone: int  # deleted by retention, kept in the snapshot; in no state's count
    unparseable: int  # backlog records whose value could not be read
    partitions: list[PartitionSize]
    watermarks_at: datetime | None

    @property
    def backlog(self) -> int:
        return self.states.backlog


@dataclass(frozen=True)
class Freshness:
    last_ingest_at: datetime | None  # when the last run that finished ok did
    last_status: str | None  # the latest run's status, whatever it was
    age: timedelta | None  # since last_ingest_at
    stale: bool
    # The latest run failed: since when the runs fail, and why (Kafka not answering).
    failing_since: datetime | None = None
    failure: str | None = None


@dataclass(frozen=True)
class Bucket:
    start: datetime
    count: int


def last_good_ingest(con: Connection, topic: str) -> datetime | None:
    """When the last ingest run that finished ok did: what the snapshot is as of (a failed
    attempt, Kafka not answering, refreshed nothing)."""
    row = con.execute(
        "SELECT max(finished_at) FROM ingest_runs WHERE topic = ? AND status = 'ok'", [topic]
    ).fetchone()
    return row[0] if row is not None else None


def freshness(con: Connection, topic: str, now: datetime, stale_after: timedelta) -> Freshness:
    """How old the snapshot is: since the last run that finished ok (a failed attempt, Kafka
    not answering, refreshes nothing), and whether the latest run failed, since when, why."""
    last_ok = last_good_ingest(con, topic)
    latest = con.execute(
        "SELECT started_at, status, error FROM ingest_runs WHERE topic = ? "
        "AND finished_at IS NOT NULL ORDER BY finished_at DESC LIMIT 1",
        [topic],
    ).fetchone()
    status = latest[1] if latest is not None else None
    failing = latest is not None and status == "failed"
    since = _failing_since(con, topic, last_ok) if failing else None
    failure = latest[2] if failing and latest is not None else None
    if last_ok is None:
        return Freshness(None, status, None, True, since, failure)
    age = now - last_ok
    return Freshness(last_ok, status, age, age > stale_after, since, failure)


def _failing_since(con: Connection, topic: str, last_ok: datetime | None) -> datetime | None:
    """When the failures since the last good run began: the first of them started then (a run
    that failed as Kafka went away, then the outage's attempts, each with a row of its own)."""
    row = con.execute(
        "SELECT min(started_at) FROM ingest_runs WHERE topic = ? AND status = 'failed' "
        "AND finished_at IS NOT NULL AND (CAST(? AS TIMESTAMPTZ) IS NULL OR finished_at > ?)",
        [topic, last_ok, last_ok],
    ).fetchone()
    return row[0] if row is not None else None


def dlq_size(con: Connection, topic: str) -> DlqSize:
    # One pass counts per (partition, state, still in Kafka, unparseable), spread here: a
    # group on a few small keys is cheaper over millions of records than a filtered count
    # per figure, and a second pass for the gone and unparseable counts would read the
    # records again.
    held: dict[int, dict[str, int]] = {}
    gone = unparseable = 0
    for p, state, in_kafka, unreadable, n in con.execute(
        f"""
        SELECT "partition", state, {IN_KAFKA} AS in_kafka, parse_error IS NOT NULL, count(*)
        FROM records WHERE topic = $topic GROUP BY ALL
        """,
        {"topic": topic},
    ).fetchall():
        if not in_kafka:
            gone += int(n)
            continue
        counts = held.setdefault(p, {})
        counts[state] = counts.get(state, 0) + int(n)
        if unreadable and state is not None and state != RESOLVED:  # in the backlog
            unparseable += int(n)
    rows = con.execute(
        f"""
        SELECT "partition", low_offset, high_offset, committed_offset, taken_at
        FROM ({LATEST_WATERMARKS_SQL}) WHERE topic = $topic ORDER BY "partition"
        """,
        {"topic": topic},
    ).fetchall()
    partitions = []
    for p, low, high, committed, _ in rows:
        counts = held.get(p, {})
        partitions.append(
            PartitionSize(
                partition=p,
                low=low,
                high=high,
                committed=committed,
                in_topic=high - low,
                states=StateCounts(*(counts.get(word, 0) for word in STATES)),
                not_ingested=max(0, (high - low) - sum(counts.values())),
            )
        )
    return DlqSize(
        in_topic=sum(p.in_topic for p in partitions),
        states=sum((p.states for p in partitions), StateCounts()),
        not_ingested=sum(p.not_ingested for p in partitions),
        gone=gone,
        unparseable=unparseable,
        partitions=partitions,
        watermarks_at=max((r[4] for r in rows), default=None),
    )


_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def floor_to(moment: datetime, minutes: int) -> datetime:
    """`moment` rounded down to a multiple of `minutes` since the epoch (UTC)."""
    step = timedelta(minutes=minutes)
    return _EPOCH + ((moment - _EPOCH) // step) * step


def bucket_sql(column: str) -> str:
    """The bucket `column` falls in, as its index from `$first_us` (the first bucket's start,
    microseconds since the epoch) in steps of `$bucket_us`. Integer arithmetic on the epoch:
    time_bucket on a TIMESTAMPTZ goes through the calendar, several times slower over the
    millions of rows of a large snapshot, for the same buckets when they are whole minutes."""
    return f"(epoch_us({column}) - $first_us) // $bucket_us"


def bucket_params(first: datetime, bucket_minutes: int) -> dict[str, int]:
    """The values `bucket_sql` reads, for buckets of `bucket_minutes` from `first`."""
    return {
        "first_us": (first - _EPOCH) // timedelta(microseconds=1),
        "bucket_us": bucket_minutes * 60_000_000,
    }


def arrivals(
    con: Connection, topic: str, start: datetime, end: datetime, bucket_minutes: int
) -> list[Bucket]:
    """Records entering the DLQ (by their Kafka timestamp) per bucket, empty buckets
    included, from `start` (rounded down to a bucket) up to `end`."""
    first = floor_to(start, bucket_minutes)
    # Only the buckets holding records come back; the empty ones are filled in here, so a
    # long span of minutes costs no join in SQL.
    rows = con.execute(
        f"""
        SELECT {bucket_sql("kafka_timestamp")} AS bucket, count(*)
        FROM records
        WHERE topic = $topic AND kafka_timestamp >= $first AND kafka_timestamp < $end
        GROUP BY ALL
        """,
        {"topic": topic, "first": first, "end": end, **bucket_params(first, bucket_minutes)},
    ).fetchall()
    counts = {int(i): int(n) for i, n in rows}
    starts = bucket_starts(first, end, bucket_minutes)
    return [Bucket(at, counts.get(i, 0)) for i, at in enumerate(starts)]


def bucket_starts(first: datetime, end: datetime, bucket_minutes: int) -> list[datetime]:
    """The starts of the buckets from `first` (already on a bucket's edge) before `end`."""
    step = timedelta(minutes=bucket_minutes)
    count = max(0, -((first - end) // step))
    return [first + i * step for i in range(count)]


def count_between(con: Connection, topic: str, start: datetime, end: datetime) -> int:
    row = con.execute(
        "SELECT count(*) FROM records WHERE topic = ? AND kafka_timestamp >= ? "
        "AND kafka_timestamp < ?",
        [topic, start, end],
    ).fetchone()
    return int(row[0]) if row else 0


@dataclass(frozen=True)
class BacklogPoint:
    at: datetime  # the end of its bucket
    states: StateCounts  # the backlog's states then (resolved records are outside it: 0)

    @property
    def backlog(self) -> int:
        return self.states.backlog


@dataclass(frozen=True)
class FlowBucket:
    start: datetime
    entering: int  # records that arrived in the DLQ
    replayed: int  # replays made (a record replayed twice counts twice)
    resolved: int  # records resolved


# Each record's time in each backlog state, as [since, until) spans (until NULL: still there):
# open from its arrival to its first replay, replayed and waiting from there to its outcome,
# then in its outcome's state; every span ends when the record leaves Kafka's backlog
# (resolved, or deleted by retention). Records resolved before the dashboard first saw them
# have no trustworthy times and are left out. Most records are open and in Kafka: their kept
# state says their one span runs from their arrival on, so they are counted as arrivals
# (`_OPEN_ARRIVALS_SQL`) and only the others' spans are built, from their resolution and
# replays: the records are narrowed on their kept state before the (small) resolutions and
# replay outcomes are joined to them.
_STATE_SPANS_SQL: Final = f"""
WITH r AS (
    SELECT x.kafka_timestamp AS arrived, rp.first_replayed_at, rp.outcome_at,
           x.replay_outcome, least(res.resolved_at, x.gone_from_kafka_at) AS left_at
    FROM (
        SELECT topic, "partition", "offset", kafka_timestamp, replay_outcome,
               gone_from_kafka_at
        FROM records
        WHERE topic = $topic AND kafka_timestamp IS NOT NULL
          AND NOT coalesce(state = '{OPEN}' AND {IN_KAFKA}, false)
    ) x
    LEFT JOIN resolutions res ON res.topic = x.topic
        AND res."partition" = x."partition" AND res."offset" = x."offset"
    LEFT JOIN ({replay_outcomes_sql()}) rp ON rp.topic = x.topic
        AND rp."partition" = x."partition" AND rp."offset" = x."offset"
    WHERE coalesce(res.source, '') <> 'before-dashboard'
),
spans AS (
    SELECT '{OPEN}' AS layer, arrived AS since, least(first_replayed_at, left_at) AS until
    FROM r
    UNION ALL
    SELECT '{REPLAYED_WAITING}', first_replayed_at, least(outcome_at, left_at)
    FROM r WHERE first_replayed_at IS NOT NULL
    UNION ALL
    SELECT CASE replay_outcome WHEN 'failed-again' THEN '{REPLAY_FAILED}'
                ELSE '{READY_TO_RESOLVE}' END, outcome_at, left_at
    FROM r WHERE outcome_at IS NOT NULL
)
SELECT layer, since, until FROM spans
WHERE since IS NOT NULL AND (until IS NULL OR until > since)
"""

# The open records still in Kafka, counted per bucket (NULL: before `$first`) instead of
# one event per record; in the same pass, every record arriving in each bucket.
_OPEN_ARRIVALS_SQL: Final = f"""
SELECT '{OPEN}' AS layer, CASE WHEN kafka_timestamp >= $first
    THEN {bucket_sql("kafka_timestamp")} END AS bucket,
    count(*) FILTER (WHERE state = '{OPEN}' AND {IN_KAFKA}) AS n, count(*) AS arrived
FROM records
WHERE topic = $topic AND kafka_timestamp < $end
GROUP BY ALL
"""


def backlog_history(
    con: Connection, topic: str, start: datetime, end: datetime, bucket_minutes: int
) -> list[BacklogPoint]:
    """The backlog at the end of each bucket, by state, rebuilt from each record's arrival,
    replays, replay outcome, resolution and deletion by retention."""
    return backlog_and_arrivals(con, topic, start, end, bucket_minutes)[0]


def backlog_and_arrivals(
    con: Connection, topic: str, start: datetime, end: datetime, bucket_minutes: int
) -> tuple[list[BacklogPoint], list[Bucket]]:
    """`backlog_history` and `arrivals` over one span, from one pass over the records (the
    alerts need both, over every record when one has held for long)."""
    first = floor_to(start, bucket_minutes)
    # SQL sums the moves per state and bucket (NULL: every move before `first`); the
    # running totals over the buckets, empty ones included, are summed here.
    rows = con.execute(
        f"""
        WITH spans AS ({_STATE_SPANS_SQL}),
        events AS (
            SELECT layer, since AS event_at, 1 AS delta FROM spans
            UNION ALL
            SELECT layer, until, -1 FROM spans WHERE until IS NOT NULL
        )
        SELECT layer, CASE WHEN event_at >= $first
                   THEN {bucket_sql("event_at")} END AS bucket,
               sum(delta) AS n, 0 AS arrived
        FROM events WHERE event_at < $end GROUP BY ALL
        UNION ALL
        {_OPEN_ARRIVALS_SQL}
        """,
        {"topic": topic, "first": first, "end": end, **bucket_params(first, bucket_minutes)},
    ).fetchall()
    layers = {word: i for i, word in enumerate(BACKLOG_STATES)}
    running = [0] * len(BACKLOG_STATES)
    moves: dict[int, list[int]] = {}
    arrived: dict[int, int] = {}
    for layer, bucket, n, entered in rows:
        if bucket is None:
            running[layers[layer]] += int(n)
        else:
            moves.setdefault(int(bucket), [0] * len(BACKLOG_STATES))[layers[layer]] += int(n)
            arrived[int(bucket)] = arrived.get(int(bucket), 0) + int(entered)
    step = timedelta(minutes=bucket_minutes)
    points, buckets = [], []
    for i, at in enumerate(bucket_starts(first, end, bucket_minutes)):
        moved = moves.get(i)
        if moved is not None:
            running = [a + b for a, b in zip(running, moved, strict=True)]
        # The backlog's states in STATES' order; resolved records are outside it (0).
        points.append(BacklogPoint(min(at + step, end), StateCounts(*running)))
        buckets.append(Bucket(at, arrived.get(i, 0)))
    return points, buckets


def flow(
    con: Connection, topic: str, start: datetime, end: datetime, bucket_minutes: int
) -> list[FlowBucket]:
    """Records entering the DLQ, replays and resolutions per bucket (empty buckets included):
    the pipeline's in/out panel, so a replay that is not followed by resolves shows."""
    first = floor_to(start, bucket_minutes)
    rows = con.execute(
        f"""
        WITH events AS (
            SELECT kafka_timestamp AS event_at, 'entering' AS kind FROM records
            WHERE topic = $topic
            UNION ALL
            SELECT replayed_at, 'replayed' FROM replays WHERE topic = $topic
            UNION ALL
            SELECT resolved_at, 'resolved' FROM resolutions
            WHERE topic = $topic AND source <> 'before-dashboard'
        )
        SELECT {bucket_sql("event_at")} AS bucket,
               count(*) FILTER (WHERE kind = 'entering'),
               count(*) FILTER (WHERE kind = 'replayed'),
               count(*) FILTER (WHERE kind = 'resolved')
        FROM events WHERE event_at >= $first AND event_at < $end GROUP BY ALL
        """,
        {"topic": topic, "first": first, "end": end, **bucket_params(first, bucket_minutes)},
    ).fetchall()
    counts = {int(i): (int(a), int(b), int(c)) for i, a, b, c in rows}
    starts = bucket_starts(first, end, bucket_minutes)
    return [FlowBucket(at, *counts.get(i, (0, 0, 0))) for i, at in enumerate(starts)]


def oldest_open(con: Connection, topic: str) -> datetime | None:
    """When the oldest open record (in Kafka, nothing done yet) arrived; None when none is."""
    row = con.execute(
        f"""SELECT min(kafka_timestamp) FROM records r
            WHERE topic = ? AND {choices_condition((OPEN,))}""",
        [topic],
    ).fetchone()
    return None if row is None else row[0]

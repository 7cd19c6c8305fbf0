"""The queries rewritten for speed at ten million records give what the earlier ones gave,
on generated histories: arrivals, replays (their trace id back, or a success), resolutions
by the dashboard and by the review group, records gone from Kafka, over buckets that start
off an edge. The earlier backlog history is kept here, verbatim, as the reference."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboard.adapters.db import Connection, Database
from dashboard.triage import overview
from dashboard.triage.overview import BacklogPoint, floor_to
from dashboard.triage.states import (
    BACKLOG_STATES,
    IN_KAFKA,
    OPEN,
    READY_TO_RESOLVE,
    REPLAY_FAILED,
    REPLAYED_WAITING,
    StateCounts,
    records_with_details_sql,
)
from tests.snapshots import TOPIC
from tests.test_kept_state import START, World, steps

_OLD_SPANS_SQL: Final = f"""
WITH r AS (
    SELECT kafka_timestamp AS arrived, first_replayed_at, outcome_at, replay_outcome,
           least(resolved_at, gone_from_kafka_at) AS left_at
    FROM {records_with_details_sql()} x
    WHERE topic = $topic AND kafka_timestamp IS NOT NULL
      AND NOT coalesce(state = '{OPEN}' AND {IN_KAFKA}, false)
      AND coalesce(resolution_source, '') <> 'before-dashboard'
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

# The open records still in Kafka as +n events: one before `$first` (at their earliest
# arrival) and one per bucket (at its start), instead of one per record.
_OLD_OPEN_ARRIVALS_SQL: Final = f"""
SELECT '{OPEN}' AS layer, coalesce(bucket, min(kafka_timestamp)) AS event_at, count(*) AS delta
FROM (
    SELECT kafka_timestamp, CASE WHEN kafka_timestamp >= $first
        THEN time_bucket(to_minutes($minutes), kafka_timestamp, $first) END AS bucket
    FROM records
    WHERE topic = $topic AND kafka_timestamp < $end AND state = '{OPEN}' AND {IN_KAFKA}
)
GROUP BY bucket
"""


def derived_backlog_history(
    con: Connection, topic: str, start: datetime, end: datetime, bucket_minutes: int
) -> list[BacklogPoint]:
    """The backlog history as it was computed before it was narrowed on the kept state: one
    event per span of every record joined to its resolution and replays."""
    first = floor_to(start, bucket_minutes)
    pivot = ", ".join(f"coalesce(sum(n) FILTER (WHERE layer = '{w}'), 0)" for w in BACKLOG_STATES)
    rows = con.execute(
        f"""
        WITH spans AS ({_OLD_SPANS_SQL}),
        events AS (
            SELECT layer, since AS event_at, 1 AS delta FROM spans
            UNION ALL
            SELECT layer, until, -1 FROM spans WHERE until IS NOT NULL
            UNION ALL
            {_OLD_OPEN_ARRIVALS_SQL}
        ),
        layers AS (SELECT unnest($layers) AS layer),
        base AS (
            SELECT layer, sum(delta) AS n FROM events WHERE event_at < $first GROUP BY layer
        ),
        moves AS (
            SELECT layer, time_bucket(to_minutes($minutes), event_at, $first) AS bucket,
                   sum(delta) AS n
            FROM events WHERE event_at >= $first AND event_at < $end GROUP BY ALL
        ),
        buckets AS (
            SELECT unnest(generate_series($first, $end, to_minutes($minutes))) AS bucket
        ),
        grid AS (SELECT bucket, layer FROM buckets, layers WHERE bucket < $end),
        running AS (
            SELECT g.bucket + to_minutes($minutes) AS bucket_end, g.layer,
                   coalesce(b.n, 0)
                   + sum(coalesce(m.n, 0)) OVER (PARTITION BY g.layer ORDER BY g.bucket) AS n
            FROM grid g
            LEFT JOIN moves m USING (bucket, layer)
            LEFT JOIN base b ON b.layer = g.layer
        )
        -- One row per bucket, a column per state in STATES' order (resolved: 0): a day of
        -- minutes is thousands of buckets, each a point to build.
        SELECT bucket_end, {pivot}, 0 FROM running GROUP BY bucket_end ORDER BY bucket_end
        """,
        {
            "topic": topic,
            "first": first,
            "end": end,
            "minutes": bucket_minutes,
            "layers": list(BACKLOG_STATES),
        },
    ).fetchall()
    return [BacklogPoint(min(at, end), StateCounts(*(int(n) for n in c))) for at, *c in rows]


def _retention(con: Connection, partition: int, below: int, at: datetime) -> None:
    """Retention deleted the partition's records below `below` from Kafka at `at`."""
    con.execute(
        'UPDATE records SET gone_from_kafka_at = ? WHERE "partition" = ? AND "offset" < ?',
        [at, partition, below],
    )


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps, st.integers(0, 3), st.integers(0, 3), st.sampled_from([1, 10]))
def test_the_backlog_history_and_arrivals_equal_the_earlier_queries(
    tmp_path_factory: pytest.TempPathFactory,
    sequence: list[tuple[object, ...]],
    gone_below: int,
    start_back: int,
    minutes: int,
) -> None:
    db = Database(tmp_path_factory.mktemp("history") / "snapshot.duckdb")
    world = World(db)
    for step in sequence:
        world.play(step)
    with db.write() as con:
        _retention(con, 0, gone_below, world.now - timedelta(seconds=30))
    start = START - timedelta(minutes=start_back, seconds=17)
    end = world.now + timedelta(minutes=2, seconds=5)
    with db.read() as con:
        assert overview.backlog_history(con, TOPIC, start, end, minutes) == derived_backlog_history(
            con, TOPIC, start, end, minutes
        )
        assert overview.arrivals(con, TOPIC, start, end, minutes) == _derived_arrivals(
            con, TOPIC, start, end, minutes
        )
        # Both from one pass, as the alerts read them.
        assert overview.backlog_and_arrivals(con, TOPIC, start, end, minutes) == (
            derived_backlog_history(con, TOPIC, start, end, minutes),
            _derived_arrivals(con, TOPIC, start, end, minutes),
        )
        assert overview.flow(con, TOPIC, start, end, minutes) == _derived_flow(
            con, TOPIC, start, end, minutes
        )
        # A later window starts from the moves before it.
        later = START + timedelta(seconds=61)
        assert overview.backlog_history(con, TOPIC, later, end, minutes) == derived_backlog_history(
            con, TOPIC, later, end, minutes
        )


def _derived_arrivals(
    con: Connection, topic: str, start: datetime, end: datetime, minutes: int
) -> list[overview.Bucket]:
    first = floor_to(start, minutes)
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
        WHERE bucket < $end ORDER BY bucket
        """,
        {"topic": topic, "first": first, "end": end, "minutes": minutes},
    ).fetchall()
    return [overview.Bucket(at, int(n)) for at, n in rows]


def _derived_flow(
    con: Connection, topic: str, start: datetime, end: datetime, minutes: int
) -> list[overview.FlowBucket]:
    """The in/out panel as an earlier version built it (calendar buckets, filled in SQL)."""
    first = floor_to(start, minutes)
    rows = con.execute(
        """
        WITH events AS (
            SELECT kafka_timestamp AS event_at, 'entering' AS kind FROM records
            WHERE topic = $topic
            UNION ALL
            SELECT replayed_at, 'replayed' FROM replays WHERE topic = $topic
            UNION ALL
            SELECT resolved_at, 'resolved' FROM resolutions
            WHERE topic = $topic AND source <> 'before-dashboard'
        ),
        counts AS (
            SELECT time_bucket(to_minutes($minutes), event_at, $first) AS bucket,
                   count(*) FILTER (WHERE kind = 'entering') AS entering,
                   count(*) FILTER (WHERE kind = 'replayed') AS replayed,
                   count(*) FILTER (WHERE kind = 'resolved') AS resolved
            FROM events WHERE event_at >= $first AND event_at < $end GROUP BY ALL
        ),
        buckets AS (
            SELECT unnest(generate_series($first, $end, to_minutes($minutes))) AS bucket
        )
        SELECT bucket, coalesce(entering, 0), coalesce(replayed, 0), coalesce(resolved, 0)
        FROM buckets LEFT JOIN counts USING (bucket)
        WHERE bucket < $end
        ORDER BY bucket
        """,
        {"topic": topic, "first": first, "end": end, "minutes": minutes},
    ).fetchall()
    return [overview.FlowBucket(at, int(a), int(b), int(c)) for at, a, b, c in rows]

"""The backlog over time by state, the records entering vs replayed vs resolved, and the
oldest open record: rebuilt from the snapshot's times, bucket by bucket."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from dashboard.adapters.db import Database
from dashboard.triage import overview
from tests.snapshots import (
    TOPIC,
    add_replay,
    add_resolution,
    add_success,
    pipeline_record,
    write_snapshot,
)

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def minutes(m: float) -> datetime:
    return T0 + timedelta(minutes=m)


def snapshot(tmp_path: Path) -> Path:
    """A (0:0) and B (0:1) arrive at T0 and T0+1; C (0:2) at T0. A is replayed at +3.5, its
    success reported at +5.5, resolved at +7.5. C is replayed at +2.5 and its trace id comes
    back at +4.5 as D (0:3)."""
    db = tmp_path / "h.duckdb"
    records = [pipeline_record(0, o, minutes(m)) for o, m in ((0, 0), (1, 1), (2, 0))]
    records.append(pipeline_record(0, 3, minutes(4.5), trace_id="evt-0-2"))
    write_snapshot(db, records)
    with Database(db).write() as con:
        add_replay(con, 0, 0, minutes(3.5))
        add_success(con, 0, 0, minutes(5.5))
        add_resolution(con, 0, 0, minutes(7.5))
        add_replay(con, 0, 2, minutes(2.5))
    return db


def test_a_replay_then_a_resolve_move_records_between_layers_at_their_buckets(
    tmp_path: Path,
) -> None:
    db = snapshot(tmp_path)
    with Database(db).read() as con:
        points = overview.backlog_history(con, TOPIC, T0, minutes(9), 1)
    layers = [
        (
            p.at - T0,
            p.states.open,
            p.states.replayed_waiting,
            p.states.ready_to_resolve,
            p.states.replay_failed,
        )
        for p in points
    ]
    m = timedelta(minutes=1)
    assert layers == [
        (1 * m, 2, 0, 0, 0),  # A and C arrived at T0
        (2 * m, 3, 0, 0, 0),  # B
        (3 * m, 2, 1, 0, 0),  # C replayed at +2.5
        (4 * m, 1, 2, 0, 0),  # A replayed at +3.5
        (5 * m, 2, 1, 0, 1),  # C's trace id back at +4.5: C failed, D open
        (6 * m, 2, 0, 1, 1),  # A's success at +5.5
        (7 * m, 2, 0, 1, 1),
        (8 * m, 2, 0, 0, 1),  # A resolved at +7.5: out of the backlog
        (9 * m, 2, 0, 0, 1),
    ]
    assert all(p.states.resolved == 0 for p in points)
    # A window that starts later carries what came before it.
    with Database(db).read() as con:
        later = overview.backlog_history(con, TOPIC, minutes(5), minutes(7), 1)
    assert [(p.states.open, p.states.ready_to_resolve) for p in later] == [(2, 1), (2, 1)]


def test_entering_replayed_and_resolved_per_interval(tmp_path: Path) -> None:
    db = snapshot(tmp_path)
    with Database(db).read() as con:
        flow = overview.flow(con, TOPIC, T0, minutes(10), 5)
    assert [(b.start - T0, b.entering, b.replayed, b.resolved) for b in flow] == [
        (timedelta(0), 4, 2, 0),
        (timedelta(minutes=5), 0, 0, 1),
    ]


def test_the_oldest_open_record_skips_replayed_resolved_and_gone_ones(tmp_path: Path) -> None:
    db = snapshot(tmp_path)
    with Database(db).read() as con:
        # A and C (T0) are replayed: B (T0+1) is the oldest with nothing done.
        assert overview.oldest_open(con, TOPIC) == minutes(1)
    write_snapshot(db, [], low={0: 2})  # retention deletes A and B
    with Database(db).read() as con:
        assert overview.oldest_open(con, TOPIC) == minutes(4.5)  # D
    empty = tmp_path / "e.duckdb"
    write_snapshot(empty, [])
    with Database(empty).read() as con:
        assert overview.oldest_open(con, TOPIC) is None

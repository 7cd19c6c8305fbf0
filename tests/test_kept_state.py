"""The kept state (`records.state`, `records.replay_outcome`) always equals the one derived from
the resolutions, replays, replay results and returning trace ids, whatever happens in
whatever order: ingest batches (some below the review group's offset, some bringing a
replayed trace id back), replays, resolutions by the dashboard and by the review group, and
replay results. Each step goes through the code the ingest and the actions run."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboard.actions.outcome_rows import REPLAY_COLUMNS, RESOLUTION_COLUMNS
from dashboard.adapters import record_states
from dashboard.adapters.db import Connection, Database, insert_rows, transaction
from ingest.parse import RawRecord
from tests.snapshots import TOPIC, pipeline_record, write_snapshot
from tests.test_schema_migrations import as_released_before

START = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
PARTITIONS = 2


def mismatches(con: Connection) -> list[tuple[object, ...]]:
    """Records whose kept state or replay outcome differs from the derived one."""
    return con.execute(
        f"""SELECT "partition", "offset", state, derived_state, replay_outcome,
                   derived_replay_outcome
            FROM {record_states.derived_records_sql()}
            WHERE state IS DISTINCT FROM derived_state
               OR replay_outcome IS DISTINCT FROM derived_replay_outcome
            ORDER BY ALL"""
    ).fetchall()


@dataclass
class World:
    db: Database
    now: datetime = START
    next_offset: list[int] = field(default_factory=lambda: [0] * PARTITIONS)
    records: list[tuple[int, int, str]] = field(default_factory=list)  # partition, offset, trace
    committed: dict[int, int | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        with self.db.write():
            pass  # the snapshot exists from the start, empty

    def pick(self, index: int) -> tuple[int, int, str] | None:
        return self.records[index % len(self.records)] if self.records else None

    def ingest(self, sizes: list[tuple[int, int, int]]) -> None:
        """New records: (partition, trace choice, seconds back) each; an even trace choice
        brings the trace id of the record it picks back to the DLQ."""
        batch: list[RawRecord] = []
        for partition, trace_choice, back in sizes:
            offset = self.next_offset[partition]
            self.next_offset[partition] += 1
            known = self.pick(trace_choice // 2) if trace_choice % 2 == 0 else None
            trace = known[2] if known else f"evt-{partition}-{offset}"
            at = self.now - timedelta(seconds=back)  # Kafka's time may be behind ours
            batch.append(pipeline_record(partition, offset, at, trace_id=trace))
            self.records.append((partition, offset, trace))
        write_snapshot(self.db.path, batch, committed=self.committed)

    def review_group_moves(self, partition: int, offset: int) -> None:
        """The runbook's CLI resolved records: the next ingest finds the offset moved."""
        self.committed[partition] = max(offset, self.committed.get(partition) or 0)
        write_snapshot(self.db.path, [], committed=self.committed)

    def replay(self, index: int) -> None:
        chosen = self.pick(index)
        if chosen is None:
            return
        p, o, trace = chosen
        rows: list[list[object]] = [
            [TOPIC, p, o, self.now, trace, "ana", 1, None, "pending", 0, index, None]
        ]
        self._as_the_actions_do("replays", REPLAY_COLUMNS, rows)

    def resolve(self, index: int) -> None:
        chosen = self.pick(index)
        if chosen is None:
            return
        p, o, _ = chosen
        rows: list[list[object]] = [[TOPIC, p, o, self.now, "dashboard", "ana", "fixed", 2]]
        with self.db.write() as con:
            taken = con.execute(
                'SELECT 1 FROM resolutions WHERE topic = ? AND "partition" = ? AND "offset" = ?',
                [TOPIC, p, o],
            ).fetchone()
        if taken is None:  # the actions refuse to resolve a resolved record
            self._as_the_actions_do("resolutions", RESOLUTION_COLUMNS, rows)

    def result(self, index: int, success: bool, back: int) -> None:
        chosen = self.pick(index)
        if chosen is None:
            return
        trace = chosen[2]
        with self.db.write() as con, transaction(con):
            # As ingest.results stores them: one row per results-topic record.
            con.execute(
                "INSERT INTO replay_results VALUES (?, ?, ?, 'results', 0, "
                "(SELECT count(*) FROM replay_results)) ON CONFLICT DO NOTHING",
                [trace, "success" if success else "failed", self.now - timedelta(seconds=back)],
            )
            record_states.after_results(con, [trace])

    def play(self, step: tuple[object, ...]) -> None:
        """One step of `steps`, then the clock moves on."""
        kind, *args = step
        if kind == "ingest":
            self.ingest(args[0])  # type: ignore[arg-type]
        elif kind == "replay":
            self.replay(int(args[0]))  # type: ignore[call-overload]
        elif kind == "resolve":
            self.resolve(int(args[0]))  # type: ignore[call-overload]
        elif kind == "review":
            self.review_group_moves(int(args[0]), int(args[1]))  # type: ignore[call-overload]
        elif kind == "result":
            self.result(int(args[0]), bool(args[1]), int(args[2]))  # type: ignore[call-overload]
        self.now += timedelta(seconds=int(args[0]) if kind == "wait" else 1)  # type: ignore[call-overload]

    def _as_the_actions_do(
        self, table: str, columns: tuple[str, ...], rows: list[list[object]]
    ) -> None:
        # What dashboard.actions.run's _commit and interrupted's _settle do in their transaction.
        with self.db.write() as con, transaction(con):
            insert_rows(con, table, columns, rows)
            record_states.refresh(con, rows)


# Small indices, so steps often meet on one record: a replay, then its trace id back or its
# result, then a resolution.
pick = st.integers(0, 5)
record_step = st.tuples(
    st.integers(0, PARTITIONS - 1), st.integers(0, 11), st.sampled_from([0, 0, 0, 600])
)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("ingest"), st.lists(record_step, min_size=1, max_size=6)),
        st.tuples(st.just("replay"), pick),
        st.tuples(st.just("resolve"), pick),
        st.tuples(st.just("review"), st.integers(0, PARTITIONS - 1), st.integers(0, 8)),
        st.tuples(st.just("result"), pick, st.booleans(), st.sampled_from([0, 0, 90])),
        st.tuples(st.just("wait"), st.integers(1, 120)),
    ),
    min_size=1,
    max_size=15,
)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps)
def test_kept_state_equals_the_derived_one_after_every_step(
    tmp_path_factory: pytest.TempPathFactory, sequence: list[tuple[object, ...]]
) -> None:
    db = Database(tmp_path_factory.mktemp("kept") / "snapshot.duckdb")
    world = World(db)
    for step in sequence:
        world.play(step)
        with db.read() as con:
            assert mismatches(con) == [], f"after {step}"


def test_a_replayed_trace_id_back_in_the_dlq_fails_the_replay_and_a_success_readies_another(
    tmp_path: Path,
) -> None:
    """The three ways a replay's outcome changes, each seen in the kept state."""
    world = World(Database(tmp_path / "snapshot.duckdb"))
    world.ingest([(0, 1, 60), (0, 3, 60), (1, 5, 60)])
    world.replay(0)
    world.replay(1)
    world.now += timedelta(seconds=5)
    world.ingest([(1, 0, 0)])  # record 0's trace id comes back after its replay
    world.result(1, True, 0)  # record 1's replay succeeded
    world.resolve(2)
    with world.db.read() as con:
        kept = con.execute(
            'SELECT "partition", "offset", state, replay_outcome FROM records ORDER BY ALL'
        ).fetchall()
        assert mismatches(con) == []
    assert kept == [
        (0, 0, record_states.REPLAY_FAILED, "failed-again"),
        (0, 1, record_states.READY_TO_RESOLVE, "succeeded"),
        (1, 0, record_states.RESOLVED, None),
        (1, 1, record_states.OPEN, None),
    ]


def test_the_migration_keeps_the_state_derived_from_an_earlier_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A snapshot written before 0006, with resolutions, replays and a returned trace id, gets
    the state each record had."""
    path = tmp_path / "snapshot.duckdb"
    with monkeypatch.context() as patched:
        as_released_before(patched, "0006_records_kept_state")
        world = World(Database(path))
        world.ingest([(0, 1, 60), (0, 3, 60), (1, 5, 60), (1, 7, 60)])
        world.replay(0)
        world.replay(1)
        world.resolve(2)
        world.now += timedelta(seconds=5)
        world.ingest([(1, 0, 0)])
        world.result(1, True, 0)
        world.review_group_moves(1, 2)
    with Database(path).write() as con:  # brings the file forward
        assert mismatches(con) == []
        states = con.execute("SELECT state, count(*) FROM records GROUP BY ALL ORDER BY ALL")
        assert states.fetchall() == [
            (record_states.OPEN, 1),
            (record_states.READY_TO_RESOLVE, 1),
            (record_states.REPLAY_FAILED, 1),
            (record_states.RESOLVED, 2),
        ]

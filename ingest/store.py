"""The ingest job's reads and writes of the snapshot (run bookkeeping, positions, batches)."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dashboard.adapters import (
    failure_pairs,
    pair_minutes,
    record_states,
    trace_landings,
    url_folders,
)
from dashboard.adapters.db import Connection, insert_rows, register, transaction
from dashboard.adapters.kafka import PartitionOffsets
from dashboard.adapters.processes import process_alive
from ingest.phases import Phases

# Columns kept per record that the parse does not give, computed as the rows are inserted:
# on the writer thread, which waits for the parsing thread part of each run
# (docs/ingest-design.md), not in the parse, the ingest's limit.
KEPT_AT_INSERT: dict[str, str] = {
    "url_folder": "dlq_url_folder(attachment_url)",
    "trace_hash": trace_landings.TRACE_HASH_SQL.format(
        parse_error="parse_error", trace_id="trace_id"
    ),
}

# Kept columns computed on the batch in Arrow before the insert, once per distinct value
# rather than per record (the failure pair's MD5: a batch holds few pairs).
KEPT_FROM_BATCH: dict[str, Callable[[pa.Table], pa.Array]] = {
    "pair_hash": failure_pairs.pair_hashes,
}


@dataclass(frozen=True)
class BatchResult:
    inserted: int
    positions: dict[int, int]  # partition -> next offset now stored


# Whether the `ingest_runs` row `r` got Kafka's partitions: every run that starts records their
# watermarks as it starts (record_watermarks); an attempt that found Kafka not answering
# (record_failed_attempt) records none.
REACHED_KAFKA_SQL: Final = (
    "EXISTS (SELECT 1 FROM partition_watermarks w WHERE w.topic = r.topic AND w.run_id = r.run_id)"
)


def start_run(con: Connection, topic: str) -> int:
    """Record a new run; runs left `running` by a process that no longer exists are
    marked `interrupted` (kill -9 leaves no chance to say so itself), and the records such a
    run's writer left unchecked (dashboard.adapters.trace_landings), of any topic, are
    checked: no writer holds the file while this one does, so any left are a dead writer's."""
    trace_landings.settle_all(con)
    host = socket.gethostname()
    stale = con.execute(
        "SELECT run_id, pid FROM ingest_runs WHERE status = 'running' AND host = ?", [host]
    ).fetchall()
    for run_id, pid in stale:
        if not process_alive(pid):
            con.execute("UPDATE ingest_runs SET status = 'interrupted' WHERE run_id = ?", [run_id])
    row = con.execute(
        "INSERT INTO ingest_runs (run_id, topic, started_at, status, pid, host) "
        "VALUES (nextval('ingest_run_ids'), ?, now(), 'running', ?, ?) RETURNING run_id",
        [topic, os.getpid(), host],
    ).fetchone()
    assert row is not None
    return int(row[0])


def record_failed_attempt(con: Connection, topic: str, error: str) -> None:
    """A run that could not start (Kafka not answering), so the dashboard can say that the
    ingest is trying and why; it stored nothing and is no refresh of the snapshot. While the
    same failure repeats (a follower retrying through an outage) the one row is carried on:
    it started when the failures began and finished at the latest attempt. A run that read
    Kafka (its watermarks are recorded) and then failed is never carried on: its time stays a
    run's (the metrics report it), and the outage's attempts get a row of their own.
    Records a killed run's writer left unchecked (dashboard.adapters.trace_landings) are
    checked all the same: an outage is when the escalation's replay failures are looked at."""
    trace_landings.settle_all(con)
    latest = con.execute(
        f"SELECT run_id, status, records_ingested, error, {REACHED_KAFKA_SQL} "
        "FROM ingest_runs r WHERE topic = ? AND finished_at IS NOT NULL "
        "ORDER BY finished_at DESC LIMIT 1",
        [topic],
    ).fetchone()
    attempt = latest is not None and latest[1] == "failed" and latest[2] == 0 and not latest[4]
    if latest is not None and attempt and latest[3] == error:
        con.execute("UPDATE ingest_runs SET finished_at = now() WHERE run_id = ?", [latest[0]])
        return
    con.execute(
        "INSERT INTO ingest_runs (run_id, topic, started_at, finished_at, status, pid, host, "
        "error) VALUES (nextval('ingest_run_ids'), ?, now(), now(), 'failed', ?, ?, ?)",
        [topic, os.getpid(), socket.gethostname(), error],
    )


def stored_positions(con: Connection, topic: str) -> dict[int, int]:
    rows = con.execute(
        'SELECT "partition", next_offset FROM ingest_positions WHERE topic = ?', [topic]
    ).fetchall()
    return {int(p): int(o) for p, o in rows}


def record_watermarks(
    con: Connection,
    run_id: int,
    topic: str,
    offsets: Mapping[int, PartitionOffsets],
    committed: Mapping[int, int | None],
) -> None:
    taken_at = datetime.now(UTC)
    insert_rows(
        con,
        "partition_watermarks",
        (
            "run_id",
            "taken_at",
            "topic",
            "partition",
            "low_offset",
            "high_offset",
            "committed_offset",
        ),
        [
            (run_id, taken_at, topic, p, o.low, o.high, committed.get(p))
            for p, o in sorted(offsets.items())
        ],
    )


def resolve_below_committed(
    con: Connection, topic: str, committed: Mapping[int, int | None]
) -> int:
    """Record as resolved (source review-group) every snapshot row the review group's
    committed offset has passed since the last run: someone resolved them with the runbook's
    CLI, which commits offsets."""
    total = 0
    for partition, offset in committed.items():
        if offset is None:
            continue
        row = con.execute(
            "INSERT INTO resolutions "
            '(topic, "partition", "offset", resolved_at, source) '
            'SELECT topic, "partition", "offset", now(), \'review-group\' FROM records r '
            'WHERE topic = ? AND "partition" = ? AND "offset" < ? '
            "AND NOT EXISTS (SELECT 1 FROM resolutions x WHERE x.topic = r.topic "
            'AND x."partition" = r."partition" AND x."offset" = r."offset")',
            [topic, partition, offset],
        ).fetchone()
        if row and row[0]:
            total += int(row[0])
            record_states.mark_resolved_below(con, topic, partition, offset)
    return total


def mark_gone(con: Connection, topic: str, offsets: Mapping[int, PartitionOffsets]) -> int:
    """Flag snapshot rows that retention has deleted from Kafka (offset below the low
    watermark). They stay in the snapshot: the record is gone from Kafka, not from history."""
    total = 0
    for partition, wm in offsets.items():
        row = con.execute(
            "UPDATE records SET gone_from_kafka_at = now() "
            'WHERE topic = ? AND "partition" = ? AND "offset" < ? AND gone_from_kafka_at IS NULL',
            [topic, partition, wm.low],
        ).fetchone()
        total += int(row[0]) if row else 0
    return total


@dataclass
class WriteSession:
    """What a writer that keeps its connection across transactions knows between them, for
    one topic: the stored positions and the trace ids of the topic's replayed records.

    While a write connection is open nobody else writes the file (DuckDB lets one process
    write it, and `Database.write` holds this process's lock), so both stay true until the
    connection closes: no transaction reads them again, and the rows already stored are
    left out in Arrow rather than by a join in every statement that reads the batch.

    `defer_landings`: the records' trace landings are checked once, by `settle` before the
    connection closes, not by every transaction (dashboard.adapters.trace_landings);
    `unchecked` holds the partitions whose first unchecked record is noted."""

    topic: str
    positions: dict[int, int]  # partition -> next offset stored
    replayed_traces: pa.Array  # trace ids of the topic's replayed records (few)
    defer_landings: bool = False
    unchecked: set[int] = field(default_factory=set)


def prepare(con: Connection, topic: str, *, defer_landings: bool = False) -> WriteSession:
    """Make `con` ready for `write_parsed` on `topic`: the macros its insert uses (temporary,
    so once per connection) and what it needs to know of the file (`WriteSession`).

    `defer_landings=True`: the caller keeps the connection across transactions and calls
    `settle` before closing it."""
    url_folders.install(con)
    replayed = con.execute(
        "SELECT DISTINCT trace_id FROM replays WHERE topic = ? AND trace_id IS NOT NULL",
        [topic],
    ).fetchall()
    return WriteSession(
        topic,
        stored_positions(con, topic),
        pa.array([t for (t,) in replayed], pa.string()),
        defer_landings=defer_landings,
    )


def settle(con: Connection, session: WriteSession) -> None:
    """Check the trace landings of the records the session's transactions left unchecked;
    before the connection closes (readers must not see them unchecked)."""
    if session.unchecked:
        trace_landings.settle(con, session.topic)
        session.unchecked.clear()


def write_parsed(
    con: Connection,
    run_id: int,
    topic: str,
    parsed: pa.Table,
    ends: Mapping[int, int] | None = None,
    committed: Mapping[int, int | None] | None = None,
    phases: Phases | None = None,
    session: WriteSession | None = None,
) -> BatchResult:
    """Insert a parsed batch (from ingest.parse.BatchParser) of `topic`'s records and advance
    the positions, in one transaction.

    Rows below the stored position are skipped: another ingest (a `dlq list` refresh beside
    `dlq ingest --follow`, say) may have stored them first, and a record is stored once.
    `ends` moves positions on to a partition's end (past transaction markers, which take
    offsets but are never delivered); it is written with the batch that holds the records
    before that end, never ahead of them. Rows below the review group's `committed` offset
    (as the run found it) were resolved before the dashboard saw them, and are recorded so.
    `session`: from `prepare` on `con` (a writer keeping its connection across transactions
    prepares it once); without one, the transaction prepares its own.
    """
    started, started_cpu = time.perf_counter(), time.thread_time()
    with transaction(con):
        if session is None:
            session = prepare(con, topic)
        new_rows = not_stored(parsed, session.positions)
        for column, compute in KEPT_FROM_BATCH.items():
            new_rows = new_rows.append_column(column, compute(new_rows))
        register(con, "new_rows", new_rows)
        try:
            inserted, noted = _insert(con, run_id, topic, new_rows, committed or {}, session)
            # The batch's own next offsets and the partition ends, in one statement (each
            # statement costs milliseconds, and this runs once per transaction).
            positions = next_offsets(parsed)
            for partition, end in (ends or {}).items():
                key = (topic, partition)
                positions[key] = max(positions.get(key, end), end)
            advance_positions(con, positions)
            con.execute(
                "UPDATE ingest_runs SET records_ingested = records_ingested + ? WHERE run_id = ?",
                [inserted, run_id],
            )
            inserted_at, inserted_cpu = time.perf_counter(), time.thread_time()
        finally:
            con.unregister("new_rows")
    # Committed: the session's positions move as the file's did, and its notes are there.
    session.unchecked.update(noted)
    for (t, partition), offset in positions.items():
        if t == topic:
            session.positions[partition] = max(session.positions.get(partition, offset), offset)
    if phases is not None:
        # The writer's queries run on this thread (DuckDB's one thread for it): its CPU time
        # is theirs, the rest waiting.
        phases.add("insert", inserted_at - started, inserted_cpu - started_cpu)
        phases.add("commit", time.perf_counter() - inserted_at, time.thread_time() - inserted_cpu)
    return BatchResult(inserted, dict(session.positions))


def _insert(
    con: Connection,
    run_id: int,
    topic: str,
    new_rows: pa.Table,
    committed: Mapping[int, int | None],
    session: WriteSession,
) -> tuple[int, set[int]]:
    """Insert `new_rows` (registered under that name) and bring what is kept about them and
    the records they touch up to date (their trace landings later, if the session defers
    them); return how many rows were inserted, and the partitions newly noted unchecked."""
    # No RETURNING: it would keep DuckDB from writing a large batch straight to the table.
    # The insert reports its row count; the run counts the rest at its end.
    kept = "".join(f", {sql} AS {column}" for column, sql in KEPT_AT_INSERT.items())
    counted = con.execute(
        # By name: columns added by later migrations come last in the table.
        "INSERT INTO records BY NAME SELECT new_rows.*, ? AS ingest_run_id, "
        f"now() AS ingested_at{kept} FROM new_rows",
        [run_id],
    ).fetchone()
    inserted = int(counted[0]) if counted else 0
    for partition, offset in committed.items():
        if offset is not None:
            con.execute(
                "INSERT INTO resolutions "
                '(topic, "partition", "offset", resolved_at, source) '
                'SELECT topic, "partition", "offset", now(), \'before-dashboard\' '
                'FROM new_rows WHERE "partition" = ? AND "offset" < ? '
                "ON CONFLICT DO NOTHING",
                [partition, offset],
            )
    returning = len(session.replayed_traces) > 0 and bool(
        pc.any(pc.is_in(new_rows["trace_id"], value_set=session.replayed_traces)).as_py()
    )
    record_states.after_ingest(con, topic, "new_rows", committed, replays_may_return=returning)
    noted: set[int] = set()
    if session.defer_landings:
        firsts = first_offsets(new_rows, exclude=session.unchecked)
        trace_landings.defer(con, topic, firsts)
        noted = set(firsts)
    else:
        trace_landings.after_ingest(con, topic, run_id)
    pair_minutes.after_ingest(con, "new_rows")
    return inserted, noted


def first_offsets(rows: pa.Table, exclude: set[int]) -> dict[int, int]:
    """Partition -> the first offset of `rows` (one topic's) there, for the partitions not in
    `exclude`."""
    return {p: first for (_, p), (first, _) in _offset_bounds(rows).items() if p not in exclude}


def not_stored(parsed: pa.Table, positions: Mapping[int, int]) -> pa.Table:
    """The rows of `parsed` (one topic's) at or after their partition's stored position."""
    if not positions or not parsed.num_rows:
        return parsed
    partition = parsed["partition"].to_numpy()
    offset = parsed["offset"].to_numpy()
    stored = np.zeros(len(offset), dtype=bool)
    for p, next_offset in positions.items():
        stored |= (partition == p) & (offset < next_offset)
    return parsed.filter(pa.array(~stored)) if stored.any() else parsed


def set_positions(con: Connection, topic: str, positions: Mapping[int, int]) -> None:
    """Move positions forward (never back) without storing rows."""
    advance_positions(con, {(topic, p): offset for p, offset in positions.items()})


def advance_positions(con: Connection, positions: Mapping[tuple[str, int], int]) -> None:
    """Move each (topic, partition)'s next offset forward to the one given, never back."""
    if not positions:
        return
    keys = list(positions)
    con.execute(
        'INSERT INTO ingest_positions (topic, "partition", next_offset, updated_at) '
        "SELECT unnest(?::VARCHAR[]), unnest(?::INTEGER[]), unnest(?::BIGINT[]), now() "
        'ON CONFLICT (topic, "partition") DO UPDATE SET '
        "next_offset = greatest(ingest_positions.next_offset, excluded.next_offset), "
        "updated_at = excluded.updated_at",
        [[t for t, _ in keys], [p for _, p in keys], [positions[k] for k in keys]],
    )


def next_offsets(rows: pa.Table) -> dict[tuple[str, int], int]:
    """(topic, partition) -> the offset after the last of `rows` there."""
    return {key: last + 1 for key, (_, last) in _offset_bounds(rows).items()}


def _offset_bounds(rows: pa.Table) -> dict[tuple[str, int], tuple[int, int]]:
    """(topic, partition) -> the first and the last offset of `rows` there.

    With compute kernels, not `Table.group_by`: that imports pyarrow.acero, which imports
    pyarrow.dataset, pages the ingest process would carry for its whole run against its
    memory budget (a test holds the process free of them). A batch holds one topic and a
    few partitions, so a filter per partition is cheap.
    """
    result: dict[tuple[str, int], tuple[int, int]] = {}
    topics, partitions, offsets = rows["topic"], rows["partition"], rows["offset"]
    for topic in pc.unique(topics).to_pylist():
        in_topic = pc.equal(topics, topic)
        for partition in pc.unique(pc.filter(partitions, in_topic)).to_pylist():
            here = pc.and_(in_topic, pc.equal(partitions, partition))
            bounds = pc.min_max(pc.filter(offsets, here))
            first, last = bounds["min"].as_py(), bounds["max"].as_py()
            result[(str(topic), int(partition))] = (int(first), int(last))
    return result


def finish_run(
    con: Connection,
    run_id: int,
    *,
    status: str,
    missed: int,
    marked_gone: int,
    error: str | None = None,
) -> tuple[int, int]:
    """Close the run's record; return how many rows it stored and how many of them did not
    parse (counted from the rows themselves, so a count is never off by a failed batch)."""
    row = con.execute(
        "SELECT count(*), count(parse_error) FROM records WHERE ingest_run_id = ?", [run_id]
    ).fetchone()
    stored, unparseable = (int(row[0]), int(row[1])) if row else (0, 0)
    con.execute(
        "UPDATE ingest_runs SET finished_at = now(), status = ?, records_ingested = ?, "
        "records_unparseable = ?, records_missed = ?, records_marked_gone = ?, error = ? "
        "WHERE run_id = ?",
        [status, stored, unparseable, missed, marked_gone, error, run_id],
    )
    return stored, unparseable

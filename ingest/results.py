"""Replay outcomes from the results topic (`DLQ_RESULTS_TOPIC`), when one is configured.

Only results for trace ids the dashboard replayed are kept: the results topic carries an
outcome for every download attempt, and only those after a replay say anything about it.
Older pipeline versions write `status` success / failed_transient / failed_permanent with
`completed_at`; newer ones completed / failed / failed_permanent with `created_at`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from dashboard.adapters import record_states
from dashboard.adapters.db import Database, transaction
from dashboard.adapters.kafka import KafkaGateway, is_partition_eof
from dashboard.settings import Settings
from ingest import store

POLL_SECONDS = 0.2


def ingest_results(settings: Settings, kafka: KafkaGateway, db: Database) -> int:
    """Read the results topic from where the last run stopped; store outcomes for replayed
    trace ids. Returns how many were stored."""
    topic = settings.results_topic
    if not topic:
        return 0
    with db.read() as con:
        replayed = dict(
            con.execute(
                "SELECT trace_id, min(replayed_at) FROM replays WHERE trace_id IS NOT NULL "
                "GROUP BY trace_id"
            ).fetchall()
        )
        stored = store.stored_positions(con, topic)
    partitions = kafka.partitions(topic)
    marks = kafka.watermarks(topic, partitions)
    missing = [p for p in partitions if p not in stored]
    if missing:
        # First look at this topic: nothing before the first replay can be an outcome of it.
        since = min(replayed.values()) if replayed else datetime.now(UTC)
        stored.update(kafka.offsets_for_time(topic, missing, int(since.timestamp() * 1000)))
    start = {p: max(stored[p], marks[p].low) for p in partitions}
    todo = {p: marks[p].high for p in partitions if start[p] < marks[p].high}
    rows: list[tuple[str, str, datetime | None, str, int, int]] = []
    position = dict(start)
    if todo and replayed:
        consumer = kafka.reader(topic, {p: start[p] for p in todo})
        try:
            pending = set(todo)
            idle = 0
            while pending and idle < 50:
                messages = consumer.consume(5000, POLL_SECONDS)
                idle = 0 if messages else idle + 1
                for m in messages:
                    p = m.partition()
                    if p is None:
                        continue
                    err = m.error()
                    if err is not None:
                        if is_partition_eof(err):
                            pending.discard(p)
                        continue
                    position[p] = max(position[p], (m.offset() or 0) + 1)
                    outcome = _outcome(m.key(), m.value(), replayed, m.timestamp())
                    if outcome is not None:
                        trace_id, status, at = outcome
                        rows.append((trace_id, status, at, topic, p, m.offset() or 0))
                pending = {p for p in pending if position[p] < todo[p]}
        finally:
            consumer.close()
    elif todo:
        position.update(todo)  # nothing replayed yet: nothing here to look for
    with db.write() as con, transaction(con):
        if rows:
            con.executemany(
                "INSERT INTO replay_results VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [list(r) for r in rows],
            )
            record_states.after_results(con, [r[0] for r in rows])
        store.set_positions(con, topic, position)
    return len(rows)


def _outcome(
    key: bytes | None,
    value: bytes | None,
    replayed: dict[str, datetime],
    timestamp: tuple[int, int],
) -> tuple[str, str, datetime | None] | None:
    if key is not None:
        try:
            if key.decode() not in replayed:
                return None  # keyed by trace id: most records are skipped without parsing
        except UnicodeDecodeError:
            pass
    try:
        body = json.loads(value or b"")
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(body, dict):
        return None
    trace_id, status = body.get("trace_id"), body.get("status")
    if not isinstance(trace_id, str) or trace_id not in replayed or not isinstance(status, str):
        return None
    at = None
    for field in ("completed_at", "created_at"):
        text = body.get(field)
        if isinstance(text, str):
            try:
                at = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                continue
            if at.tzinfo is None:
                at = at.replace(tzinfo=UTC)
            break
    kind, millis = timestamp
    if at is None and kind:
        at = datetime.fromtimestamp(millis / 1000, UTC)  # the record's own time
    return trace_id, status.lower(), at

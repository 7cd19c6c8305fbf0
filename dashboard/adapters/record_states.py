"""Each record's kept state: `records.state` and `records.replay_outcome`, brought up to date
in the same transaction as whatever changes them, so queries filter on a column instead of
deriving every record's state from its resolution and replays (dashboard.triage.states
names the states and says what each means).

The derivation stays here, in SQL, as the one definition: `refresh` recomputes it for a few
records (those just resolved or replayed, or whose replay just got an outcome), and
`derived_records_sql` computes it for every record, for the test that the kept state always
equals it. Where the state changes:
  - resolving (the actions, the review group's committed offset, an ingest that finds records
    below it): `mark_resolved_below` or `refresh`;
  - replaying (the actions, settling an interrupted replay): `refresh`;
  - ingesting records whose trace id a replayed record has (`after_ingest`) and replay results
    (`after_results`): the replayed records with those trace ids, the small side.
A newly ingested record is 'open' (the column's default) unless resolved on the way in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:  # db imports the migrations, which import this module
    from dashboard.adapters.db import Connection

OPEN: Final = "open"
REPLAYED_WAITING: Final = "replayed-waiting"
READY_TO_RESOLVE: Final = "ready-to-resolve"
REPLAY_FAILED: Final = "replay-failed"
RESOLVED: Final = "resolved"

SUCCESS_STATUSES: Final = ("success", "completed")

Key = tuple[str, int, int]  # topic, partition, offset


def replay_outcomes_sql(only: str = "") -> str:
    """The latest replay of each replayed record, with its outcome and when that outcome was
    seen (the record back in the DLQ, or the success reported). `only` (SQL naming `topic`,
    `"partition"`, `"offset"`) narrows it to those records. Works on the (few) replayed
    records only; the joins to all records go by trace id from this small side."""
    narrowed = (
        f'WHERE (topic, "partition", "offset") IN (SELECT topic, "partition", "offset" '
        f"FROM ({only}))"
        if only
        else ""
    )
    return f"""
WITH last_replay AS (
    SELECT topic, "partition", "offset", max(replayed_at) AS replayed_at,
           min(replayed_at) AS first_replayed_at,
           arg_max(trace_id, replayed_at) AS trace_id, count(*) AS replays
    FROM replays {narrowed} GROUP BY topic, "partition", "offset"
),
again AS (
    SELECT l.topic, l."partition", l."offset",
           arg_min(r."partition", r.kafka_timestamp) AS again_partition,
           arg_min(r."offset", r.kafka_timestamp) AS again_offset,
           min(r.kafka_timestamp) AS again_at
    FROM last_replay l
    JOIN records r ON r.topic = l.topic AND r.trace_id = l.trace_id
        AND r.kafka_timestamp > l.replayed_at
        AND NOT (r."partition" = l."partition" AND r."offset" = l."offset")
    GROUP BY l.topic, l."partition", l."offset"
),
succeeded AS (
    SELECT l.topic, l."partition", l."offset", min(x.result_at) AS succeeded_at
    FROM last_replay l
    JOIN replay_results x ON x.trace_id = l.trace_id AND x.result_at > l.replayed_at
        AND lower(x.status) IN {SUCCESS_STATUSES!r}
    GROUP BY l.topic, l."partition", l."offset"
)
SELECT l.topic, l."partition", l."offset", l.replayed_at, l.first_replayed_at, l.replays,
       CASE WHEN a.again_offset IS NOT NULL THEN 'failed-again'
            WHEN s.succeeded_at IS NOT NULL THEN 'succeeded'
            ELSE 'waiting' END AS replay_outcome,
       coalesce(a.again_at, s.succeeded_at) AS outcome_at,
       a.again_partition, a.again_offset
FROM last_replay l
LEFT JOIN again a USING (topic, "partition", "offset")
LEFT JOIN succeeded s USING (topic, "partition", "offset")
"""


REPLAY_OUTCOMES_SQL: Final = replay_outcomes_sql()

# The record's state, from the `res` and `rp` joins of `state_joins`.
STATE_EXPRESSION: Final = f"""CASE WHEN res."offset" IS NOT NULL THEN '{RESOLVED}'
    WHEN rp."offset" IS NULL THEN '{OPEN}'
    WHEN rp.replay_outcome = 'failed-again' THEN '{REPLAY_FAILED}'
    WHEN rp.replay_outcome = 'succeeded' THEN '{READY_TO_RESOLVE}'
    ELSE '{REPLAYED_WAITING}' END"""


def state_joins(alias: str = "r", only: str = "") -> str:
    """LEFT JOINs that give `res` (resolution) and `rp` (replay outcome) for `alias`;
    `only` narrows the replay outcomes as in `replay_outcomes_sql`."""
    return f"""
        LEFT JOIN resolutions res ON res.topic = {alias}.topic
            AND res."partition" = {alias}."partition" AND res."offset" = {alias}."offset"
        LEFT JOIN ({replay_outcomes_sql(only)}) rp ON rp.topic = {alias}.topic
            AND rp."partition" = {alias}."partition" AND rp."offset" = {alias}."offset"
    """


def derived_records_sql() -> str:
    """Every record with its state and replay outcome derived (`derived_state`,
    `derived_replay_outcome`) beside the kept ones: the reference the kept state must equal."""
    return f"""(
        SELECT r.*, {STATE_EXPRESSION} AS derived_state,
               rp.replay_outcome AS derived_replay_outcome
        FROM records r
        {state_joins("r")}
    )"""


def refresh_sql(keys: str) -> str:
    """SQL that sets the kept state of the records `keys` names (a query with `topic`,
    `"partition"`, `"offset"`) to the derived one."""
    return f"""
UPDATE records AS r SET state = d.state, replay_outcome = d.replay_outcome
FROM (
    SELECT k.topic, k."partition", k."offset", {STATE_EXPRESSION} AS state,
           rp.replay_outcome
    FROM (SELECT DISTINCT topic, "partition", "offset" FROM ({keys})) k
    {state_joins("k", keys)}
) d
WHERE r.topic = d.topic AND r."partition" = d."partition" AND r."offset" = d."offset"
  AND (r.state IS DISTINCT FROM d.state OR r.replay_outcome IS DISTINCT FROM d.replay_outcome)
"""


def refresh(con: Connection, keys: Iterable[Sequence[object]]) -> None:
    """Within the caller's transaction: bring the kept state of the records `keys` (topic,
    partition, offset, anything after ignored) up to date."""
    listed = [(str(k[0]), int(str(k[1])), int(str(k[2]))) for k in keys]
    if not listed:
        return
    con.execute(
        refresh_sql(
            "SELECT unnest($topics::VARCHAR[]) AS topic, "
            'unnest($partitions::INTEGER[]) AS "partition", '
            'unnest($offsets::BIGINT[]) AS "offset"'
        ),
        {
            "topics": [k[0] for k in listed],
            "partitions": [k[1] for k in listed],
            "offsets": [k[2] for k in listed],
        },
    )


def mark_resolved_below(
    con: Connection, topic: str, partition: int, offset: int, among: str = ""
) -> None:
    """Every record of `partition` below `offset` (of those in `among`, a relation of records
    just inserted, if given) has just been given a resolution."""
    lowest = 0
    if among:
        # From the batch's first offset on: the scan skips the row groups written before.
        row = con.execute(
            f'SELECT min("offset") FROM {among} WHERE topic = ? AND "partition" = ?',
            [topic, partition],
        ).fetchone()
        if row is None or row[0] is None or int(row[0]) >= offset:
            return  # none of them is below `offset`
        lowest = int(row[0])
    con.execute(
        f"UPDATE records SET state = '{RESOLVED}' "
        'WHERE topic = ? AND "partition" = ? AND "offset" >= ? AND "offset" < ? '
        f"AND state <> '{RESOLVED}'",
        [topic, partition, lowest, offset],
    )


def _refresh_replayed(con: Connection, which: str, params: object = None) -> None:
    """Refresh the replayed records `which` (a condition on `replays p`) selects."""
    keys = con.execute(
        f'SELECT DISTINCT topic, "partition", "offset" FROM replays p WHERE {which}', params
    ).fetchall()
    refresh(con, keys)


def after_ingest(
    con: Connection,
    topic: str,
    new_rows: str,
    committed: Mapping[int, int | None],
    *,
    replays_may_return: bool = True,
) -> None:
    """`new_rows` (a relation of records of `topic` just inserted, 'open' by default) holds
    records below the review group's `committed` offsets, just resolved, and may bring back
    the trace id of a replayed record: that replay failed. Only the batch and the replayed
    records are looked at. `replays_may_return=False`: the caller knows that no replayed
    record's trace id is among `new_rows` (the ingest's writer keeps the few replayed trace
    ids), so the replayed records need no look."""
    for partition, offset in committed.items():
        if offset is not None:
            mark_resolved_below(con, topic, partition, offset, among=new_rows)
    if not replays_may_return:
        return
    _refresh_replayed(
        con,
        f"p.trace_id IN (SELECT n.trace_id FROM {new_rows} n "
        "WHERE n.topic = p.topic AND n.trace_id IS NOT NULL)",
    )


def after_results(con: Connection, trace_ids: Iterable[str]) -> None:
    """Replay results just stored for `trace_ids`: their replayed records may be done."""
    wanted = sorted(set(trace_ids))
    if wanted:
        _refresh_replayed(con, "p.trace_id IN (SELECT unnest($ids::VARCHAR[]))", {"ids": wanted})

"""Where each record stands: unresolved, replayed (and waiting), or resolved.

- resolved: it has a row in `resolutions` (see dashboard.adapters.migrations for the ways there);
- replayed: not resolved, and the dashboard replayed it (`replays`); its replay outcome is
  `waiting`, `failed-again` (its trace id landed in the DLQ again after the replay, a runbook
  escalation criterion) or `succeeded` (the results topic reported success after the replay:
  ready to resolve);
- unresolved: neither.
Unparseable and gone-from-Kafka are properties beside the state, not states.
"""

from __future__ import annotations

from typing import Final

STATES: Final = ("unresolved", "replayed", "resolved")
# What a selection may ask for: the states, a replayed record's outcome, and the two
# properties. The states select records still in Kafka; "gone" selects the others.
STATE_CHOICES: Final = (
    "unresolved",
    "replayed",
    "replay-failed",
    "ready-to-resolve",
    "resolved",
    "unparseable",
    "gone",
)
OUTCOMES: Final = ("waiting", "failed-again", "succeeded")
SUCCESS_STATUSES: Final = ("success", "completed")

# The latest watermarks and committed offset seen per partition.
LATEST_WATERMARKS_SQL: Final = """
SELECT topic, "partition",
       arg_max(low_offset, run_id) AS low_offset,
       arg_max(high_offset, run_id) AS high_offset,
       arg_max_null(committed_offset, run_id) AS committed_offset,
       max(taken_at) AS taken_at
FROM partition_watermarks
GROUP BY topic, "partition"
"""

# The latest replay of each replayed record, with its outcome. Works on the (few) replayed
# records only; the joins to all records go by trace id from this small side.
REPLAY_OUTCOMES_SQL: Final = f"""
WITH last_replay AS (
    SELECT topic, "partition", "offset", max(replayed_at) AS replayed_at,
           arg_max(trace_id, replayed_at) AS trace_id, count(*) AS replays
    FROM replays GROUP BY topic, "partition", "offset"
),
again AS (
    SELECT l.topic, l."partition", l."offset",
           arg_min(r."partition", r.kafka_timestamp) AS again_partition,
           arg_min(r."offset", r.kafka_timestamp) AS again_offset
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
SELECT l.topic, l."partition", l."offset", l.replayed_at, l.replays,
       CASE WHEN a.again_offset IS NOT NULL THEN 'failed-again'
            WHEN s.succeeded_at IS NOT NULL THEN 'succeeded'
            ELSE 'waiting' END AS replay_outcome,
       a.again_partition, a.again_offset
FROM last_replay l
LEFT JOIN again a USING (topic, "partition", "offset")
LEFT JOIN succeeded s USING (topic, "partition", "offset")
"""

STATE_EXPRESSION: Final = (
    "CASE WHEN res.\"offset\" IS NOT NULL THEN 'resolved' "
    "WHEN rp.\"offset\" IS NOT NULL THEN 'replayed' ELSE 'unresolved' END"
)


def state_joins(alias: str = "r") -> str:
    """LEFT JOINs that give `res` (resolution) and `rp` (replay outcome) for `alias`."""
    return f"""
        LEFT JOIN resolutions res ON res.topic = {alias}.topic
            AND res."partition" = {alias}."partition" AND res."offset" = {alias}."offset"
        LEFT JOIN ({REPLAY_OUTCOMES_SQL}) rp ON rp.topic = {alias}.topic
            AND rp."partition" = {alias}."partition" AND rp."offset" = {alias}."offset"
    """


def records_with_state_sql(*, with_rowid: bool = False) -> str:
    """Every record with `state`, its resolution and its replay outcome; filter on `topic`.
    `with_rowid` adds the record's `record_rowid`, valid within the one statement."""
    rowid = "r.rowid AS record_rowid, " if with_rowid else ""
    return f"""(
        SELECT r.*, {rowid}{STATE_EXPRESSION} AS state, res.source AS resolution_source,
               res.resolved_at AS resolved_at, res.actor AS resolved_by,
               rp.replayed_at, rp.replays, rp.replay_outcome,
               rp.again_partition, rp.again_offset
        FROM records r
        {state_joins("r")}
    )"""


# Each choice as a condition on the `records_with_state_sql()` relation.
_CHOICE_CONDITIONS: Final[dict[str, str]] = {
    **{name: f"(state = '{name}' AND gone_from_kafka_at IS NULL)" for name in STATES},
    "replay-failed": "(state = 'replayed' AND replay_outcome = 'failed-again')",
    "ready-to-resolve": "(state = 'replayed' AND replay_outcome = 'succeeded')",
    "unparseable": "parse_error IS NOT NULL",
    "gone": "gone_from_kafka_at IS NOT NULL",
}


def choices_condition(choices: tuple[str, ...]) -> str:
    """A condition selecting the records in any of `choices` (from STATE_CHOICES)."""
    unknown = [c for c in choices if c not in _CHOICE_CONDITIONS]
    if unknown:
        raise ValueError(f"unknown state {unknown[0]!r}")
    return "(" + " OR ".join(_CHOICE_CONDITIONS[c] for c in choices) + ")"


def listed_state(state: str, gone: bool, parse_error: str | None) -> str:
    """The one word the runbook's list shows: gone and unparseable records named as such."""
    if gone:
        return "gone"
    if state != "unresolved":
        return state
    return "unparseable" if parse_error is not None else "unresolved"

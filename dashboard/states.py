"""Where each record stands: unresolved, replayed (and waiting), or resolved.

A record is resolved when it has a row in `resolutions` (see dashboard.schema for the ways
one gets there). Unparseable and gone-from-Kafka are properties beside the state, not states.
"""

from __future__ import annotations

from typing import Final

STATES: Final = ("unresolved", "replayed", "resolved")

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

STATE_EXPRESSION: Final = (
    "CASE WHEN res.\"offset\" IS NOT NULL THEN 'resolved' ELSE 'unresolved' END"
)


def records_with_state_sql() -> str:
    """A relation of every record with `state` and `resolution_source`; filter on `topic`."""
    return f"""(
        SELECT r.*, {STATE_EXPRESSION} AS state, res.source AS resolution_source,
               res.resolved_at AS resolved_at
        FROM records r
        LEFT JOIN resolutions res USING (topic, "partition", "offset")
    )"""

"""Which records share their trace id with another record of their topic: the runbook's
"Replay failures (messages return to DLQ immediately)" escalation criterion. A replay made
outside the dashboard (the runbook's CLI) leaves no trace but the second landing, so the
criterion looks at every record, not only at the dashboard's replays.

Kept where it changes instead of grouping every trace id per query: `records.trace_hash` (a
64-bit hash of the trace id, set as the ingest inserts readable records with one) and
`records.trace_repeated` (another readable record of the topic has the same hash), brought
up to date by the ingest (`after_ingest`, or `defer` and `settle`; below). Grouping on
the hash keeps the ingest's look-up on fixed-width keys; a collision only flags a pair of
records whose trace ids differ, which the criterion's grouping on the text drops. The hash is
MD5's (its lower 64 bits), not DuckDB's own `hash`, which may change between versions: hashes
kept by one version must match those the next one computes.
`derived_sql` computes the flag for every record, for the test that the kept one equals it.

Each check scans every hash of the topic, so checking every transaction would make the
ingest's cost grow with the square of the snapshot. The ingest's writer checks once per hold
of the file instead: the first transaction of a hold that stores records notes where they
begin in `trace_landings_unchecked` (`defer`), and before letting go of the file the writer
checks every record after that note and deletes it (`settle`). Readers cannot open the file
while the writer holds it, so they never see the rows unchecked, unless the check did not
run (a writer killed mid-hold) or failed (after a failed write): the note stays, and the
next ingest run of any topic checks them as it starts (ingest.store.start_run), or as it finds
Kafka not answering (ingest.store.record_failed_attempt). The check is idempotent, so a note
checked twice does no harm.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:  # db imports the migrations, which import this module
    from dashboard.adapters.db import Connection

# The ingest's expression (ingest.store.KEPT_AT_INSERT), also the back-fill's: NULL where
# the criterion does not look (unreadable records, no trace id). The value is DuckDB's
# md5_number_lower (hashes kept before must still match), taken from md5_number by a shift:
# md5_number_lower is a macro that goes through a 128-character bit string for every row.
TRACE_HASH_SQL: Final = (
    "CASE WHEN {parse_error} IS NULL AND {trace_id} IS NOT NULL "
    "THEN (md5_number({trace_id}) >> 64)::UBIGINT END"
)


# (topic, trace_hash) pairs held by more than one record.
_REPEATED_SQL: Final = """
SELECT topic, trace_hash FROM records WHERE trace_hash IS NOT NULL
GROUP BY topic, trace_hash HAVING count(*) > 1
"""

# Flags every record of a repeated pair: the back-fill's, over every record.
MARK_ALL_SQL: Final = f"""
UPDATE records SET trace_repeated = true
WHERE NOT trace_repeated AND (topic, trace_hash) IN ({_REPEATED_SQL})
"""


def derived_sql() -> str:
    """Every record's `trace_repeated` as derived from all records (`derived_repeated`)."""
    return f"""(
        SELECT r.topic, r."partition", r."offset", r.trace_repeated,
               coalesce((r.topic, r.trace_hash) IN ({_REPEATED_SQL}), false)
                   AS derived_repeated
        FROM records r
    )"""


UNCHECKED_TABLE_SQL: Final = """
CREATE TABLE trace_landings_unchecked (
    topic         VARCHAR NOT NULL,
    "partition"   INTEGER NOT NULL,
    first_offset  BIGINT NOT NULL   -- this record and those after it in the partition
);
"""

# Flags every unflagged record of `topic` whose hash another record of the topic has, among
# the hashes of the records `hashes_sql` selects.
_FLAG_SQL: Final = """
UPDATE records SET trace_repeated = true FROM (
    SELECT rid FROM (
        SELECT rowid AS rid, trace_repeated,
               count(*) OVER (PARTITION BY trace_hash) AS landings
        FROM records
        WHERE topic = $topic AND trace_hash IN ({hashes_sql})
    ) WHERE landings > 1 AND NOT trace_repeated
) hit
WHERE records.rowid = hit.rid
"""


def after_ingest(con: Connection, topic: str, run_id: int) -> None:
    """Within the ingest's transaction, after its insert: the records of `topic` it just
    inserted (run `run_id`, `ingested_at` the transaction's start, `now()`), not flagged, may
    repeat each other's trace ids or earlier records'. Their hashes are read back as the
    insert kept them, not computed again. One scan of the topic's hashes finds the records
    sharing one with them; those are flagged by row id. Should an earlier transaction of
    the run share that start, its hashes are looked up too: every record of a repeated
    hash is flagged whichever rows the look-up starts from."""
    hashes = "SELECT trace_hash FROM records WHERE ingest_run_id = $run_id AND ingested_at = now()"
    con.execute(_FLAG_SQL.format(hashes_sql=hashes), {"topic": topic, "run_id": run_id})


def defer(con: Connection, topic: str, first_offsets: Mapping[int, int]) -> None:
    """Within the ingest's transaction that stores the first records of a hold in each of
    these partitions: those records (`first_offsets`, partition -> offset of the first)
    and every one stored after them are checked later, by `settle`. By offset, not by the
    time they were stored: positions only move forward, the clock may not."""
    if first_offsets:
        con.execute(
            "INSERT INTO trace_landings_unchecked "
            "SELECT ?, unnest(?::INTEGER[]), unnest(?::BIGINT[])",
            [topic, list(first_offsets), list(first_offsets.values())],
        )


def settle(con: Connection, topic: str) -> bool:
    """Check the records of `topic` that `defer` left unchecked (this writer's, or those of
    a writer killed mid-hold), then forget them. Whether there were any.

    The flags go first and the notes after them, each in its own statement: a process
    killed between them leaves the notes, whose records are checked again (to the same
    flags)."""
    row = con.execute(
        "SELECT min(first_offset) FROM trace_landings_unchecked WHERE topic = ?", [topic]
    ).fetchone()
    if not row or row[0] is None:
        return False
    # The bound on every partition's offset lets the scan skip the row groups stored before.
    hashes = """
        SELECT r.trace_hash FROM records r JOIN trace_landings_unchecked u
            ON r.topic = u.topic AND r."partition" = u."partition"
            AND r."offset" >= u.first_offset
        WHERE u.topic = $topic AND r."offset" >= $lowest"""
    con.execute(_FLAG_SQL.format(hashes_sql=hashes), {"topic": topic, "lowest": int(row[0])})
    con.execute("DELETE FROM trace_landings_unchecked WHERE topic = ?", [topic])
    return True


def settle_all(con: Connection) -> None:
    """`settle` every topic's notes: at a run's start no writer holds the file but the
    caller, so any notes are a dead writer's, whichever DLQ it was copying (one since
    removed from the configuration, or deleted from Kafka, would otherwise keep them)."""
    topics = con.execute("SELECT DISTINCT topic FROM trace_landings_unchecked").fetchall()
    for (topic,) in topics:
        settle(con, str(topic))

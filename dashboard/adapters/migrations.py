"""The snapshot's schema, as named migrations applied in order by `dashboard.adapters.db`.

A migration is never edited once released: a change to the schema is a new migration
appended to `MIGRATIONS`, so every snapshot file can be brought forward from any version.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dashboard.adapters.failure_pairs import RECORD_PAIR_HASH_SQL
from dashboard.adapters.pair_minutes import BACKFILL_SQL as PAIR_MINUTES_BACKFILL
from dashboard.adapters.record_states import OPEN, refresh_sql
from dashboard.adapters.trace_landings import MARK_ALL_SQL, TRACE_HASH_SQL, UNCHECKED_TABLE_SQL
from dashboard.adapters.url_folders import URL_FOLDER_MACROS


@dataclass(frozen=True)
class Migration:
    name: str
    sql: str


RECORDS = """
-- One row per Kafka record of the DLQ topic, whatever its bytes. The raw key, headers and
-- value are kept exactly; everything after `value_preview` is parsed or derived from them.
CREATE TABLE records (
    topic              VARCHAR NOT NULL,
    "partition"        INTEGER NOT NULL,
    "offset"           BIGINT NOT NULL,
    kafka_timestamp    TIMESTAMPTZ,          -- the record's Kafka timestamp
    timestamp_type     VARCHAR,              -- 'create' or 'log_append'
    "key"              BLOB,
    headers            STRUCT("key" VARCHAR, "value" BLOB)[],
    -- NULL for a tombstone. zstd: DLQ values are repetitive JSON and shrink about tenfold.
    "value"            BLOB USING COMPRESSION zstd,
    value_size         INTEGER,
    value_preview      VARCHAR,              -- bounded and printable, for unparseable values
    parse_error        VARCHAR,              -- why the value is not a readable DLQ record
    parse_warnings     VARCHAR[],            -- readable, but something is off
    record_format      VARCHAR NOT NULL,     -- pipeline, kafka-connect, spring-kafka, ...
    trace_id           VARCHAR,
    attachment_url     VARCHAR,
    retry_count        INTEGER,
    error_category     VARCHAR,              -- lower case
    error_message      VARCHAR,              -- NULL: no error text recorded
    error_source       VARCHAR,              -- where error_message was found
    failed_at          TIMESTAMPTZ,          -- original_task stays in `value`: no second copy
    event_type         VARCHAR,
    event_subtype      VARCHAR,
    file_type          VARCHAR,
    assignment_id      VARCHAR,              -- the claim; the task's other fields stay in `value`
    "domain"           VARCHAR,
    error_signature    VARCHAR,              -- error text with numbers, ids, URLs, paths stripped
    origin_topic       VARCHAR,              -- from other DLQ conventions' headers
    origin_partition   INTEGER,
    origin_offset      BIGINT,
    exception_class    VARCHAR,
    ingest_run_id      BIGINT NOT NULL,
    ingested_at        TIMESTAMPTZ NOT NULL,
    gone_from_kafka_at TIMESTAMPTZ,          -- set when retention deleted it from the topic
    PRIMARY KEY (topic, "partition", "offset")
);

-- Where the next ingest resumes, per partition; written in the same transaction as the rows.
CREATE TABLE ingest_positions (
    topic       VARCHAR NOT NULL,
    "partition" INTEGER NOT NULL,
    next_offset BIGINT NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (topic, "partition")
);

CREATE SEQUENCE ingest_run_ids START 1;

CREATE TABLE ingest_runs (
    run_id              BIGINT PRIMARY KEY,
    topic               VARCHAR NOT NULL,
    started_at          TIMESTAMPTZ NOT NULL,
    finished_at         TIMESTAMPTZ,
    status              VARCHAR NOT NULL,    -- running, ok, failed, interrupted
    pid                 INTEGER NOT NULL,    -- lets a later run tell a killed run from a live one
    host                VARCHAR NOT NULL,
    records_ingested    BIGINT NOT NULL DEFAULT 0,
    records_unparseable BIGINT NOT NULL DEFAULT 0,
    records_missed      BIGINT NOT NULL DEFAULT 0,  -- deleted by retention before first seen
    records_marked_gone BIGINT NOT NULL DEFAULT 0,
    error               VARCHAR
);

-- Per run and partition: Kafka's watermarks and the review group's committed offset, so DLQ
-- size, unresolved count and growth can be charted over time.
CREATE TABLE partition_watermarks (
    run_id           BIGINT NOT NULL,
    taken_at         TIMESTAMPTZ NOT NULL,
    topic            VARCHAR NOT NULL,
    "partition"      INTEGER NOT NULL,
    low_offset       BIGINT NOT NULL,
    high_offset      BIGINT NOT NULL,
    committed_offset BIGINT,                 -- NULL: the review group never committed here
    PRIMARY KEY (run_id, topic, "partition")
);
"""

RESOLUTIONS = """
-- A record is resolved when it has a row here. `source` says how:
--   before-dashboard  already below the review group's committed offset when first ingested
--   review-group      the review group's committed offset passed it later (the runbook's CLI)
--   dashboard         resolved with the dashboard or `dlq resolve` (actor, reason, audit entry)
CREATE TABLE resolutions (
    topic       VARCHAR NOT NULL,
    "partition" INTEGER NOT NULL,
    "offset"    BIGINT NOT NULL,
    resolved_at TIMESTAMPTZ NOT NULL,
    source      VARCHAR NOT NULL,
    actor       VARCHAR,
    reason      VARCHAR,
    audit_id    BIGINT,
    PRIMARY KEY (topic, "partition", "offset")
);
"""

ACTIONS = """
-- Append-only and hash-chained: each entry's hash covers its fields and the previous
-- entry's hash, so a changed, removed or reordered entry breaks the chain (`dlq audit verify`).
CREATE TABLE audit_log (
    audit_id    BIGINT PRIMARY KEY,
    logged_at   TIMESTAMPTZ NOT NULL,
    action      VARCHAR NOT NULL,   -- view, list, replay, replay-with-new-url, resolve,
                                    -- bulk-start, bulk-finish, bulk-cancel
    actor       VARCHAR NOT NULL,
    trace_id    VARCHAR,
    topic       VARCHAR,
    "partition" INTEGER,
    "offset"    BIGINT,
    result      VARCHAR NOT NULL,   -- success, failure, refused, dry-run
    error       VARCHAR,
    reason      VARCHAR,
    bulk_id     VARCHAR,
    old_url     VARCHAR,
    new_url     VARCHAR,
    details     VARCHAR,            -- JSON: where a replay landed, a bulk's filter and counts
    prev_hash   VARCHAR NOT NULL,
    hash        VARCHAR NOT NULL
);

-- Each acknowledged replay of a DLQ record to the pending topic.
CREATE TABLE replays (
    topic             VARCHAR NOT NULL,
    "partition"       INTEGER NOT NULL,
    "offset"          BIGINT NOT NULL,
    replayed_at       TIMESTAMPTZ NOT NULL,
    trace_id          VARCHAR,
    actor             VARCHAR NOT NULL,
    audit_id          BIGINT NOT NULL,
    bulk_id           VARCHAR,
    pending_topic     VARCHAR NOT NULL,
    pending_partition INTEGER NOT NULL,
    pending_offset    BIGINT NOT NULL,
    new_url           VARCHAR,
    PRIMARY KEY (topic, "partition", "offset", replayed_at)
);

-- A record some process is acting on right now. Taken in one transaction with the checks
-- that the record may be acted on, so two operators never act on one record twice.
CREATE TABLE action_claims (
    topic       VARCHAR NOT NULL,
    "partition" INTEGER NOT NULL,
    "offset"    BIGINT NOT NULL,
    action      VARCHAR NOT NULL,
    actor       VARCHAR NOT NULL,
    claimed_at  TIMESTAMPTZ NOT NULL,
    token       VARCHAR NOT NULL,   -- one per claiming call: tells its claims from others'
    pid         INTEGER NOT NULL,   -- with host: lets a later run clear a dead process's claims
    host        VARCHAR NOT NULL,
    PRIMARY KEY (topic, "partition", "offset")
);

-- Outcomes from the results topic for trace ids the dashboard replayed.
CREATE TABLE replay_results (
    trace_id    VARCHAR NOT NULL,
    status      VARCHAR NOT NULL,
    result_at   TIMESTAMPTZ,
    topic       VARCHAR NOT NULL,
    "partition" INTEGER NOT NULL,
    "offset"    BIGINT NOT NULL,
    PRIMARY KEY (topic, "partition", "offset")
);
"""


def rebuild_table(migration_sql: str, table: str, old_column: str, new_column: str) -> str:
    """SQL that rebuilds `table`, as an earlier migration created it, with one part of its
    definition (a column's, a constraint) changed, keeping its rows and other constraints:
    DuckDB can change neither a column's compression nor a constraint in place. Derived
    from the released migration's text, which never changes."""
    found = re.search(rf"^CREATE TABLE {table} \(\n.*?^\);$", migration_sql, re.M | re.S)
    if found is None or found.group(0).count(old_column) != 1:
        raise ValueError(f"no single {old_column!r} in the CREATE TABLE {table} given")
    rebuilt = f"{table}_rebuilt"
    create = found.group(0).replace(f"CREATE TABLE {table} (", f"CREATE TABLE {rebuilt} (", 1)
    return (
        create.replace(old_column, new_column)
        + f"\nINSERT INTO {rebuilt} SELECT * FROM {table};"
        + f"\nDROP TABLE {table};"
        + f"\nALTER TABLE {rebuilt} RENAME TO {table};\n"
    )


# Presigned URLs are unique and long: DuckDB's own choice for them, dictionary plus FSST,
# compresses such strings poorly and costs the ingest writer more time than zstd, which
# stores them in about half the space and searches them as fast (docs/ingest-design.md).
# Rebuilds the table once, in time proportional to the snapshot.
RECORDS_URLS_ZSTD = rebuild_table(
    RECORDS,
    "records",
    "attachment_url     VARCHAR,",
    "attachment_url     VARCHAR USING COMPRESSION zstd,",
)

# The pipeline's other DLQs (dlq-other-formats.md): which shape a record was parsed as, and
# the fields only those shapes have. The envelope's original topic, partition, offset and
# error_type go into origin_topic, origin_partition, origin_offset and exception_class, beside
# the other conventions' headers. NULL dlq_format: a row from before, of the xact DLQ.
RECORDS_DLQ_FORMATS = """
ALTER TABLE records ADD COLUMN dlq_format VARCHAR;
ALTER TABLE records ADD COLUMN media_id VARCHAR;
ALTER TABLE records ADD COLUMN project_id VARCHAR;
ALTER TABLE records ADD COLUMN consumer_group VARCHAR;
ALTER TABLE records ADD COLUMN worker VARCHAR;
"""

# Each record's state, kept where it changes instead of derived per query
# (dashboard.adapters.record_states): 'open' unless resolved or replayed, so the back-fill
# derives it for the resolved and replayed records only.
RECORDS_KEPT_STATE = f"""
ALTER TABLE records ADD COLUMN state VARCHAR DEFAULT '{OPEN}';
ALTER TABLE records ADD COLUMN replay_outcome VARCHAR;
{
    refresh_sql(
        'SELECT topic, "partition", "offset" FROM resolutions '
        'UNION SELECT topic, "partition", "offset" FROM replays'
    )
};
"""

# Each record's URL folder, kept for the reports' URL grouping (dashboard.adapters.url_folders):
# the ingest fills it as it inserts; the back-fill computes it once for the records before.
RECORDS_URL_FOLDER = f"""
{URL_FOLDER_MACROS}
ALTER TABLE records ADD COLUMN url_folder VARCHAR;
UPDATE records SET url_folder = dlq_url_folder(attachment_url) WHERE attachment_url IS NOT NULL;
"""

# Which records share their trace id with another (dashboard.adapters.trace_landings): the
# escalation's replay failures, kept by the ingest instead of grouping every trace id.
RECORDS_TRACE_LANDINGS = f"""
ALTER TABLE records ADD COLUMN trace_hash UBIGINT;
ALTER TABLE records ADD COLUMN trace_repeated BOOLEAN DEFAULT false;
UPDATE records SET trace_hash = {
    TRACE_HASH_SQL.format(parse_error="parse_error", trace_id="trace_id")
};
{MARK_ALL_SQL};
"""


# The columns migrations 0005-0008 added to `records` (at the end, in this order).
_RECORDS_COLUMNS_ADDED = f"""    dlq_format         VARCHAR,
    media_id           VARCHAR,
    project_id         VARCHAR,
    consumer_group     VARCHAR,
    worker             VARCHAR,
    state              VARCHAR DEFAULT '{OPEN}',
    replay_outcome     VARCHAR,
    url_folder         VARCHAR,
    trace_hash         UBIGINT,
    trace_repeated     BOOLEAN DEFAULT false
"""

# Records without their primary key. DuckDB keeps a primary key's index whole in memory and
# updates it with every insert: the ingest's memory and its writer's time grew with the
# snapshot. A record is still stored once: the ingest skips rows below the partition's
# stored position, read and advanced in the same transaction as the insert (ingest.store).
# Rebuilds the table once (DuckDB cannot drop a constraint) with every column as migrations
# 0004-0008 left it (defaults and compression), copying the rows in their order.
RECORDS_WITHOUT_PRIMARY_KEY = "SET preserve_insertion_order = true;\n" + rebuild_table(
    RECORDS,
    "records",
    '    PRIMARY KEY (topic, "partition", "offset")\n',
    _RECORDS_COLUMNS_ADDED,
).replace("attachment_url     VARCHAR,", "attachment_url     VARCHAR USING COMPRESSION zstd,", 1)

# Each record's failure pair as one hash (dashboard.adapters.failure_pairs): the burst scan's
# key, kept by the ingest instead of hashing three text columns of every record per scan.
RECORDS_PAIR_HASH = f"""
ALTER TABLE records ADD COLUMN pair_hash UBIGINT;
UPDATE records SET pair_hash = {RECORD_PAIR_HASH_SQL};
"""

# Records per failure pair and minute (dashboard.adapters.pair_minutes): the burst scan over
# every record of a span reads these counts instead of grouping the span's records again.
PAIR_MINUTES = PAIR_MINUTES_BACKFILL

# Where the ingest notes records whose trace landings it checks once per hold of the file,
# not per transaction (dashboard.adapters.trace_landings): empty until an ingest writes.
TRACE_LANDINGS_UNCHECKED = UNCHECKED_TABLE_SQL

# A claim keeps its request's reason (masked, as the request holds it): a replay found sent
# after its process died is audited with the reason it was sent for (actions.interrupted),
# not without one. NULL in the claims of an earlier version.
ACTION_CLAIMS_REASON = "ALTER TABLE action_claims ADD COLUMN reason VARCHAR;\n"

MIGRATIONS: tuple[Migration, ...] = (
    Migration("0001_records_and_ingest_state", RECORDS),
    Migration("0002_resolutions", RESOLUTIONS),
    Migration("0003_audit_replays_claims", ACTIONS),
    Migration("0004_records_attachment_url_zstd", RECORDS_URLS_ZSTD),
    Migration("0005_records_dlq_formats", RECORDS_DLQ_FORMATS),
    Migration("0006_records_kept_state", RECORDS_KEPT_STATE),
    Migration("0007_records_url_folder", RECORDS_URL_FOLDER),
    Migration("0008_records_trace_landings", RECORDS_TRACE_LANDINGS),
    Migration("0009_records_without_primary_key", RECORDS_WITHOUT_PRIMARY_KEY),
    Migration("0010_records_pair_hash", RECORDS_PAIR_HASH),
    Migration("0011_pair_minutes", PAIR_MINUTES),
    Migration("0012_trace_landings_unchecked", TRACE_LANDINGS_UNCHECKED),
    Migration("0013_action_claims_reason", ACTION_CLAIMS_REASON),
)

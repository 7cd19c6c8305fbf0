"""Records per failure pair and minute, kept as the ingest adds records: what the burst scan
counts when it looks at every record of a span (the escalation's incident window), instead
of grouping every record of the span again.

`pair_minutes` holds, for each ingest transaction, one row per (topic, pair hash, minute of
`kafka_timestamp`) of the records it inserted, with their count and one of them (the
smallest (partition, offset)) to name the pair by. Rows are only added: a pair's minute may
have several rows (records of one minute ingested by different transactions), summed when
read. Records are never deleted from the snapshot (retention only flags them), so the sums
equal a count over the records; `DERIVED_SQL` computes that count for the test that says so.
Records without a Kafka timestamp have no minute and are left out, as the burst scan leaves
them out.

The pair hash is the one `records.pair_hash` keeps (dashboard.adapters.failure_pairs).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from dashboard.adapters.failure_pairs import RECORD_PAIR_HASH_SQL

if TYPE_CHECKING:  # db imports the migrations, which import this module
    from dashboard.adapters.db import Connection

# Epoch minute of a timestamp (floor, also before 1970): the burst scan's minute.
MINUTE_SQL: Final = "floor(epoch_us({timestamp}) / 60000000)::BIGINT"

TABLE_SQL: Final = """
CREATE TABLE pair_minutes (
    topic       VARCHAR NOT NULL,
    pair_hash   UBIGINT NOT NULL,
    minute      BIGINT NOT NULL,          -- epoch minute of kafka_timestamp
    records     BIGINT NOT NULL,
    sample      STRUCT("partition" INTEGER, "offset" BIGINT) NOT NULL
);
"""

_SAMPLE_SQL: Final = "min({'partition': \"partition\", 'offset': \"offset\"})"


def counts_sql(pair_hash: str) -> str:
    """Every record's counts, from `records`, with the pair hash `pair_hash` gives."""
    return f"""
SELECT topic, {pair_hash} AS pair_hash,
       {MINUTE_SQL.format(timestamp="kafka_timestamp")} AS minute,
       count(*) AS records, {_SAMPLE_SQL} AS sample
FROM records WHERE kafka_timestamp IS NOT NULL
GROUP BY ALL
"""


# The tests' derivation hashes every record's columns again; the back-fill reads the hash
# migration 0010 kept.
DERIVED_SQL: Final = counts_sql(RECORD_PAIR_HASH_SQL)
BACKFILL_SQL: Final = f"{TABLE_SQL}\nINSERT INTO pair_minutes {counts_sql('pair_hash')};\n"


def after_ingest(con: Connection, new_rows: str) -> None:
    """Within the ingest's transaction: count the records of `new_rows` (a relation of the
    rows being inserted, with their `pair_hash`) per pair and minute."""
    con.execute(
        f"""
        INSERT INTO pair_minutes
        SELECT topic, pair_hash, {MINUTE_SQL.format(timestamp="kafka_timestamp")} AS minute,
               count(*), {_SAMPLE_SQL}
        FROM {new_rows} WHERE kafka_timestamp IS NOT NULL
        GROUP BY ALL
        """
    )

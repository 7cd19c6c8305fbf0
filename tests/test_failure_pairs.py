"""Each record's failure pair hash (dashboard.adapters.failure_pairs): kept by the ingest and
by migration 0010, equal to the hash derived from the record's columns, and one key per
pair: the burst scan's grouping is the grouping on the pair's own values."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from dashboard.adapters import failure_pairs
from dashboard.adapters.db import Database
from tests.snapshots import demo_records, write_snapshot
from tests.test_schema_migrations import as_released_before

# The pair as the burst scan has always defined it: the signature, or the category of a
# record without error text, and the domain (NULL and '' alike).
PAIR = (
    "error_signature, CASE WHEN error_signature IS NULL THEN coalesce(error_category, '') END, "
    "coalesce(\"domain\", '')"
)


def test_the_ingest_keeps_every_records_hash_and_one_hash_per_pair(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    records = demo_records(4_000)  # bursts, unparseable records, records without error text
    write_snapshot(path, records[:2_500])
    write_snapshot(path, records[2_500:])
    with Database(path).read() as con:
        derived = con.execute(
            f"SELECT count(*) FROM records WHERE pair_hash IS DISTINCT FROM "
            f"{failure_pairs.RECORD_PAIR_HASH_SQL}"
        ).fetchone()
        per_pair, per_hash, unparseable, without_text = con.execute(
            f"SELECT count(DISTINCT ({PAIR})), count(DISTINCT pair_hash), "
            "count(*) FILTER (WHERE parse_error IS NOT NULL), "
            "count(*) FILTER (WHERE error_signature IS NULL) FROM records"
        ).fetchone() or (0, 0, 0, 0)
        # No hash is shared by two pairs, and no pair has two hashes.
        mixed = con.execute(
            f"SELECT pair_hash FROM records GROUP BY pair_hash HAVING count(DISTINCT ({PAIR})) > 1 "
            f"UNION ALL SELECT NULL FROM records GROUP BY {PAIR} "
            "HAVING count(DISTINCT pair_hash) > 1"
        ).fetchall()
    assert derived == (0,)
    assert mixed == []
    assert per_pair == per_hash > 10
    assert unparseable > 0 and without_text > 0  # the cases worth keying are there


def test_parts_cannot_run_into_each_other() -> None:
    # Texts that concatenate alike, a signature equal to a category, NULL and '' (one pair
    # for the category and the domain, as the scan counts them).
    rows = [
        ("ab", None, "c"),
        ("a", None, "bc"),
        (None, "ab", "c"),
        (None, "a", "bc"),
        ("x", None, "d"),
        (None, "x", "d"),
        (None, None, "d"),
        (None, "", "d"),
        (None, "", None),
        (None, "", ""),
        ("é😀\x00", "ignored", "d"),
        ("é😀\x00", "other", "d"),
    ]
    sql = failure_pairs.pair_hash_sql("s", "c", "d")
    with duckdb.connect() as con:
        hashes = [
            con.execute(
                f"SELECT {sql} FROM (SELECT ?::VARCHAR s, ?::VARCHAR c, ?::VARCHAR d)", r
            ).fetchone()[0]  # type: ignore[index]
            for r in rows
        ]
    assert len(set(hashes[:6])) == 6
    assert hashes[6] == hashes[7]  # NULL category and '' are one pair
    assert hashes[8] == hashes[9]  # NULL domain and '' are one pair
    assert hashes[10] == hashes[11]  # with error text, the category is not part of the pair
    assert all(isinstance(h, int) and 0 <= h < 2**64 for h in hashes)


def test_the_migration_keeps_what_the_ingest_would_have(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before, now = tmp_path / "before.duckdb", tmp_path / "now.duckdb"
    records = demo_records(3_000)
    with monkeypatch.context() as patched:
        as_released_before(patched, "0010_records_pair_hash")
        write_snapshot(before, records[:2_000])
        write_snapshot(before, records[2_000:])
    write_snapshot(now, records[:2_000])
    write_snapshot(now, records[2_000:])
    query = 'SELECT "partition", "offset", pair_hash FROM records ORDER BY ALL'
    with Database(before).write() as migrated:  # brings the file forward
        kept = migrated.execute(query).fetchall()
    with Database(now).read() as ingested:
        assert kept == ingested.execute(query).fetchall()
    assert all(h is not None for *_, h in kept)


def test_the_writers_arrow_hash_equals_the_sql_one_on_odd_text() -> None:
    texts = [None, "", "a", "ab", "é😀\x00", "x" * 5_000, "9:z", "s1:a", "\u200b", "tab\there"]
    rows = pa.table(
        {
            "error_signature": [s for s in texts for _ in texts for _ in (0, 1)],
            "error_category": [c for _ in texts for c in texts for _ in (0, 1)],
            "domain": [d for _ in texts for _ in texts for d in (None, "files.example.com")],
        }
    )
    sql = failure_pairs.pair_hash_sql("error_signature", "error_category", "domain")
    with duckdb.connect() as con:
        con.register("batch", rows)
        expected = [h for (h,) in con.execute(f"SELECT {sql} FROM batch").fetchall()]
    assert failure_pairs.pair_hashes(rows).to_pylist() == expected
    # A batch as the parse hands it over: in chunks, each with dictionaries of its own.
    chunked = pa.Table.from_batches(rows.to_batches(max_chunksize=7))
    assert chunked["domain"].num_chunks > 1
    assert failure_pairs.pair_hashes(chunked).to_pylist() == expected
    assert failure_pairs.pair_hashes(rows.slice(0, 0)).to_pylist() == []
    # Pairs: 9 texts x 2 domains, and without text 9 categories (NULL and '' are one) x 2.
    assert len(set(expected)) == 36

"""Each record's failure pair, kept as a hash: the burst scan's key.

A burst is a (signature, domain) pair, or a (category, domain) pair for records without
error text, with many records within a few minutes (dashboard.triage.patterns.bursts).
Hashing three text columns of every record in the selection per scan grows with the
snapshot; `records.pair_hash` holds the hash, computed by the ingest on each batch before
the insert (ingest.store.KEPT_FROM_BATCH, `pair_hashes`) and back-filled once by migration
0010 (`RECORD_PAIR_HASH_SQL`), so the scan reads one fixed-width column.

The hash is MD5's (its upper 64 bits), not DuckDB's own `hash`, which may change between
versions: a pair's records hashed by one version must share the key with those the next
one hashes. The parts are length-prefixed, so no two different pairs hash the same text; a
64-bit collision would merge two pairs' counts (odds of about n^2 / 2^65 for n pairs).
"""

from __future__ import annotations

import hashlib
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc

# The back-fill's expression and the tests' derivation (`pair_hashes` equals it). A record without
# error text is keyed on its category (NULL and '' alike), one with text on the text alone:
# a signature already names the failure, whatever category a pipeline version gave it.
# A NULL domain and an empty one are one pair, as the burst scan has always counted them.
PAIR_HASH_SQL: Final = (
    "(md5_number(concat("
    "CASE WHEN {signature} IS NULL "
    "THEN 'c' || length(coalesce({category}, '')) || ':' || coalesce({category}, '') "
    "ELSE 's' || length({signature}) || ':' || {signature} END, "
    "coalesce({domain}, ''))) >> 64)::UBIGINT"
)


def pair_hash_sql(signature: str, category: str, domain: str) -> str:
    """PAIR_HASH_SQL over the given column expressions."""
    return PAIR_HASH_SQL.format(signature=signature, category=category, domain=domain)


# Over a `records` row: the back-fill and the tests' derivation.
RECORD_PAIR_HASH_SQL: Final = pair_hash_sql("error_signature", "error_category", '"domain"')


def pair_hashes(rows: pa.Table) -> pa.Array:
    """PAIR_HASH_SQL's value for each of `rows` (with error_signature, error_category and
    domain columns), computed in Arrow: the text hashed is built per row, MD5 runs once per
    distinct text (a batch holds few pairs). Equal to the SQL's (tests/test_failure_pairs.py)."""
    signature = rows["error_signature"]
    category = pc.fill_null(rows["error_category"], "")
    with_text = _length_prefixed("s", signature)  # NULL where there is no error text
    without_text = _length_prefixed("c", category)
    text = pc.binary_join_element_wise(
        pc.coalesce(with_text, without_text), pc.fill_null(rows["domain"], ""), ""
    )
    encoded = pc.dictionary_encode(text).combine_chunks()
    # md5_number's upper 64 bits are the digest's last eight bytes, little-endian.
    distinct = [
        int.from_bytes(hashlib.md5(value.encode(), usedforsecurity=False).digest()[8:], "little")
        for value in encoded.dictionary.to_pylist()
    ]
    return pa.array(distinct, pa.uint64()).take(encoded.indices)


def _length_prefixed(tag: str, values: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray:
    """tag || length(value) || ':' || value, as the SQL builds it (length in characters)."""
    length = pc.cast(pc.utf8_length(values), pa.string())
    return pc.binary_join_element_wise(tag, length, ":", values, "")

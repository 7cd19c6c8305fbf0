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

import numpy as np
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
    domain columns), computed in Arrow and numpy: the distinct (signature, category,
    domain) triples are found from each column's dictionary indices, and the text is built
    and hashed once per triple (a batch holds few pairs), not once per row. Equal to the
    SQL's (tests/test_failure_pairs.py)."""
    dictionaries: list[list[str | None]] = []
    key = np.zeros(rows.num_rows, dtype=np.int64)
    sizes: list[int] = []
    for name in ("error_signature", "error_category", "domain"):
        column = rows[name].combine_chunks().cast(pa.string())
        # NULL gets an index of its own, so every row has one.
        encoded = pc.dictionary_encode(column, null_encoding="encode")
        values = encoded.dictionary.to_pylist()
        indices = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        size = max(len(values), 1)
        # One number per triple: the indices as the digits of a mixed-radix number (at most
        # a batch's rows per digit, so three fit in 64 bits for any batch under two million).
        key = key * size + indices
        dictionaries.append(values)
        sizes.append(size)
    triples, position = np.unique(key, return_inverse=True)
    signatures, categories, domains = dictionaries
    hashes = []
    for triple in triples.tolist():
        triple, domain_index = divmod(triple, sizes[2])
        signature_index, category_index = divmod(triple, sizes[1])
        hashes.append(
            _hash(
                signatures[signature_index],
                categories[category_index],
                domains[domain_index],
            )
        )
    return pa.array(hashes, pa.uint64()).take(pa.array(position.reshape(-1)))


def _hash(signature: str | None, category: str | None, domain: str | None) -> int:
    """PAIR_HASH_SQL's value for one pair (length in characters, as DuckDB counts them)."""
    if signature is None:
        category = category or ""
        text = f"c{len(category)}:{category}"
    else:
        text = f"s{len(signature)}:{signature}"
    text += domain or ""
    # md5_number's upper 64 bits are the digest's last eight bytes, little-endian.
    digest = hashlib.md5(text.encode(), usedforsecurity=False).digest()
    return int.from_bytes(digest[8:], "little")

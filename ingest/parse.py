"""From Kafka records to `records` rows: staging in Arrow, parsing in DuckDB SQL.

Python only moves each record's raw parts (partition, offset, timestamp, key, value, headers)
into Arrow columns; `parse.sql` does the parsing, vectorised, on a DuckDB of its own
(`BatchParser`), so the ingest job parses one batch while the previous one is written. The
raw key, headers and value (most of a batch's bytes) are not copied through the parse: the
parse result takes the staged batch's own Arrow columns for them (`with_raw_columns`). The
same SQL serves the ingest job and the tests (`parse_raw_records`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dashboard.adapters.db import Connection, register, scratch_connection
from dashboard.adapters.kafka import Message
from ingest.prepared import PreparedSelect
from ingest.sql_macros import expanded, macros_of

HEADER_TYPE = pa.struct([("key", pa.string()), ("value", pa.large_binary())])

STAGED_SCHEMA = pa.schema(
    [
        ("topic", pa.string()),
        ("partition", pa.int32()),
        ("offset", pa.int64()),
        ("timestamp_type", pa.int8()),  # librdkafka: 0 none, 1 create time, 2 log append time
        ("timestamp_ms", pa.int64()),
        ("key", pa.large_binary()),  # large_: a batch of huge values may pass 2 GiB
        ("value", pa.large_binary()),
        ("headers", pa.list_(HEADER_TYPE)),
        # The value's own bytes read as text (no copy), NULL where they are not UTF-8: see
        # `value_columns`.
        ("text", pa.large_string()),
    ]
)


@dataclass(frozen=True)
class RawRecord:
    """A Kafka record's raw parts, for parsing records that did not come from a consumer
    (tests, snapshots built without Kafka)."""

    partition: int
    offset: int
    value: bytes | None
    key: bytes | None = None
    headers: Sequence[tuple[str, bytes | None]] = field(default_factory=tuple)
    timestamp_ms: int | None = None
    timestamp_type: int = 1
    topic: str = "xact.downloads.dlq"


@cache
def _sql(name: str) -> str:
    return resources.files("ingest").joinpath(name).read_text(encoding="utf-8")


def parse_select_sql() -> str:
    """The SELECT that turns the relation `dlq_input` (a staged batch, numbered: see
    `numbered`) into parsed record columns, in that order, with NULL where the raw key,
    headers, value and error signature go, and `staged_row` last. It calls the macros of
    `install_macros`."""
    return _sql("parse.sql")


def signatures_sql() -> str:
    """The SELECT that turns the relation `dlq_input` (column `message`) into one error
    signature each, in order. It calls the macros of `install_macros`.

    One signature per distinct message of a batch: a batch repeats few distinct texts, and
    the signature's regular expressions are among the parse's costliest steps. The
    signatures go back to the rows in Arrow, because a join would lose the rows' order and
    restoring it takes a sort."""
    return _sql("signatures.sql")


RAW_COLUMNS = ("key", "headers", "value")

# The shape of a topic no setting names: today's DLQ's (which also reads other producers'
# header conventions).
DEFAULT_FORMAT = "xact-download"

# Topic -> the DLQ format its settings give (dashboard.settings.DLQ_FORMATS).
Formats = Mapping[str, str]


def format_column(topics: pa.ChunkedArray | pa.Array, formats: Formats | None) -> pa.Array:
    """Each row's DLQ format, from its topic."""
    if not formats:
        return pa.repeat(DEFAULT_FORMAT, len(topics)).cast(pa.string())
    names = list(formats)
    looked_up = pa.array([formats[name] for name in names], pa.string()).take(
        pc.index_in(topics, value_set=pa.array(names, pa.string()))
    )
    return pc.fill_null(looked_up, DEFAULT_FORMAT)


# Rows per Arrow chunk handed to the parse. DuckDB scans an Arrow chunk into vectors no
# longer than the chunk, and its JSON functions hold the parsed documents of a whole vector
# at once (several times the value's size), so the chunk bounds that memory; much smaller
# chunks pay DuckDB's fixed cost per vector too often (docs/ingest-design.md).
PARSE_CHUNK_ROWS = 1_024


def with_raw_columns(parsed: pa.Table, staged: pa.Table) -> pa.Table:
    """`records` rows (ingest columns aside): the parse result, with the staged batch's raw
    key, headers and value in place of its NULL placeholders, and `staged_row` dropped.
    Zero-copy: the parse returns its rows in staged order, so row i of one is row i of the
    other (checked: a row given another record's value would be silent corruption)."""
    if parsed.num_rows != staged.num_rows:
        raise ValueError(f"{parsed.num_rows} parsed rows for {staged.num_rows} staged")
    order = parsed["staged_row"].to_numpy()
    if not np.array_equal(order, np.arange(parsed.num_rows)):
        raise ValueError("the parse returned its rows out of the staged order")
    parsed = parsed.drop_columns(["staged_row"])
    for name in RAW_COLUMNS:
        parsed = parsed.set_column(
            parsed.schema.get_field_index(name), staged.schema.field(name), staged[name]
        )
    return parsed


# A failed_at later than this after the parse is "in the future" (a parse warning).
FUTURE_TOLERANCE = timedelta(minutes=5)


def numbered(staged: pa.Table) -> pa.Table:
    """`staged` with `staged_row`, each row's position: the parse returns rows in this order."""
    rows = pa.array(np.arange(staged.num_rows, dtype=np.int64))
    return staged.append_column("staged_row", rows)


def parse_input(staged: pa.Table, formats: Formats | None) -> pa.Table:
    """The relation parse.sql reads: `staged` numbered, with each row's DLQ format and the
    moment after which a failed_at is in the future, re-cut into PARSE_CHUNK_ROWS chunks."""
    # Numbered first, so the order check in with_raw_columns covers the re-cut too
    # (zero-copy slices).
    rows = numbered(staged)
    rows = rows.append_column("dlq_format", format_column(rows["topic"], formats))
    future = pa.scalar(datetime.now(UTC) + FUTURE_TOLERANCE, pa.timestamp("us", "UTC"))
    rows = rows.append_column("future_from", pa.repeat(future, rows.num_rows))
    return pa.Table.from_batches(rows.to_batches(PARSE_CHUNK_ROWS), rows.schema)


def install_macros(con: Connection) -> None:
    """The macros parse.sql and signatures.sql call, as temporary macros on `con` (the
    parser itself writes them into its queries instead: see ingest.sql_macros)."""
    con.execute(_sql("macros.sql"))


@cache
def prepared_sql(sql: str) -> str:
    """`sql` with the macros of `install_macros` written in."""
    return expanded(sql, macros_of(_sql("macros.sql")))


class BatchParser:
    """Parses staged batches into `records` rows (as Arrow, ingest columns aside).

    The ingest job gives it no connection: it parses on an in-memory DuckDB of its own (one
    thread), so the reading thread parses one transaction while the writer thread writes the
    previous one to the file. Given a connection, it parses there, and the connection stays
    the caller's."""

    def __init__(self, con: Connection | None = None, formats: Formats | None = None) -> None:
        self._formats = dict(formats or {})
        self._own = con is None
        self._con = con
        self._query: PreparedSelect | None = None
        self._signatures: PreparedSelect | None = None

    def parse(self, staged: pa.Table) -> pa.Table:
        if self._query is None or self._signatures is None:
            if self._con is None:
                self._con = scratch_connection(threads=1)
            # Prepared once and run for every batch.
            self._query = PreparedSelect(self._con, prepared_sql(parse_select_sql()))
            self._signatures = PreparedSelect(self._con, prepared_sql(signatures_sql()))
        parsed = self._query.run(parse_input(staged, self._formats))
        return with_raw_columns(self._with_signatures(self._signatures, parsed), staged)

    def _with_signatures(self, signatures_of: PreparedSelect, parsed: pa.Table) -> pa.Table:
        """`parsed` with its error_signature column filled in, from one signature per
        distinct error message."""
        messages = parsed["error_message"]
        distinct = pc.unique(messages).drop_null()
        signatures = signatures_of.run(pa.table({"message": distinct}))["signature"]
        # Row i of `signatures` is distinct[i]'s (a projection keeps its input's order).
        column = signatures.take(pc.index_in(messages, value_set=distinct))
        index = parsed.schema.get_field_index("error_signature")
        return parsed.set_column(index, parsed.schema.field(index), column)

    def close(self) -> None:
        if not self._own:
            # The connection stays the caller's; the statements prepared on it go.
            for prepared in (self._query, self._signatures):
                if prepared is not None:
                    prepared.close()
        self._query = None
        self._signatures = None
        if self._own and self._con is not None:
            self._con.close()
        self._con = None

    def __enter__(self) -> BatchParser:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def stage_messages(messages: Sequence[Message]) -> pa.Table:
    """Arrow columns of the raw parts of consumed messages, in STAGED_SCHEMA.

    This runs for every record the ingest job reads, so it makes one pass per column with
    the cheapest conversion pyarrow offers (see `binary_array`).
    """
    stamps = [m.timestamp() for m in messages]
    topics = {m.topic() for m in messages}
    topic_column: pa.Array
    if len(topics) == 1:
        topic_column = pa.repeat(topics.pop(), len(messages)).cast(pa.string())
    else:
        topic_column = pa.array([m.topic() for m in messages], pa.string())
    value, text = value_columns([m.value() for m in messages])
    return pa.table(
        [
            topic_column,
            pa.array([m.partition() for m in messages], pa.int32()),
            pa.array([m.offset() for m in messages], pa.int64()),
            pa.array([kind for kind, _ in stamps], pa.int8()),
            pa.array([ms if kind else None for kind, ms in stamps], pa.int64()),
            # Keys are short: pa.array() converts them faster than a joined buffer would.
            pa.array([m.key() for m in messages], pa.large_binary()),
            value,
            pa.array([m.headers() for m in messages], pa.list_(HEADER_TYPE)),
            text,
        ],
        schema=STAGED_SCHEMA,
    )


def binary_array(items: Sequence[bytes | None]) -> pa.Array:
    """A large_binary Arrow array built from one joined buffer, rather than pa.array() on a
    list of bytes, which copies and checks element by element."""
    count = len(items)
    # Without a NULL (the usual batch), C-level len and join do it all.
    has_null = None in items
    present = cast(Sequence[bytes], items)
    if has_null:
        present = [item for item in items if item is not None]
    lengths = map(_len_or_zero, items) if has_null else map(len, present)
    offsets = np.zeros(count + 1, dtype=np.int64)
    np.cumsum(np.fromiter(lengths, np.int64, count), out=offsets[1:])
    data = b"".join(present)
    validity = None
    if has_null:
        # A BooleanArray's data buffer is a bitmap with 1 for True: the validity bitmap.
        validity = pa.array([item is not None for item in items], pa.bool_()).buffers()[1]
    return pa.Array.from_buffers(
        pa.large_binary(), count, [validity, pa.py_buffer(offsets), pa.py_buffer(data)]
    )


def _len_or_zero(item: bytes | None) -> int:
    return 0 if item is None else len(item)


# Rows checked at once by Arrow when a batch holds a value that is not UTF-8.
UTF8_CHECK_ROWS = 256


def value_columns(values: Sequence[bytes | None]) -> tuple[pa.Array, pa.Array]:
    """The values as large_binary, and the same buffers as large_string, NULL where a value
    is not UTF-8 (or is NULL).

    The parse reads values as text; DuckDB's decode() would check and copy every value (a
    second copy of each transaction's values in fresh memory). Here the check is Arrow's
    over the whole column, and where that fails, over each UTF8_CHECK_ROWS rows, and only
    in the rows that fail Python's per value: `isascii()`, then a strict decode. DuckDB
    must never be handed a VARCHAR that is not UTF-8, and Python's decoder is the strict one
    (it refuses surrogates and overlong forms)."""
    binary = binary_array(values)
    validity, offsets, data = binary.buffers()
    text = pa.Array.from_buffers(pa.large_string(), len(binary), [validity, offsets, data])
    try:
        # Arrow's check of the whole column at once, as strict as Python's decoder (it
        # refuses surrogates, overlong forms and code points past U+10FFFF too): the usual
        # batch is all UTF-8, and only rows near an exception are checked value by value.
        text.validate(full=True)
    except pa.ArrowInvalid:
        readable = binary.is_valid().to_numpy(zero_copy_only=False, writable=True)
        for start in range(0, len(values), UTF8_CHECK_ROWS):
            try:
                text.slice(start, UTF8_CHECK_ROWS).validate(full=True)
            except pa.ArrowInvalid:
                for i in range(start, min(start + UTF8_CHECK_ROWS, len(values))):
                    value = values[i]
                    if value is not None and not (value.isascii() or _is_utf8(value)):
                        readable[i] = False
        validity = pa.array(readable, pa.bool_()).buffers()[1]
        text = pa.Array.from_buffers(pa.large_string(), len(binary), [validity, offsets, data])
    return binary, text


def _is_utf8(item: bytes) -> bool:
    try:
        item.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def stage_raw(records: Iterable[RawRecord]) -> pa.Table:
    rows = list(records)
    value, text = value_columns([r.value for r in rows])
    return pa.table(
        [
            [r.topic for r in rows],
            [r.partition for r in rows],
            [r.offset for r in rows],
            [r.timestamp_type if r.timestamp_ms is not None else 0 for r in rows],
            [r.timestamp_ms for r in rows],
            [r.key for r in rows],
            value,
            [list(r.headers) for r in rows],
            text,
        ],
        schema=STAGED_SCHEMA,
    )


def parse_raw_records(
    con: Connection, records: Iterable[RawRecord], formats: Formats | None = None
) -> list[dict[str, Any]]:
    """Parse records on `con` (an in-memory DuckDB will do) and return the rows as dicts."""
    register(con, "parsed", BatchParser(con, formats).parse(stage_raw(records)))
    try:
        cursor = con.execute('SELECT * FROM parsed ORDER BY "partition", "offset"')
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        con.unregister("parsed")

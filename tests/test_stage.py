"""Staging consumed messages into Arrow (ingest.parse.stage_messages) takes shortcuts for
speed (one joined buffer for the values, Arrow's UTF-8 check over runs of rows): the columns
must be exactly pyarrow's plain conversion of every message, and a value is text exactly
where Python's strict decoder reads it."""

from __future__ import annotations

import pyarrow as pa
from confluent_kafka import Message

from dashboard.devtools.demo_data import generate
from ingest.parse import HEADER_TYPE, STAGED_SCHEMA, UTF8_CHECK_ROWS, stage_messages

NOT_UTF8 = [
    b"\xff\xfe\x00garbage\x80\x81",
    b"\xed\xa0\x80 a surrogate",
    b"\xc0\xaf overlong",
    b"\xf4\x90\x80\x80 past U+10FFFF",
    b"cut \xe2\x82",
]


def _text(value: bytes | None) -> str | None:
    if value is None:
        return None
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return None


def plain(messages: list[Message]) -> pa.Table:
    stamps = [m.timestamp() for m in messages]
    return pa.table(
        [
            pa.array([m.topic() for m in messages], pa.string()),
            pa.array([m.partition() for m in messages], pa.int32()),
            pa.array([m.offset() for m in messages], pa.int64()),
            pa.array([kind for kind, _ in stamps], pa.int8()),
            pa.array([ms if kind else None for kind, ms in stamps], pa.int64()),
            pa.array([m.key() for m in messages], pa.large_binary()),
            pa.array([m.value() for m in messages], pa.large_binary()),
            pa.array([m.headers() for m in messages], pa.list_(HEADER_TYPE)),
            pa.array([_text(m.value()) for m in messages], pa.large_string()),
        ],
        schema=STAGED_SCHEMA,
    )


def messages(values: list[bytes | None], topic: str = "t") -> list[Message]:
    found = []
    for n, value in enumerate(values):
        headers: list[tuple[str, str | bytes | None]] | None = (
            None if n % 5 == 0 else [] if n % 5 == 1 else [("h", None), ("é", b"\xff")]
        )
        found.append(
            Message(
                topic=topic if n % 7 else "other",
                partition=n % 3,
                offset=n,
                key=None if n % 4 == 0 else b"\x00\xfe" if n % 4 == 1 else f"k{n}".encode(),
                value=value,
                headers=headers,
                timestamp=(n % 3, 1_764_000_000_000 + n),
            )
        )
    return found


def assert_staged_plainly(batch: list[Message]) -> None:
    staged = stage_messages(batch)
    expected = plain(batch)
    assert staged.schema == expected.schema
    for name in expected.column_names:
        assert staged[name].to_pylist() == expected[name].to_pylist(), name


def test_a_batch_of_demo_records_is_staged_as_plain_pyarrow_would() -> None:
    values = [r.value for r in generate(2_000, 3, seed=31)]
    assert_staged_plainly(messages(values))
    assert_staged_plainly(messages([v for v in values if v is not None], topic="one"))


def test_values_that_are_not_utf8_are_no_text_wherever_they_fall() -> None:
    size = 4 * UTF8_CHECK_ROWS + 3
    values: list[bytes | None] = [f'{{"n": {n}, "é": "ü"}}'.encode() for n in range(size)]
    places = [0, 5, UTF8_CHECK_ROWS - 1, UTF8_CHECK_ROWS, 2 * UTF8_CHECK_ROWS + 7, size - 1]
    for n, place in enumerate(places):
        values[place] = NOT_UTF8[n % len(NOT_UTF8)]
    values[3] = None
    values[UTF8_CHECK_ROWS + 1] = b""
    values[2 * UTF8_CHECK_ROWS] = b"x" * 3_000_000 + b"\xff"
    assert_staged_plainly(messages(values))
    assert_staged_plainly(messages([None, *NOT_UTF8]))
    assert_staged_plainly(messages([None]))

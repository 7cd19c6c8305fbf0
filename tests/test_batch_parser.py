"""The ingest job parses a batch apart from the snapshot (BatchParser) and writes it later;
the stored rows must be exactly those the parse SQL gives on the snapshot's own kind of
connection, whatever the bytes."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from dashboard.adapters import record_states
from dashboard.adapters.db import Database
from dashboard.devtools.demo_data import generate
from ingest import store
from ingest.parse import (
    PARSE_CHUNK_ROWS,
    BatchParser,
    RawRecord,
    numbered,
    parse_raw_records,
    stage_raw,
    with_raw_columns,
)
from tests.snapshots import TOPIC, add_replay, pipeline_record
from tests.test_kept_state import mismatches

NAIVE_FAILED_AT = "2026-11-20T10:00:00"
REPO = Path(__file__).resolve().parent.parent


def mixed_records() -> list[RawRecord]:
    demo = [
        RawRecord(i % 3, i // 3, r.value, r.key, tuple(r.headers or ()), r.timestamp_ms)
        for i, r in enumerate(generate(600, 3, seed=7))
    ]
    first = json.loads(next(r.value for r in demo if r.value and r.value.startswith(b"{")))
    naive = json.dumps({**first, "failed_at": NAIVE_FAILED_AT}).encode()
    odd: list[bytes | None] = [
        None,
        b"",
        b"\xff\xfe not utf-8",
        b"[1, 2]",
        b"{broken",
        b"x" * 3_000_000,
        naive,
    ]
    headers = (("__connect.errors.topic", b"orders"), ("__connect.errors.offset", b"12"))
    return demo + [
        RawRecord(3, n, value, b"k", headers if n % 2 else (), 1_764_000_000_000 + n)
        for n, value in enumerate(odd)
    ]


def stored_rows(db_path: Path) -> list[dict[str, Any]]:
    with Database(db_path).read() as con:
        cursor = con.execute(
            # Not parsed: written by the ingest (some computed as it inserts, see
            # ingest.store.KEPT_AT_INSERT) and kept by the actions and the ingest.
            "SELECT * EXCLUDE (ingest_run_id, ingested_at, gone_from_kafka_at, state, "
            "replay_outcome, url_folder, trace_hash, trace_repeated, pair_hash) FROM records "
            'ORDER BY "partition", "offset"'
        )
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def test_parsed_apart_and_stored_are_the_rows_of_the_parse_sql(tmp_path: Path) -> None:
    records = mixed_records()
    # Partitions interleaved in no order, as a consumer hands them over.
    random.Random(3).shuffle(records)
    # Several Arrow chunks, as the job hands them over.
    staged = pa.Table.from_batches(stage_raw(records).to_batches(max_chunksize=250))
    with Database(tmp_path / "reference.duckdb").write() as con:
        expected = parse_raw_records(con, records)
    with BatchParser() as parser:
        parsed = parser.parse(staged)
    apart = tmp_path / "apart.duckdb"
    with Database(apart).write() as con:
        run_id = store.start_run(con, TOPIC)
        result = store.write_parsed(con, run_id, TOPIC, parsed)
    assert result.inserted == len(records)
    got = stored_rows(apart)
    assert len(got) == len(records)
    assert got == expected
    # The raw parts are stored byte for byte, each with its own record (they go around the
    # parse and are joined back by position).
    sent = {(r.partition, r.offset): r for r in records}
    for row in got:
        record = sent[(row["partition"], row["offset"])]
        assert row["value"] == record.value
        assert row["key"] == record.key
        assert [(h["key"], h["value"]) for h in row["headers"]] == list(record.headers)
    # Read as UTC, as the snapshot's own connections read it, whatever the machine's zone.
    (naive,) = [r for r in got if (r["partition"], r["offset"]) == (3, 6)]
    assert naive["failed_at"].isoformat() == NAIVE_FAILED_AT + "+00:00"
    assert "failed_at has no UTC offset; read as UTC" in naive["parse_warnings"]


def test_rows_stored_already_are_skipped_when_parsed_apart(tmp_path: Path) -> None:
    records = [r for r in mixed_records() if r.partition == 0][:50]
    staged = stage_raw(records)
    with BatchParser() as parser:
        first, again = parser.parse(staged.slice(0, 30)), parser.parse(staged)
    with Database(tmp_path / "s.duckdb").write() as con:
        run_id = store.start_run(con, TOPIC)
        assert store.write_parsed(con, run_id, TOPIC, first).inserted == 30
        result = store.write_parsed(con, run_id, TOPIC, again)
        assert result.inserted == 20
        assert result.positions == {0: records[-1].offset + 1}
        assert con.execute("SELECT count(*) FROM records").fetchone() == (50,)


def test_a_naive_timestamp_is_read_as_utc_on_a_machine_in_another_zone() -> None:
    # In a process of its own: DuckDB takes the machine's zone when it first starts.
    script = (
        "import json; from ingest.parse import BatchParser, RawRecord, stage_raw\n"
        f"value = json.dumps({{'trace_id': 't', 'failed_at': '{NAIVE_FAILED_AT}'}}).encode()\n"
        "parser = BatchParser()\n"
        "print(parser.parse(stage_raw([RawRecord(0, 0, value)]))['failed_at'][0])\n"
    )
    env = {**os.environ, "TZ": "America/New_York", "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "2026-11-20 10:00:00+00:00"


def test_each_row_gets_the_signature_of_its_own_error_message() -> None:
    # Signatures are computed once per distinct message and mapped back to the rows: each
    # row's must be the one its message gets when parsed alone.
    messages = [
        "Connection timeout after 30s",
        "HTTP 404: Not Found",
        None,
        "Connection timeout after 45s",
        "   ",
        "HTTP 404: Not Found",
        "request id 34b530c3-5a9f-3154-3e99-9f91c9da80ee failed",
        "Connection timeout after 30s",
    ]
    records = [
        RawRecord(0, n, json.dumps({"trace_id": f"t{n}", "final_error": m}).encode())
        for n, m in enumerate(messages)
    ]
    with BatchParser() as parser:
        together = parser.parse(stage_raw(records))["error_signature"].to_pylist()
        alone = [parser.parse(stage_raw([r]))["error_signature"][0].as_py() for r in records]
    assert together == alone
    assert together[0] == together[3] == together[7] == "Connection timeout after <n>s"
    assert together[1] == together[5] != together[0]
    assert together[2] is None and together[4] is None


def test_the_parse_is_the_same_whatever_the_chunks_of_its_input() -> None:
    # The parse re-cuts its input into chunks of its own (ingest.parse.PARSE_CHUNK_ROWS),
    # and the raw columns go back by position: every record keeps its own bytes and fields
    # however the reader's batches fell (one large chunk, odd small ones, empty ones).
    records = [
        RawRecord(r.partition, r.offset + copy * 1_000, r.value, r.key, r.headers, r.timestamp_ms)
        for copy in range(3)
        for r in mixed_records()
    ]
    staged = stage_raw(records)
    one_chunk = staged.combine_chunks()
    sizes = [1, 0, 700, 7, PARSE_CHUNK_ROWS + 1]
    assert sum(sizes) < staged.num_rows
    pieces, start = [], 0
    for size in sizes:
        pieces.append(one_chunk.slice(start, size))
        start += size
    pieces.append(one_chunk.slice(start))
    odd_chunks = pa.concat_tables(pieces)
    assert odd_chunks.column("value").num_chunks == len(sizes) + 1
    with BatchParser() as parser:
        expected = parser.parse(one_chunk)
        got = parser.parse(odd_chunks)
    assert got.num_rows == staged.num_rows
    assert got.to_pylist() == expected.to_pylist()
    assert got["value"].to_pylist() == staged["value"].to_pylist()
    assert got["offset"].to_pylist() == staged["offset"].to_pylist()


def test_an_empty_batch_parses_to_no_rows_with_every_column() -> None:
    # The ingest job parses an empty batch when a transaction carries only partition ends.
    with BatchParser() as parser:
        some = parser.parse(stage_raw(mixed_records()[:3]))
        none = parser.parse(stage_raw([]))
    assert none.num_rows == 0
    assert none.schema == some.schema


def test_parse_rows_out_of_the_staged_order_are_refused() -> None:
    # The raw key, headers and value are put back by position: rows in another order would
    # give records each other's bytes, so that is an error, never a silent mix-up.
    staged = stage_raw(mixed_records()[:20])
    with BatchParser() as parser:
        parsed = parser.parse(staged)
    numbered_rows = numbered(staged)
    shuffled = parsed.append_column("staged_row", numbered_rows["staged_row"]).take(
        list(reversed(range(parsed.num_rows)))
    )
    with pytest.raises(ValueError, match="out of the staged order"):
        with_raw_columns(shuffled, staged)


def test_a_writer_session_skips_what_it_stored_and_sees_a_replayed_trace_id_return(
    tmp_path: Path,
) -> None:
    """One connection, several transactions (as the ingest's writer): the positions and the
    replayed trace ids it keeps between them give the same rows and states as reading the
    file each time."""
    at = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    first = [pipeline_record(0, i, at) for i in range(3)]
    returning = pipeline_record(0, 3, at + timedelta(minutes=5), trace_id="evt-0-1")
    unrelated = pipeline_record(0, 4, at + timedelta(minutes=5))
    db = Database(tmp_path / "s.duckdb")
    with BatchParser() as parser, db.write() as con:
        run_id = store.start_run(con, TOPIC)
        store.write_parsed(con, run_id, TOPIC, parser.parse(stage_raw(first)))
        add_replay(con, 0, 1, at + timedelta(minutes=1))
    with BatchParser() as parser, db.write() as con:
        session = store.prepare(con, TOPIC)
        assert session.positions == {0: 3}
        assert session.replayed_traces.to_pylist() == ["evt-0-1"]
        run_id = store.start_run(con, TOPIC)
        write = partial(store.write_parsed, con, run_id, TOPIC, session=session)
        # The whole partition again, then one record that does not bring the trace id back.
        assert write(parser.parse(stage_raw([*first, returning]))).inserted == 1
        assert session.positions == {0: 4}
        assert write(parser.parse(stage_raw([returning, unrelated]))).inserted == 1
        assert session.positions == {0: 5}
        assert con.execute("SELECT count(*) FROM records").fetchone() == (5,)
        states = con.execute(
            "SELECT \"offset\", state FROM records WHERE state <> 'open' ORDER BY ALL"
        ).fetchall()
        assert states == [(1, record_states.REPLAY_FAILED)]
        assert mismatches(con) == []

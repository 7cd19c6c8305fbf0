"""The ingest process keeps pandas out, fixes glibc's mmap threshold and has pyarrow allocate
with malloc (ingest.process_memory). Run in a fresh interpreter: the test process itself has
pandas loaded already."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

PROBE = """
import json, sys
from ingest.process_memory import (
    arrow_allocates_with_malloc, keep_pandas_out, return_large_frees_to_the_system)
kept_out = keep_pandas_out()
try:
    import pandas
    imported = True
except ModuleNotFoundError:
    imported = False
import pyarrow as pa
switched = arrow_allocates_with_malloc()
allocated_before = pa.system_memory_pool().bytes_allocated()
built = pa.array(list(range(100_000)), pa.int64())
allocated_by_build = pa.system_memory_pool().bytes_allocated() - allocated_before
from dashboard.adapters.db import scratch_connection, register
con = scratch_connection(threads=1)
register(con, "t", pa.table({"a": [1, 2, 3]}))
total = con.execute("SELECT sum(a) FROM t").fetchone()[0]
print(json.dumps({"kept_out": kept_out, "imported": imported, "total": total,
                  "pandas_loaded": "pandas" in sys.modules,
                  "mallopt": return_large_frees_to_the_system(),
                  "switched": switched,
                  "pool": pa.default_memory_pool().backend_name,
                  "allocated_by_build": allocated_by_build}))
"""


def run_probe() -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, check=True
    )
    result: dict[str, object] = json.loads(out.stdout)
    return result


def test_pandas_stays_out_and_arrow_and_duckdb_still_work() -> None:
    result = run_probe()
    assert result["kept_out"] is True
    assert result["imported"] is False
    assert result["pandas_loaded"] is False
    # pyarrow builds arrays and DuckDB scans them as if pandas were not installed.
    assert result["total"] == 6


def test_glibc_takes_the_fixed_mmap_threshold() -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("mallopt is glibc's")
    assert run_probe()["mallopt"] is True


def test_arrow_builds_its_arrays_with_malloc() -> None:
    result = run_probe()
    assert result["switched"] is True
    assert result["pool"] == "system"
    # The 100,000 int64 values (800,000 bytes) were allocated through the system pool.
    allocated = result["allocated_by_build"]
    assert isinstance(allocated, int) and allocated >= 800_000


def test_a_process_that_has_pandas_already_keeps_it() -> None:
    from ingest.process_memory import keep_pandas_out

    importlib.import_module("pandas")  # as the app (Streamlit) has it

    assert keep_pandas_out() is False
    assert "pandas" in sys.modules


# Stages, parses and writes demo records as the ingest job does, in a fresh interpreter.
INGEST_PATH_PROBE = """
import json, sys, tempfile
from pathlib import Path
from dashboard.adapters.db import Database
from ingest import store
from ingest.parse import BatchParser, stage_raw
from tests.snapshots import TOPIC, demo_records
staged = stage_raw(demo_records(600, partitions=3))
positions = store.next_offsets(staged)
with BatchParser() as parser:
    parsed = parser.parse(staged)
with tempfile.TemporaryDirectory() as scratch:
    with Database(Path(scratch) / "s.duckdb").write() as con:
        run_id = store.start_run(con, TOPIC)
        inserted = store.write_parsed(con, run_id, TOPIC, parsed).inserted
print(json.dumps({"inserted": inserted, "positions": len(positions),
                  "loaded": sorted(m for m in ("pyarrow.acero", "pyarrow.dataset")
                                   if m in sys.modules)}))
"""


def test_the_ingest_path_never_loads_pyarrow_dataset() -> None:
    # pyarrow.dataset (and pyarrow.acero, which imports it) are pages the ingest process
    # would carry for its whole run; Table.group_by imports them.
    out = subprocess.run(
        [sys.executable, "-c", INGEST_PATH_PROBE],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout)
    assert result["inserted"] == 600
    assert result["positions"] == 3
    assert result["loaded"] == []


def test_next_offsets_is_the_offset_after_each_partitions_last_row() -> None:
    import pyarrow as pa

    from ingest.store import next_offsets

    rows = pa.table(
        {
            "topic": ["a", "a", "b", "a", "a", "b"],
            "partition": pa.array([0, 1, 0, 0, 1, 0], pa.int32()),
            "offset": pa.array([5, 7, 3, 9, 2, 1], pa.int64()),
        }
    )
    assert next_offsets(rows) == {("a", 0): 10, ("a", 1): 8, ("b", 0): 4}
    # The same as Arrow's own grouping, on rows in several chunks.
    chunked = pa.Table.from_batches(rows.to_batches(max_chunksize=2))
    grouped = rows.group_by(["topic", "partition"]).aggregate([("offset", "max")]).to_pylist()
    assert next_offsets(chunked) == {
        (g["topic"], g["partition"]): g["offset_max"] + 1 for g in grouped
    }
    assert next_offsets(rows.slice(0, 0)) == {}

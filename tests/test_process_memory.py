"""The ingest process keeps pandas out and fixes glibc's mmap threshold (ingest.process_memory).
Run in a fresh interpreter: the test process itself has pandas loaded already."""

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
from ingest.process_memory import keep_pandas_out, return_large_frees_to_the_system
kept_out = keep_pandas_out()
try:
    import pandas
    imported = True
except ModuleNotFoundError:
    imported = False
import pyarrow as pa
from dashboard.db import scratch_connection, register
con = scratch_connection(threads=1)
register(con, "t", pa.table({"a": [1, 2, 3]}))
total = con.execute("SELECT sum(a) FROM t").fetchone()[0]
print(json.dumps({"kept_out": kept_out, "imported": imported, "total": total,
                  "pandas_loaded": "pandas" in sys.modules,
                  "mallopt": return_large_frees_to_the_system()}))
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


def test_a_process_that_has_pandas_already_keeps_it() -> None:
    from ingest.process_memory import keep_pandas_out

    importlib.import_module("pandas")  # as the app (Streamlit) has it

    assert keep_pandas_out() is False
    assert "pandas" in sys.modules

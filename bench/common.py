"""What the benchmarks share: a broker, a topic of demo records, a snapshot of it."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from dashboard.devtools import demo_data  # noqa: E402
from dashboard.devtools.broker import launcher  # noqa: E402
from dashboard.settings import Settings  # noqa: E402


@dataclass(frozen=True)
class Workspace:
    bootstrap: str
    directory: Path


@contextmanager
def workspace(bootstrap: str | None) -> Iterator[Workspace]:
    """A scratch directory and a broker: the given one, or a local one started here.
    The directory (snapshots of up to a million records, the broker's data) is deleted at
    the end unless DLQ_BENCH_KEEP=1."""
    directory = Path(tempfile.mkdtemp(prefix="dlq-bench-"))
    data_dir = directory / "kafka"
    try:
        if bootstrap:
            yield Workspace(bootstrap, directory)
            return
        started = launcher.start(data_dir, launcher.free_port(), tie_to_parent=True)
        try:
            yield Workspace(started.state.bootstrap, directory)
        finally:
            launcher.stop(data_dir)
    finally:
        if os.environ.get("DLQ_BENCH_KEEP") == "1":
            print(f"kept {directory}", flush=True)
        else:
            shutil.rmtree(directory, ignore_errors=True)


def demo_topic(space: Workspace, label: str, records: int, partitions: int = 6) -> Settings:
    topic = f"bench.dlq.{label}.{uuid.uuid4().hex[:6]}"
    settings = Settings(
        bootstrap_servers=space.bootstrap,
        dlq_topic=topic,
        pending_topic=topic + ".pending",
        db=space.directory / f"{label}.duckdb",
        audit_log=space.directory / f"{label}-audit.jsonl",
    )
    started = time.monotonic()
    demo_data.produce(settings, records, 14, partitions, seed=1)
    print(
        f"produced {records:,} demo records into {topic} in {time.monotonic() - started:.1f}s",
        flush=True,
    )
    return settings


def settings_env(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "DLQ_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
        "DLQ_TOPIC": settings.dlq_topic,
        "DLQ_PENDING_TOPIC": settings.pending_topic,
        "DLQ_DB": str(settings.db),
        "DLQ_AUDIT_LOG": str(settings.audit_log),
    }


def run_measured(command: list[str], env: dict[str, str]) -> tuple[str, float, int]:
    """Run a child process; return its stdout, wall seconds and peak RSS in bytes (from
    wait4, so it is this child's own peak)."""
    started = time.monotonic()
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stdout is not None and process.stderr is not None
    out = process.stdout.read()
    err = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{command[:4]} failed:\n{err}")
    return out, time.monotonic() - started, usage.ru_maxrss * 1024


def ingest(settings: Settings, config: Path | None = None) -> tuple[dict[str, object], float, int]:
    """`dlq ingest` in its own process: its JSON summary, wall seconds, peak RSS."""
    options = ["--config", str(config)] if config else []
    command = [sys.executable, "-m", "dashboard.cli.main", *options, "ingest", "--quiet"]
    out, wall, rss = run_measured([*command, "--format", "json"], settings_env(settings))
    return json.loads(out), wall, rss


def median_ms(action: Callable[[], object], repeat: int = 7) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)

"""What the benchmarks share: a broker, a topic of demo records, a snapshot of it, and one
way to record a run's figures (`recording`: printed, and written as JSON under
benchmarks/runs/, from which `python -m bench.render` writes BENCHMARKS.md)."""

from __future__ import annotations

import json
import operator
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, Literal

from pydantic import TypeAdapter

REPO = Path(__file__).resolve().parent.parent
# DLQ_BENCH_RUNS redirects a trial run (say, at a small --records) away from the recorded ones.
RUNS: Final = Path(os.environ.get("DLQ_BENCH_RUNS") or REPO / "benchmarks" / "runs")
SCHEMA: Final = 1
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from dashboard.adapters.kafka import KafkaGateway, OutgoingRecord  # noqa: E402
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
    kafka = KafkaGateway(settings)
    kafka.create_topic(topic, partitions)
    kafka.create_topic(settings.pending_topic, partitions)
    kafka.produce_all(topic, demo_records(records))
    print(
        f"produced {records:,} demo records into {topic} in {time.monotonic() - started:.1f}s",
        flush=True,
    )
    return settings


# Generating demo records is pure Python, record by record: ten million would take most of a
# run. Above this many, the topic repeats one pool of demo records, each
# copy with trace ids of its own (the key and every occurrence in the value), so searches,
# groupings and trace-id joins still see distinct records.
POOL_RECORDS: Final = 1_000_000


def demo_records(records: int) -> Iterator[OutgoingRecord]:
    """`records` demo records as (key, value, headers, timestamp_ms)."""
    pool = min(records, POOL_RECORDS)
    generated = [
        (r.key, r.value, r.headers, r.timestamp_ms) for r in demo_data.generate(pool, 14, seed=1)
    ]
    yield from generated
    sent, copy = pool, 0
    while sent < records:
        copy += 1
        mark = f"-{copy:03d}".encode()
        for key, value, headers, timestamp_ms in generated[: records - sent]:
            if key and value:
                fresh = key + mark
                value = value.replace(key, fresh)
                key = fresh
            yield key, value, headers, timestamp_ms
        sent = min(records, sent + pool)


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


# Starts a command and writes its peak RSS (KiB, from wait4) to the file named first. On Linux
# a process's own peak includes the high-water mark of the address space it replaced at exec:
# a command spawned straight from the bench (which holds a pool of a million demo records)
# would be charged the bench's own peak. This starter is a fresh, small process, so the
# command it forks starts from a few MB.
_PEAK_STARTER: Final = """
import os, sys
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as out:
    out.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status) & 0xFF)
"""


def run_measured(command: list[str], env: dict[str, str]) -> tuple[str, float, int]:
    """Run a child process; return its stdout, wall seconds and peak RSS in bytes (the
    command's own, not the bench's: see _PEAK_STARTER)."""
    with tempfile.TemporaryDirectory(prefix="dlq-bench-peak-") as scratch:
        peak_file = Path(scratch) / "peak_kib"
        started = time.monotonic()
        process = subprocess.Popen(
            [sys.executable, "-S", "-c", _PEAK_STARTER, str(peak_file), *command],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        out, err = process.communicate()
        wall = time.monotonic() - started
        if process.returncode != 0:
            raise SystemExit(f"{command[:4]} failed:\n{err}")
        peak_kib = int(peak_file.read_text())
    return out, wall, peak_kib * 1024


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


# -- recording a run ---------------------------------------------------------------------------

Comparison = Literal["<", "<=", ">=", ">"]
_COMPARE: Final[dict[str, Callable[[float, float], bool]]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">=": operator.ge,
    ">": operator.gt,
}


@dataclass(frozen=True)
class Target:
    op: Comparison
    value: float

    def met_by(self, value: float) -> bool:
        return _COMPARE[self.op](value, self.value)

    def __str__(self) -> str:
        return f"{self.op} {self.value:g}"


@dataclass(frozen=True)
class Figure:
    key: str  # stable across runs, e.g. "ingest.ratio_plain_defaults"
    label: str  # what was measured, for people
    value: float
    unit: str  # "rec/s", "MB", "ms", "s", "x" (a ratio)
    target: Target | None = None
    note: str = ""  # how it was taken (e.g. "fastest of 3", "with process start")

    @property
    def met(self) -> bool | None:
        return None if self.target is None else self.target.met_by(self.value)


@dataclass(frozen=True)
class Machine:
    cpu_model: str
    cores: int
    platform: str
    python: str


@dataclass(frozen=True)
class LoadAverage:
    """The 1-minute load average, sampled while the bench ran."""

    min: float
    mean: float
    max: float
    samples: int


@dataclass(frozen=True)
class Run:
    bench: str  # "ingest", "dashboard", "actions"
    started_at: datetime
    finished_at: datetime
    commit: str
    dirty: bool  # uncommitted changes in the tree that ran
    machine: Machine
    load_average: LoadAverage
    parameters: dict[str, int | float | str]
    figures: list[Figure]
    schema: int = SCHEMA


RUN: Final = TypeAdapter(Run)


def run_to_json(run: Run) -> str:
    return RUN.dump_json(run, indent=2).decode() + "\n"


def run_from_json(text: str) -> Run:
    return RUN.validate_json(text)


@dataclass
class Recording:
    """What a bench script fills in while `recording` runs."""

    parameters: dict[str, int | float | str]
    figures: list[Figure] = field(default_factory=list)
    # A scale run's size ("1M"): keys become "1M.<key>" and labels "<label> @ 1M".
    scope: str = ""

    def add(
        self,
        key: str,
        label: str,
        value: float,
        unit: str,
        target: tuple[Comparison, float] | None = None,
        note: str = "",
    ) -> Figure:
        """One figure: printed now, written with the run at the end."""
        if self.scope:
            key, label = f"{self.scope}.{key}", f"{label} @ {self.scope}"
        figure = Figure(key, label, value, unit, Target(*target) if target else None, note)
        self.figures.append(figure)
        print(figure_line(figure), flush=True)
        return figure


def figure_line(figure: Figure) -> str:
    value = number(figure.value)
    target = f"   target {figure.target}" if figure.target else ""
    met = {True: " (met)", False: " (NOT met)", None: ""}[figure.met]
    note = f"  ({figure.note})" if figure.note else ""
    return f"  {figure.label:48s} {value:>12} {figure.unit:5s}{target}{met}{note}"


def number(value: float) -> str:
    """A figure as people read it: two decimals below 100, whole numbers above."""
    return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"


@contextmanager
def recording(
    bench: str, parameters: Mapping[str, int | float | str], directory: Path = RUNS
) -> Iterator[Recording]:
    """Collect a bench's figures; at the end write the run (figures, when, the machine, the
    load average while it ran, the commit) to `directory`/<UTC time>-<bench>.json. Nothing
    is written when the bench fails."""
    record = Recording(dict(parameters))
    sampler = _LoadSampler()
    started = datetime.now(UTC)
    sampler.start()
    try:
        yield record
    finally:
        load = sampler.stop()
    run = Run(
        bench=bench,
        started_at=started,
        finished_at=datetime.now(UTC),
        commit=_git("rev-parse", "HEAD") or "unknown",
        dirty=tree_changed(),
        machine=this_machine(),
        load_average=load,
        parameters=record.parameters,
        figures=record.figures,
    )
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{started:%Y-%m-%dT%H%M%SZ}-{bench}.json"
    path.write_text(run_to_json(run))
    machine = run.machine
    print(
        f"on {machine.cpu_model}, {machine.cores} cores; load average (1 min) during the run "
        f"{load.mean:.2f} (min {load.min:.2f}, max {load.max:.2f}, {load.samples} samples)"
    )
    print(f"recorded {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")


def this_machine() -> Machine:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return Machine(
        cpu_model=model,
        cores=os.cpu_count() or 0,
        platform=platform.platform(),
        python=platform.python_version(),
    )


def tree_changed() -> bool:
    """Whether the tracked files differ from the commit, the benches' own output aside: a
    second `make bench` before the first one's runs are committed ran the same code."""
    own = (":(exclude)BENCHMARKS.md", ":(exclude)benchmarks/runs")
    return bool(_git("status", "--porcelain", "--untracked-files=no", "--", ".", *own))


def _git(*args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, check=True, timeout=30
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip()


class _LoadSampler:
    """Samples the 1-minute load average every few seconds on a daemon thread."""

    def __init__(self, every_seconds: float = 2.0) -> None:
        self._every = every_seconds
        self._samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="load-sampler", daemon=True)

    def start(self) -> None:
        self._samples.append(os.getloadavg()[0])
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            self._samples.append(os.getloadavg()[0])

    def stop(self) -> LoadAverage:
        self._stop.set()
        self._thread.join()
        self._samples.append(os.getloadavg()[0])
        values = self._samples
        return LoadAverage(
            min=min(values),
            mean=round(statistics.fmean(values), 2),
            max=max(values),
            samples=len(values),
        )

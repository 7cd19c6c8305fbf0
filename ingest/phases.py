"""Where an ingest run's time goes, phase by phase (consume, stage, parse, write, waits).

Each phase is timed by the one thread that runs it (the reading thread: consume, stage,
parse and waiting for the writer; the writer thread: insert, commit, checking the trace
landings of a hold's records, opening and closing the file, and waiting for work), so the
two threads' sums each add up to about the run's wall time, and a phase that grows says
which side holds the other up. Each phase's CPU time (of the thread that ran it: DuckDB runs
the ingest's queries on the calling thread) says how much of it was work; the rest was
waiting (for Kafka's client, a core, the GIL, the disk). The process's CPU time beside the
wall time says how much of the two cores the run used.
`dlq ingest --format json` reports them (a phase's CPU time as `<phase>_cpu`); the ingest
bench records them with its figures.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

# Reading thread, then writer thread: the order the bench prints them in.
READER_PHASES = ("consume", "stage", "parse", "wait_for_writer")
WRITER_PHASES = ("insert", "commit", "trace_landings", "open_and_close", "wait_for_work")


@dataclass
class Phases:
    seconds: dict[str, float] = field(default_factory=dict)
    # Each phase's CPU time, of the thread that ran it.
    thread_cpu: dict[str, float] = field(default_factory=dict)
    cpu_seconds: float = 0.0  # the process's CPU time (every thread, librdkafka's too)

    def add(self, name: str, seconds: float, cpu: float = 0.0) -> None:
        # Each name is written by one thread only, so no lock is needed.
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds
        self.thread_cpu[name] = self.thread_cpu.get(name, 0.0) + cpu

    @contextmanager
    def timed(self, name: str) -> Iterator[None]:
        with thread_timer() as elapsed:
            try:
                yield
            finally:
                self.add(name, *elapsed())

    def added(self, other: Phases) -> Phases:
        total = Phases(
            dict(self.seconds), dict(self.thread_cpu), self.cpu_seconds + other.cpu_seconds
        )
        for name, seconds in other.seconds.items():
            total.add(name, seconds, other.thread_cpu.get(name, 0.0))
        return total

    def as_dict(self) -> dict[str, float]:
        rounded = {name: round(s, 3) for name, s in self.seconds.items()}
        cpu = {f"{name}_cpu": round(s, 3) for name, s in self.thread_cpu.items()}
        return {**rounded, **cpu, "cpu": round(self.cpu_seconds, 3)}


@contextmanager
def thread_timer() -> Iterator[Callable[[], tuple[float, float]]]:
    """Yields a function that gives the wall and this thread's CPU seconds since entry."""
    wall, cpu = time.perf_counter(), time.thread_time()
    yield lambda: (time.perf_counter() - wall, time.thread_time() - cpu)

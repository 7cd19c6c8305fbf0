"""Ingest benchmark (issue 2): prints figures and ratios; asserts nothing.

On one broker, in one run:
  1. produce N demo records (default 1,000,000) into a fresh topic, and N/10 into another;
  2. a plain confluent-kafka consumer that only counts them: three times with librdkafka's
     defaults (the fastest is compared; see below), and once with the fetch tuning
     `dlq ingest` itself uses;
  3. `dlq ingest` of the same records (a separate process; its peak RSS from wait4);
  4. an incremental `dlq ingest` with nothing new;
  5. peak RSS of `dlq ingest` on the topic a tenth the size: memory should not grow with it;
  6. `dlq ingest` of the full topic again with half-size transactions (the memory-lean
     setting), into a snapshot of its own.

The main run's phase timers (ingest.phases: consume, stage, parse, waiting for the writer on
the reading thread; insert, commit, waiting for work on the writer thread) and its CPU time
are recorded with the figures: where the time goes.
Targets (issue 2): ingest/plain ratio >= 0.5; peak RSS <= 400 MB and flat; no-op run < 1 s.

With librdkafka's defaults the counter's wall time is its reading (about 0.6 s for 300,000
demo records here) plus a whole `fetch.queue.backoff.ms` (1 s) each time its queue fills and
its fetcher idles: 0, 1 or 2 seconds in a run, changing from run to run while its CPU time
stays the same. The target compares against the fastest of the three tries; the counter's
CPU time and the ratio to the median try are recorded beside it, without a target, so a
run can be read for which of the counter's modes it met.
The figures are printed and recorded (bench.common.recording) in benchmarks/runs/.
Usage: python -m bench.ingest_bench [--records N] [--bootstrap HOST:PORT]  (from the repo root)
Keep the test suite off the machine while this runs (2 cores).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from dataclasses import dataclass

from bench.common import Recording, demo_topic, ingest, recording, run_measured, workspace
from dashboard.adapters.kafka import BULK_READ_TUNING
from ingest.phases import READER_PHASES, WRITER_PHASES

LEAN_TRANSACTION = 8_192

COUNTER = """
import json, sys, time
from confluent_kafka import Consumer, TopicPartition
bootstrap, topic = sys.argv[1], sys.argv[2]
partitions, total, tuning = int(sys.argv[3]), int(sys.argv[4]), json.loads(sys.argv[5])
consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-counter",
                     "enable.auto.commit": False, **tuning})
consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
seen, started = 0, time.monotonic()
while seen < total:
    seen += sum(1 for m in consumer.consume(10000, 0.1) if m.error() is None)
seconds = time.monotonic() - started
print(json.dumps({"records": seen, "seconds": seconds, "cpu": time.process_time()}))
"""


@dataclass(frozen=True)
class CountRun:
    seconds: float  # from the first consume to the last record
    cpu_seconds: float  # the counting process's own CPU time, start-up included


def count(
    bootstrap: str, topic: str, partitions: int, total: int, tuning: dict[str, object]
) -> CountRun:
    out, _, _ = run_measured(
        [
            sys.executable,
            "-c",
            COUNTER,
            bootstrap,
            topic,
            str(partitions),
            str(total),
            json.dumps(tuning),
        ],
        dict(os.environ),
    )
    counted = json.loads(out)
    return CountRun(float(counted["seconds"]), float(counted["cpu"]))


def add_phases(record: Recording, summary: dict[str, object], seconds: float) -> None:
    """The main run's phases, each with its share of the run's wall time and its thread's CPU
    time within it, and the cores the run's CPU time kept busy."""
    phases = summary.get("phases")
    if not isinstance(phases, dict):
        return
    for thread, names in (("reading", READER_PHASES), ("writer", WRITER_PHASES)):
        for name in names:
            value = float(phases.get(name, 0.0))
            # The thread's CPU time within the phase: the rest of it was waiting (for
            # Kafka's client, a core, the GIL, the disk).
            cpu = float(phases.get(f"{name}_cpu", 0.0))
            record.add(
                f"phase_{name}",
                f"  {thread} thread: {name.replace('_', ' ')}",
                value,
                "s",
                note=f"{value / seconds:.0%} of the run; {cpu:.2f}s of it on the CPU",
            )
    cpu = float(phases.get("cpu", 0.0))
    record.add(
        "cpu_cores_busy",
        "  CPU time / wall time of the run",
        cpu / seconds,
        "cores",
        note=f"{cpu:.2f}s of CPU in {seconds:.2f}s",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS"))
    args = parser.parse_args()
    n = args.records
    small = max(1, n // 10)
    parameters = {"records": n, "partitions": args.partitions}
    with recording("ingest", parameters) as record, workspace(args.bootstrap) as space:
        full = demo_topic(space, "full", n, args.partitions)
        tenth = demo_topic(space, "tenth", small, args.partitions)
        # With librdkafka's defaults the counter's time moves in steps of a second from run
        # to run (see the module's docstring): the fastest of three is the one compared
        # against.
        default_runs = [
            count(space.bootstrap, full.dlq_topic, args.partitions, n, {}) for _ in range(3)
        ]
        plain_defaults = [run.seconds for run in default_runs]
        plain_default = min(plain_defaults)
        plain_tuned = count(
            space.bootstrap, full.dlq_topic, args.partitions, n, dict(BULK_READ_TUNING)
        ).seconds
        summary, wall, rss = ingest(full)
        assert summary["records"] == n, summary
        seconds = float(summary["seconds"])  # type: ignore[arg-type]
        noop, noop_wall, _ = ingest(full)
        _, _, rss_small = ingest(tenth)
        db_size = full.db.stat().st_size
        # The memory-lean setting: half-size transactions, into a snapshot of its own.
        lean_config = space.directory / "lean.toml"
        lean_config.write_text(f"[ingest]\ntransaction_records = {LEAN_TRANSACTION}\n")
        lean = full.model_copy(update={"db": space.directory / "lean.duckdb"})
        lean_summary, _, rss_lean = ingest(lean, lean_config)
        lean_rate = n / float(lean_summary["seconds"])  # type: ignore[arg-type]

        rate = n / seconds
        mb = 2**20
        print()
        add = record.add
        add(
            "plain_defaults_rate",
            "plain consumer, librdkafka defaults",
            n / plain_default,
            "rec/s",
            note=f"fastest of {', '.join(f'{t:.2f}s' for t in plain_defaults)}",
        )
        add(
            "plain_defaults_cpu",
            "plain consumer's own CPU time, librdkafka defaults",
            statistics.median(run.cpu_seconds for run in default_runs),
            "s",
            note="median of its three tries; the rest of its time idles in fetch back-off",
        )
        add("plain_tuned_rate", "plain consumer, ingest's fetch tuning", n / plain_tuned, "rec/s")
        add(
            "ingest_rate",
            f"dlq ingest, {n:,} records",
            rate,
            "rec/s",
            note=f"{seconds:.2f}s in the job, {wall:.2f}s with process start",
        )
        add(
            "ratio_plain_defaults",
            "ratio ingest / plain consumer (defaults, fastest)",
            rate / (n / plain_default),
            "x",
            (">=", 0.5),
        )
        add(
            "ratio_plain_defaults_median",
            "ratio ingest / plain consumer (defaults, median; reported, no target)",
            rate / (n / statistics.median(plain_defaults)),
            "x",
        )
        add(
            "ratio_plain_tuned",
            "ratio ingest / plain consumer (same fetch tuning; reported, no target)",
            rate / (n / plain_tuned),
            "x",
        )
        add_phases(record, summary, seconds)
        add("peak_rss", f"ingest peak RSS, {n:,} records", rss / mb, "MB", ("<=", 400))
        add(
            "peak_rss_tenth",
            f"ingest peak RSS, {small:,} records",
            rss_small / mb,
            "MB",
            ("<=", 400),
            note="flat = not growing with the topic's size",
        )
        add(
            "noop_seconds",
            "incremental run with nothing new",
            float(noop["seconds"]),  # type: ignore[arg-type]
            "s",
            ("<", 1),
            note=f"{noop_wall:.2f}s with process start",
        )
        add("snapshot_file", f"snapshot file, {n:,} records", db_size / mb, "MB")
        add(
            "lean_rate",
            f"dlq ingest, transaction_records = {LEAN_TRANSACTION:,}",
            lean_rate,
            "rec/s",
            note=f"ratio {lean_rate / (n / plain_default):.2f} to the plain consumer (defaults)",
        )
        add(
            "lean_peak_rss",
            f"ingest peak RSS, transaction_records = {LEAN_TRANSACTION:,}",
            rss_lean / mb,
            "MB",
            ("<=", 400),
        )


if __name__ == "__main__":
    main()

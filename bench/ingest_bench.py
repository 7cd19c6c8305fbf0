"""Ingest benchmark (issue 2): prints figures and ratios; asserts nothing.

On one broker, in one run:
  1. produce N demo records (default 1,000,000) into a fresh topic;
  2. a plain confluent-kafka consumer that only counts them, twice: with librdkafka's
     defaults, and with the fetch tuning `dlq ingest` itself uses;
  3. `dlq ingest` of the same records (a separate process; its peak RSS from wait4);
  4. an incremental `dlq ingest` with nothing new;
  5. peak RSS of `dlq ingest` on a topic a tenth the size, to show memory does not grow
     with the topic.

Targets (issue 2): ingest/plain ratio >= 0.5; peak RSS <= 400 MB and flat; no-op run < 1 s.
Usage: python bench/ingest_bench.py [--records N] [--bootstrap HOST:PORT]
Keep the test suite off the machine while this runs (2 cores).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from dashboard import demo_data  # noqa: E402
from dashboard.broker import launcher  # noqa: E402
from dashboard.kafka_clients import BULK_READ_TUNING  # noqa: E402
from dashboard.settings import Settings  # noqa: E402

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
print(json.dumps({"records": seen, "seconds": time.monotonic() - started}))
"""


def run_measured(command: list[str], env: dict[str, str]) -> tuple[str, float, int]:
    """Run a child process; return its stdout, wall seconds and peak RSS in bytes."""
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


def count(
    bootstrap: str, topic: str, partitions: int, total: int, tuning: dict[str, object]
) -> float:
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
    return float(json.loads(out)["seconds"])


def ingest(settings: Settings) -> tuple[dict[str, object], float, int]:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "DLQ_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
        "DLQ_TOPIC": settings.dlq_topic,
        "DLQ_DB": str(settings.db),
    }
    out, wall, rss = run_measured(
        [sys.executable, "-m", "dashboard.cli.main", "ingest", "--quiet", "--format", "json"], env
    )
    return json.loads(out), wall, rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS"))
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="dlq-bench-"))
    data_dir = None
    bootstrap = args.bootstrap
    if not bootstrap:
        data_dir = workdir / "kafka"
        bootstrap = launcher.start(
            data_dir, launcher.free_port(), tie_to_parent=True
        ).state.bootstrap
    try:
        small = max(1, args.records // 10)
        topics = {}
        for label, size in (("full", args.records), ("tenth", small)):
            topic = f"bench.dlq.{label}.{uuid.uuid4().hex[:6]}"
            settings = Settings(
                bootstrap_servers=bootstrap,
                dlq_topic=topic,
                pending_topic=topic + ".pending",
                db=workdir / f"{label}.duckdb",
            )
            started = time.monotonic()
            demo_data.produce(settings, size, 14, args.partitions, seed=1)
            print(
                f"produced {size:,} demo records into {topic} in {time.monotonic() - started:.1f}s",
                flush=True,
            )
            topics[label] = settings

        full = topics["full"]
        plain_default = count(bootstrap, full.dlq_topic, args.partitions, args.records, {})
        plain_tuned = count(
            bootstrap, full.dlq_topic, args.partitions, args.records, dict(BULK_READ_TUNING)
        )
        summary, wall, rss = ingest(full)
        assert summary["records"] == args.records, summary
        ingest_seconds = float(summary["seconds"])  # type: ignore[arg-type]
        noop, noop_wall, _ = ingest(full)
        _, _, rss_small = ingest(topics["tenth"])
        db_size = full.db.stat().st_size

        n = args.records
        rate = n / ingest_seconds
        print()
        print(f"records                                  {n:>12,}")
        print(
            f"plain consumer, librdkafka defaults      {n / plain_default:>12,.0f} rec/s"
            f"  ({plain_default:.2f}s)"
        )
        print(
            f"plain consumer, ingest's fetch tuning    {n / plain_tuned:>12,.0f} rec/s"
            f"  ({plain_tuned:.2f}s)"
        )
        print(
            f"dlq ingest                               {rate:>12,.0f} rec/s"
            f"  ({ingest_seconds:.2f}s in the job, {wall:.2f}s with process start)"
        )
        print(
            f"ratio ingest / plain (defaults)          {rate / (n / plain_default):>12.2f}"
            "   target >= 0.5"
        )
        print(
            f"ratio ingest / plain (same tuning)       {rate / (n / plain_tuned):>12.2f}"
            "   target >= 0.5"
        )
        print(f"ingest peak RSS, {n:,} records        {rss / 2**20:>10.0f} MB   target <= 400")
        print(
            f"ingest peak RSS, {small:,} records        {rss_small / 2**20:>10.0f} MB"
            "   (flat = not growing with topic size)"
        )
        print(
            f"incremental run with nothing new         {float(noop['seconds']):>12.3f} s"  # type: ignore[arg-type]
            f"   target < 1 ({noop_wall:.2f}s with process start)"
        )
        print(f"snapshot file                            {db_size / 2**20:>10.0f} MB")
    finally:
        if data_dir is not None:
            launcher.stop(data_dir)


if __name__ == "__main__":
    main()

"""Bulk replay benchmark (issue 4): prints figures and ratios; asserts nothing.

On one broker, in one run: 10,000 DLQ records are produced and ingested; then
  1. `dlq`'s bulk replay of all of them, unthrottled: each claimed, built, sent, acknowledged
     by the broker (idempotent producer, acks=all), recorded and audited. As `dlq replay`
     and the page do, the selection is previewed first, untimed: the preview's first Arrow
     conversion makes pyarrow import pandas (a few tenths of a second, once per process),
     which a replay run never pays itself;
  2. a plain confluent-kafka producer (the same idempotent, acks=all configuration) sending
     the same 10,000 messages and waiting for every acknowledgement.
Target: bulk replay rate / plain producer rate >= 0.25.
The figures are printed and recorded (bench.common.recording) in benchmarks/runs/.
With --profile the bulk replay runs under cProfile (slower: its rate is then not comparable)
and the functions taking the most time are printed and written beside the run's figures.
Usage: python -m bench.actions_bench [--records N] [--bootstrap HOST:PORT] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import time
from datetime import UTC, datetime

from bench.common import RUNS, ingest, recording, workspace
from dashboard.actions.identity import Identity
from dashboard.actions.preview import preview
from dashboard.actions.replay_message import build
from dashboard.actions.run import execute
from dashboard.actions.selection import matching
from dashboard.actions.values import Request
from dashboard.adapters.db import Database
from dashboard.adapters.kafka import KafkaGateway
from dashboard.settings import Settings
from dashboard.triage.filters import RecordFilter


def dlq_value(i: int) -> bytes:
    trace = f"evt-bench-{i}"
    url = f"https://files.example.com/claims/C-{i % 9000 + 1000}/{i}.pdf?X-Amz-Signature=s{i}"
    return json.dumps(
        {
            "trace_id": trace,
            "attachment_url": url,
            "retry_count": 4,
            "error_category": "transient",
            "final_error": "Connection timeout after 30s",
            "failed_at": "2026-11-20T10:00:00Z",
            "original_task": {
                "trace_id": trace,
                "media_id": f"m-{i}",
                "attachment_url": url,
                "blob_path": f"documentsReceived/C-1/pdf/{i}.pdf",
                "file_type": "pdf",
                "assignment_id": "C-1",
                "retry_count": 4,
                "event_type": "xact",
                "event_subtype": "documentsReceived",
                "metadata": {},
            },
        }
    ).encode()


def write_profile(profiler: cProfile.Profile) -> None:
    """The functions with the most cumulative and own time, printed and written to RUNS."""
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(30)
    stats.sort_stats("tottime").print_stats(20)
    text = out.getvalue()
    print(text)
    RUNS.mkdir(parents=True, exist_ok=True)
    path = RUNS / f"{time.strftime('%Y-%m-%dT%H%M%SZ', time.gmtime())}-actions-profile.txt"
    path.write_text(text)
    print(f"profile written to {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS"))
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    n = args.records
    parameters: dict[str, int | float | str] = {"records": n}
    if args.profile:
        parameters["profiled"] = "yes"
    with recording("actions", parameters) as record, workspace(args.bootstrap) as space:
        topic = f"bench.actions.{int(time.time())}"
        settings = Settings(
            bootstrap_servers=space.bootstrap,
            dlq_topic=topic,
            pending_topic=topic + ".pending",
            db=space.directory / "a.duckdb",
            audit_log=space.directory / "audit.jsonl",
        )
        kafka = KafkaGateway(settings)
        kafka.create_topic(topic, 6)
        kafka.create_topic(settings.pending_topic, 6)
        kafka.create_topic(topic + ".plain", 6)
        now_ms = int(time.time() * 1000)
        kafka.produce_all(
            topic, ((f"evt-bench-{i}".encode(), dlq_value(i), [], now_ms + i) for i in range(n))
        )
        ingest(settings)
        with Database.of(settings).read() as con:
            refs = matching(con, topic, RecordFilter())
        assert len(refs) == n
        with Database.of(settings).read() as con:
            assert preview(con, "replay", refs, settings=settings).eligible == n

        profiler = cProfile.Profile() if args.profile else None
        started = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        report = execute(
            settings,
            Request("replay", refs, Identity("bench", "settings", True), "benchmark", rate=None),
        )
        if profiler is not None:
            profiler.disable()
        ours = time.perf_counter() - started
        if profiler is not None:
            write_profile(profiler)
        assert report.count("success") == n, report.summary()

        messages = [
            build(
                dlq_value(i),
                dlq_topic=topic,
                dlq_partition=0,
                dlq_offset=i,
                actor="bench",
                replayed_at=datetime.now(UTC),
            )
            for i in range(n)
        ]
        producer = kafka.producer(settings.actions.delivery_timeout_seconds)
        acked = 0

        def delivered(err: object, _msg: object) -> None:
            nonlocal acked
            acked += err is None

        started = time.perf_counter()
        for i, message in enumerate(messages):
            headers: list[tuple[str, str | bytes | None]] = list(message.headers)
            producer.produce(
                topic + ".plain",
                value=message.value,
                key=message.key,
                headers=headers,
                on_delivery=delivered,
            )
            if i % 500 == 0:
                producer.poll(0)
        producer.flush(60)
        plain = time.perf_counter() - started
        assert acked == n

        print()
        record.add(
            "replay_rate",
            f"bulk replay of {n:,} (claimed, acked, audited)",
            n / ours,
            "rec/s",
            note=f"{ours:.2f}s",
        )
        record.add(
            "plain_rate",
            "plain confluent-kafka producer (acked)",
            n / plain,
            "rec/s",
            note=f"{plain:.2f}s",
        )
        record.add(
            "ratio_plain",
            "ratio bulk replay / plain producer",
            plain / ours,
            "x",
            (">=", 0.25),
        )


if __name__ == "__main__":
    main()

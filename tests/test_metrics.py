"""The Prometheus metrics: read from the snapshot at each scrape, in the dashboard's words and
numbers, with bounded labels."""

from __future__ import annotations

import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from dashboard.adapters.db import Database
from dashboard.adapters.kafka import PartitionOffsets
from dashboard.cli.metrics_cmd import serve
from dashboard.devtools.broker.launcher import free_port
from dashboard.exports.metrics import METRIC_NAMES, registry_for
from dashboard.settings import Settings
from dashboard.triage.overview import dlq_size, freshness
from ingest import store
from ingest.parse import RawRecord
from tests.snapshots import (
    TOPIC,
    VARIED_AT,
    add_replay,
    pipeline_record,
    write_snapshot,
    write_varied,
)

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(settings: Settings) -> Samples:
    text = generate_latest(registry_for(settings)).decode()
    return {
        (
            s.name,
            tuple(sorted((k, v) for k, v in s.labels.items() if k not in ("topic", "dlq"))),
        ): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def test_the_backlog_by_state_is_the_dashboards(tmp_path: Path) -> None:
    db = write_varied(tmp_path / "s.duckdb")
    with Database(db).write() as con:
        add_replay(con, 0, 1, VARIED_AT + timedelta(hours=5))
    settings = Settings(db=db)
    samples = scrape(settings)
    with Database(db).read() as con:
        size = dlq_size(con, TOPIC)
    assert value(samples, "dlq_snapshot_up") == 1
    assert value(samples, "dlq_backlog_records") == size.backlog == 3
    for word, n in size.states.as_dict().items():
        if word != "backlog":
            assert value(samples, "dlq_records_by_state", state=word) == n
    assert value(samples, "dlq_records_by_state", state="replayed-waiting") == 1
    assert value(samples, "dlq_records_entered_total") == 4  # the high watermarks: 2 + 2
    assert value(samples, "dlq_topic_records") == 4
    assert value(samples, "dlq_backlog_unparseable_records") == 1
    assert value(samples, "dlq_records_unparseable_total") == 1
    assert value(samples, "dlq_resolutions_total", source="before-dashboard") == 1
    assert value(samples, "dlq_ingest_runs_total", status="ok") == 1
    assert value(samples, "dlq_last_ingest_success") == 1
    assert value(samples, "dlq_oldest_open_age_seconds") > 0
    # every sample's name is one the exporter documents (the Grafana test reads that list)
    assert {name for name, _ in samples} <= METRIC_NAMES


def test_counters_come_from_the_snapshot_so_every_exporter_agrees(tmp_path: Path) -> None:
    db = write_varied(tmp_path / "s.duckdb")
    settings = Settings(db=db)
    first, second = scrape(settings), scrape(settings)
    counters = {k: v for k, v in first.items() if k[0].endswith("_total")}
    assert counters == {k: v for k, v in second.items() if k[0].endswith("_total")}
    # the same trace id arriving again after its replay counts once as a replay failure
    with Database(db).write() as con:
        add_replay(con, 0, 0, VARIED_AT + timedelta(minutes=30))
    write_snapshot(db, [pipeline_record(0, 2, VARIED_AT + timedelta(hours=6), trace_id="evt-0-0")])
    later = scrape(settings)
    assert value(later, "dlq_replay_returns_total") == 1
    assert value(later, "dlq_records_entered_total") == 5
    assert value(later, "dlq_records_by_state", state="replay-failed") == 1


def test_category_labels_stay_bounded(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    odd = [f"Weird-{i}" for i in range(20)]
    records = [pipeline_record(0, i, VARIED_AT, category=c) for i, c in enumerate(odd)]
    records.append(pipeline_record(0, 20, VARIED_AT, category="PERMANENT"))
    write_snapshot(db, records)
    samples = scrape(Settings(db=db))
    by_category = {
        dict(labels)["category"]: v
        for (name, labels), v in samples.items()
        if name == "dlq_backlog_records_by_category"
    }
    assert by_category == {
        "permanent": 1,
        "transient": 0,
        "auth": 0,
        "circuit_open": 0,
        "none": 0,
        "other": 20,
    }


def test_without_a_snapshot_only_up_is_reported(tmp_path: Path) -> None:
    assert scrape(Settings(db=tmp_path / "none.duckdb")) == {("dlq_snapshot_up", ()): 0}


def test_the_server_answers_scrapes(tmp_path: Path) -> None:
    settings = Settings(db=write_varied(tmp_path / "s.duckdb"))
    port = free_port()
    serve(settings, "127.0.0.1", port)
    url = f"http://127.0.0.1:{port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    assert f'dlq_backlog_records{{dlq="xact-downloads",topic="{TOPIC}"}} 3.0' in text


def test_every_configured_dlq_is_exported_with_its_topic_and_name(tmp_path: Path) -> None:
    db = write_varied(tmp_path / "s.duckdb")
    claimx_topic = "claimx.downloads.dlq"
    claimx = [pipeline_record(0, i, VARIED_AT, topic=claimx_topic) for i in range(5)]
    write_snapshot(db, claimx, topic=claimx_topic, committed={0: 2})
    settings = Settings.model_validate(
        {
            "db": db,
            "dlqs": [
                {"name": "xact", "topic": TOPIC, "review_group": "g1"},
                # No records of its own yet: exported at zero, not left out.
                {"name": "later", "topic": "later.dlq", "review_group": "g3"},
                {"name": "claimx", "topic": claimx_topic, "review_group": "g2"},
            ],
        }
    )
    text = generate_latest(registry_for(settings)).decode()
    backlog = {
        (s.labels["topic"], s.labels["dlq"]): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "dlq_backlog_records"
    }
    assert backlog == {(TOPIC, "xact"): 3, ("later.dlq", "later"): 0, (claimx_topic, "claimx"): 3}
    # One family per metric, every DLQ's samples in it (a repeated name breaks the scrape).
    assert text.count("# TYPE dlq_backlog_records gauge") == 1
    assert "dlq_snapshot_up 1.0" in text


def test_a_dlq_discovered_after_the_exporter_started_is_scraped(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    write_snapshot(db, [pipeline_record(0, 0, VARIED_AT)])
    settings = Settings(db=db, discover="*.dlq")
    registry = registry_for(settings)  # a follower's, from its start
    assert not any(s.labels.get("dlq") == "orders" for s in _samples(registry))
    write_snapshot(
        db,
        [RawRecord(0, i, b"not json", topic="orders.dlq") for i in range(3)],
        topic="orders.dlq",
        formats={"orders.dlq": "any"},
    )
    backlog = {
        s.labels["dlq"]: s.value for s in _samples(registry) if s.name == "dlq_backlog_records"
    }
    assert backlog["orders"] == 3
    assert backlog[settings.dlq_list[0].name] == 1


def _samples(registry: CollectorRegistry) -> list[Sample]:
    text = generate_latest(registry).decode()
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def test_a_run_that_read_kafka_and_failed_reports_its_time_an_outage_attempt_does_not(
    tmp_path: Path,
) -> None:
    """Both stored no record; only the run reached Kafka (its watermarks say so). Its time is
    a run's, worth a graph: a failed write at the first transaction, say."""
    db = write_varied(tmp_path / "s.duckdb")
    settings = Settings(dlq_topic=TOPIC, db=db)
    with Database(db).write() as con:
        run_id = store.start_run(con, TOPIC)
        store.record_watermarks(con, run_id, TOPIC, {0: PartitionOffsets(0, 0, 8)}, {0: None})
        con.execute("UPDATE ingest_runs SET started_at = now() - INTERVAL 7 SECOND")
        store.finish_run(con, run_id, status="failed", missed=0, marked_gone=0, error="boom")
    run = scrape(settings)
    assert value(run, "dlq_last_ingest_success") == 0.0
    assert value(run, "dlq_last_ingest_duration_seconds") >= 7.0
    with Database(db).write() as con:
        store.record_failed_attempt(con, TOPIC, "Kafka at 127.0.0.1:9092 is not answering")
    outage = scrape(settings)
    assert value(outage, "dlq_last_ingest_success") == 0.0
    assert ("dlq_last_ingest_duration_seconds", ()) not in outage


def test_an_outage_after_a_run_that_read_kafka_leaves_that_run_its_own_time(
    tmp_path: Path,
) -> None:
    """The run failed as Kafka went away (in the outage's words); the attempts after it carry
    on a row of their own, so the run's time is not stretched to the outage's length."""
    db = write_varied(tmp_path / "s.duckdb")
    why = "Kafka at 127.0.0.1:9092 is not answering"
    with Database(db).write() as con:
        run_id = store.start_run(con, TOPIC)
        store.record_watermarks(con, run_id, TOPIC, {0: PartitionOffsets(0, 0, 8)}, {0: None})
        store.finish_run(con, run_id, status="failed", missed=0, marked_gone=0, error=why)
        con.execute(
            "UPDATE ingest_runs SET started_at = now() - INTERVAL 3 SECOND, "
            "finished_at = now() - INTERVAL 1 SECOND WHERE run_id = ?",
            [run_id],
        )
        # The snapshot's earlier runs finished before it: the failed run is the latest.
        con.execute(
            "UPDATE ingest_runs SET finished_at = now() - INTERVAL 1 HOUR WHERE run_id <> ?",
            [run_id],
        )
        for _ in range(3):
            store.record_failed_attempt(con, TOPIC, why)
        runs = con.execute(
            "SELECT run_id = ?, finished_at - started_at FROM ingest_runs WHERE status = 'failed'",
            [run_id],
        ).fetchall()
        began = con.execute(
            "SELECT started_at FROM ingest_runs WHERE run_id = ?", [run_id]
        ).fetchone()
        fresh = freshness(con, TOPIC, datetime.now(UTC), timedelta(minutes=5))
    # The dashboard's banner: failing since the run that failed first, not the first attempt.
    assert began is not None and fresh.failing_since == began[0]
    assert len(runs) == 2  # the run, and one row for the outage's three attempts
    assert [took for own, took in runs if own] == [timedelta(seconds=2)]
    assert value(scrape(Settings(dlq_topic=TOPIC, db=db)), "dlq_last_ingest_success") == 0.0

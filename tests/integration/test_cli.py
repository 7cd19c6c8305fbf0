"""`dlq` as an operator runs it: separate processes, real broker, real snapshot file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dashboard.adapters.kafka import KafkaGateway
from dashboard.settings import Settings
from tests.conftest import REPO, BrokerUnderTest, run_cli, settings_env
from tests.kafka_helpers import NOW_MS, pipeline_value, produce, produce_pipeline

pytestmark = pytest.mark.kafka


@pytest.fixture
def env(kafka_settings: Settings) -> dict[str, str]:
    return {**settings_env(kafka_settings), "PYTHONPATH": str(REPO)}


def test_list_refreshes_and_prints_the_runbook_table(
    kafka_settings: Settings, gateway: KafkaGateway, env: dict[str, str], tmp_path: Path
) -> None:
    produce_pipeline(gateway, kafka_settings.dlq_topic, 7, partitions=2)
    done = run_cli(["list", "--limit", "5"], env, tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "=" * 80
    assert lines[1] == "DLQ Messages (5 shown of 7 in the backlog)"
    assert lines[2] == (
        "backlog 7 (open 7 · replayed, waiting 0 · ready to resolve 0 · replay failed 0); "
        "resolved (still in Kafka) 0"
    )
    assert lines[4].split() == [
        "Part",
        "Offset",
        "State",
        "Age",
        "Trace",
        "ID",
        "Retry",
        "Category",
        "Error",
        "URL",
    ]
    rows = lines[6:]
    assert len(rows) == 5
    assert all(row.split()[2] == "open" for row in rows)
    assert all(" 4     transient " in row for row in rows)
    assert "sekrit" not in done.stdout  # X-Amz-Signature is masked (and the URL cut, as in
    assert all(row.endswith("...") for row in rows)  # the runbook's list)


def test_list_json_masks_unless_asked_and_all_includes_unparseable(
    kafka_settings: Settings, gateway: KafkaGateway, env: dict[str, str], tmp_path: Path
) -> None:
    produce(
        gateway,
        kafka_settings.dlq_topic,
        [
            (b"evt-1", pipeline_value("evt-1"), [], NOW_MS),
            (b"bad", b"\xff not json", [], NOW_MS + 1),
        ],
        partitions=1,
    )
    done = run_cli(["list", "--format", "json"], env, tmp_path)
    assert done.returncode == 0, done.stderr
    listing = json.loads(done.stdout)
    assert listing["counts"]["backlog"] == listing["counts"]["open"] == 2
    items = listing["records"]
    assert [item["trace_id"] for item in items] == ["evt-1"]
    required = {
        "topic",
        "partition",
        "offset",
        "timestamp",
        "trace_id",
        "retry_count",
        "error_category",
        "attachment_url",
        "domain",
        "error_signature",
        "parse_error",
        "gone",
        "state",
        "age_seconds",
    }
    assert required <= set(items[0])
    assert "sekrit" not in items[0]["attachment_url"]
    assert items[0]["domain"] == "claims-docs.s3.amazonaws.com"
    assert items[0]["timestamp"].startswith("2026-11-18T")

    every = json.loads(
        run_cli(
            ["list", "--all", "--no-refresh", "--format", "json", "--show-secrets"], env, tmp_path
        ).stdout
    )["records"]
    assert len(every) == 2
    bad = next(item for item in every if item["parse_error"])
    assert bad["offset"] == 1 and bad["retry_count"] is None and bad["attachment_url"] is None
    assert "sekrit" in next(item for item in every if not item["parse_error"])["attachment_url"]

    table = run_cli(["list", "--no-refresh"], env, tmp_path)
    assert "(+ 1 unparseable records not listed; `dlq list --all` shows them)" in table.stdout


def test_list_without_a_snapshot_or_a_broker_says_what_is_wrong(
    make_settings: object, tmp_path: Path
) -> None:
    settings = make_settings(bootstrap_servers="127.0.0.1:1")  # type: ignore[operator]
    env = {**settings_env(settings), "PYTHONPATH": str(REPO)}
    done = run_cli(["list", "--timeout", "1000"], env, tmp_path)
    assert done.returncode == 1
    assert "could not refresh the snapshot (Kafka at 127.0.0.1:1 is not answering)" in done.stderr
    assert "no snapshot at" in done.stderr
    assert "Traceback" not in done.stderr
    ingest = run_cli(["ingest"], {**env, "DLQ_KAFKA_SOCKET_TIMEOUT_MS": "1000"}, tmp_path)
    assert ingest.returncode == 1
    assert ingest.stderr.strip().startswith("dlq: Kafka at 127.0.0.1:1 is not answering")
    assert "KafkaError{" not in done.stderr + ingest.stderr


def test_ingest_json_summary(
    kafka_settings: Settings, gateway: KafkaGateway, env: dict[str, str], tmp_path: Path
) -> None:
    produce_pipeline(gateway, kafka_settings.dlq_topic, 12)
    done = run_cli(["ingest", "--format", "json", "--quiet"], env, tmp_path)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["records"] == 12 and summary["partitions"] == 3 and summary["missed"] == 0


def test_a_missing_topic_is_an_error_not_a_traceback(
    kafka_settings: Settings, env: dict[str, str], tmp_path: Path
) -> None:
    done = run_cli(["ingest"], env, tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"dlq: topic {kafka_settings.dlq_topic} does not exist on "
        f"{kafka_settings.bootstrap_servers}"
    )


def test_a_second_broker_start_changes_nothing(
    kafka_broker: BrokerUnderTest, tmp_path: Path
) -> None:
    if kafka_broker.data_dir is None:
        pytest.skip("the broker was not started by the project's launcher")
    port = kafka_broker.bootstrap.rsplit(":", 1)[1]
    state_file = kafka_broker.data_dir / "broker.json"
    before = state_file.read_text()
    done = run_cli(
        ["broker", "start", "--data-dir", str(kafka_broker.data_dir), "--port", port],
        {"PYTHONPATH": str(REPO)},
        tmp_path,
    )
    assert done.returncode == 0
    assert "already running" in done.stderr and "nothing changed" in done.stderr
    assert done.stdout.strip() == kafka_broker.bootstrap
    assert state_file.read_text() == before
    status = run_cli(
        ["broker", "status", "--data-dir", str(kafka_broker.data_dir)],
        {"PYTHONPATH": str(REPO)},
        tmp_path,
    )
    assert status.returncode == 0 and status.stdout.strip() == kafka_broker.bootstrap

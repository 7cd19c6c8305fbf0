"""A real Prometheus (Debian's package) scrapes a real `dlq ingest --follow --metrics-port`,
loads the alert rules and sees KafkaDLQGrowthRapid go pending, then firing, while a burst
arrives in the DLQ. The rules are the generated ones with every window and `for` duration
shrunk (alert_rules.rules_yaml's time_scale), thresholds as they are."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dashboard.adapters.kafka import KafkaGateway
from dashboard.devtools.broker.launcher import free_port
from dashboard.exports.alert_rules import rules_yaml
from dashboard.settings import Settings, dlq_name_of
from tests.conftest import REPO, settings_env
from tests.kafka_helpers import produce_pipeline

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

# 5 min -> 8 s: the rapid alert's window and `for`; the others' scale alike.
TIME_SCALE = 8 / 300
PROMETHEUS = "/usr/bin/prometheus"


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (a local test URL)
        return json.load(response)


def get_text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (a local test URL)
        return str(response.read().decode())


def wait_for(check: Any, what: str, seconds: float) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            found = check()
        except OSError:
            found = None
        if found:
            return found
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def prometheus_binary() -> str:
    found = shutil.which("prometheus") or (PROMETHEUS if Path(PROMETHEUS).exists() else None)
    if found is None:
        if os.environ.get("DLQ_REQUIRE_PROMETHEUS") == "1":
            pytest.fail("prometheus is missing (apt-get install prometheus)")
        pytest.skip("Debian's prometheus package is not installed")
    return found


def start(args: list[str], env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(args, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def follower(kafka_settings: Settings, tmp_path: Path) -> Iterator[str]:
    """`dlq ingest --follow 1 --metrics-port P`; yields its /metrics URL."""
    port = free_port()
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, **settings_env(kafka_settings), "PYTHONPATH": path}
    args = [sys.executable, "-m", "dashboard.cli.main", "ingest", "--follow", "1", "--quiet"]
    process = start([*args, "--metrics-port", str(port)], env, tmp_path, tmp_path / "ingest.log")
    try:
        yield f"http://127.0.0.1:{port}/metrics"
    finally:
        stop(process)


@pytest.fixture
def prometheus(prometheus_binary: str, follower: str, tmp_path: Path) -> Iterator[str]:
    """Prometheus scraping the follower every second with the quick rules; yields its URL."""
    config_dir = tmp_path / "prometheus"
    config_dir.mkdir()
    (config_dir / "dlq-alerts.yml").write_text(rules_yaml(Settings(), time_scale=TIME_SCALE))
    target = follower.removeprefix("http://").removesuffix("/metrics")
    (config_dir / "prometheus.yml").write_text(
        json.dumps(
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": ["dlq-alerts.yml"],
                "scrape_configs": [{"job_name": "dlq", "static_configs": [{"targets": [target]}]}],
            }
        )
    )
    port = free_port()
    process = start(
        [
            prometheus_binary,
            f"--config.file={config_dir / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        dict(os.environ),
        config_dir,
        tmp_path / "prometheus.log",
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: get_text(f"{url}/-/ready"), "Prometheus to be ready", 30)
        yield url
    finally:
        stop(process)


def rapid_alerts(prometheus: str) -> list[dict[str, Any]]:
    alerts = get_json(f"{prometheus}/api/v1/alerts")["data"]["alerts"]
    return [a for a in alerts if a["labels"]["alertname"] == "KafkaDLQGrowthRapid"]


def entered(prometheus: str, topic: str) -> float | None:
    query = urllib.parse.quote(f'dlq_records_entered_total{{topic="{topic}"}}')
    result = get_json(f"{prometheus}/api/v1/query?query={query}")["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def test_prometheus_sees_the_rapid_growth_alert_pending_then_firing(
    kafka_settings: Settings, gateway: KafkaGateway, prometheus: str, follower: str
) -> None:
    topic = kafka_settings.dlq_topic
    labels = f'dlq="{dlq_name_of(topic)}",topic="{topic}"'  # in the exposition's order
    produce_pipeline(gateway, topic, 5)
    # The exporter reads the snapshot the follower writes; Prometheus stores what it serves.
    wait_for(
        lambda: f"dlq_records_entered_total{{{labels}}} 5.0" in get_text(follower),
        "the follower to export the first records",
        30,
    )
    wait_for(lambda: entered(prometheus, topic) == 5, "Prometheus to scrape them", 30)
    time.sleep(2)
    assert rapid_alerts(prometheus) == []  # five records, no growth: quiet

    burst_over = threading.Event()

    def burst() -> None:  # 20 records every half second: 2,400 a minute
        start = 5
        while not burst_over.is_set():
            produce_pipeline(gateway, topic, 20, start=start)
            start += 20
            time.sleep(0.5)

    producer = threading.Thread(target=burst)
    producer.start()
    try:
        states: list[str] = []

        def firing() -> bool:
            for alert in rapid_alerts(prometheus):
                if not states or states[-1] != alert["state"]:
                    states.append(alert["state"])
            return "firing" in states

        wait_for(firing, "KafkaDLQGrowthRapid to fire", 45)
    finally:
        burst_over.set()
        producer.join()
    assert states[:2] == ["pending", "firing"]
    (alert,) = rapid_alerts(prometheus)
    assert alert["labels"] == {
        "alertname": "KafkaDLQGrowthRapid",
        "severity": "critical",
        "topic": topic,
        "dlq": dlq_name_of(topic),
    }
    assert float(alert["value"]) > 10  # records per minute
    assert alert["annotations"]["dashboard_url"].endswith(
        f"/messages?states=backlog&from=10m&dlq={dlq_name_of(topic)}"
    )
    assert "records/min" in alert["annotations"]["summary"]

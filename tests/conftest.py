"""Shared fixtures. Integration tests run against a real Apache Kafka, never a mock:

- `KAFKA_BOOTSTRAP_SERVERS` set: that cluster is used as it is;
- else, when a Docker daemon answers and DLQ_TEST_DOCKER=1: testcontainers' Kafka module;
- else: the project's own launcher starts a single-node KRaft broker for the session.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from dashboard.adapters.kafka import KafkaGateway
from dashboard.devtools.broker import launcher
from dashboard.devtools.broker.secured import make_secured_listener
from dashboard.settings import Settings
from tests.secured_cluster import USERS, SecuredCluster

# Tests without a broker write no audit topic (the integration tests' settings turn it on).
os.environ.setdefault("DLQ_AUDIT_TOPIC", "off")

REPO = Path(__file__).resolve().parent.parent


def _docker_answers() -> bool:
    try:
        done = subprocess.run(["docker", "info"], capture_output=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


@dataclass(frozen=True)
class BrokerUnderTest:
    bootstrap: str
    data_dir: Path | None  # set when the project's launcher started it


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerUnderTest]:
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        yield BrokerUnderTest(external, None)
        return
    if os.environ.get("DLQ_TEST_DOCKER") == "1" and _docker_answers():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer("apache/kafka:4.1.1").with_kraft() as container:
            yield BrokerUnderTest(container.get_bootstrap_server(), None)
        return
    data_dir = tmp_path_factory.mktemp("kafka")
    started = launcher.start(data_dir, launcher.free_port(), tie_to_parent=True)
    try:
        yield BrokerUnderTest(started.state.bootstrap, data_dir)
    finally:
        launcher.stop(data_dir)


@pytest.fixture(scope="session")
def secured_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredCluster]:
    """A second broker, started only for the tests that use it: SASL_SSL with PLAIN users and
    ACLs (the shape of Event Hubs, Confluent Cloud, MSK)."""
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        pytest.skip("secured-cluster tests need the project's own broker")
    directory = tmp_path_factory.mktemp("kafka-secured")
    listener = make_secured_listener(directory / "tls", USERS)
    data_dir = directory / "data"
    started = launcher.start(data_dir, launcher.free_port(), tie_to_parent=True, secured=listener)
    try:
        yield SecuredCluster(started.state.bootstrap, listener)
    finally:
        launcher.stop(data_dir)


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_broker: BrokerUnderTest) -> str:
    return kafka_broker.bootstrap


@pytest.fixture
def unique_topic() -> str:
    return f"test.dlq.{uuid.uuid4().hex[:10]}"


SettingsFactory = Callable[..., Settings]


@pytest.fixture
def make_settings(tmp_path: Path, unique_topic: str) -> SettingsFactory:
    """Settings for one test: its own topics, review group and DuckDB file."""

    def build(**overrides: object) -> Settings:
        values: dict[str, object] = {
            "dlq_topic": unique_topic,
            "pending_topic": unique_topic + ".pending",
            "review_group": f"review-{unique_topic}",
            "db": tmp_path / "snapshot.duckdb",
            "audit_log": tmp_path / "audit.jsonl",
            "db_lock_timeout_seconds": 60.0,
        }
        if "bootstrap_servers" not in overrides:
            values["audit_topic"] = "off"  # no broker: no audit topic to write to
        values.update(overrides)
        return Settings.model_validate(values)

    return build


@pytest.fixture
def kafka_settings(kafka_bootstrap: str, make_settings: SettingsFactory) -> Settings:
    return make_settings(bootstrap_servers=kafka_bootstrap)


@pytest.fixture
def gateway(kafka_settings: Settings) -> KafkaGateway:
    return KafkaGateway(kafka_settings)


def run_cli(
    args: list[str], env: dict[str, str], cwd: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run `dlq ...` as a separate process, as an operator would."""
    return subprocess.run(
        [sys.executable, "-m", "dashboard.cli.main", *args],
        env={**os.environ, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment variables that reproduce `settings` in a child process."""
    env = {
        "DLQ_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
        "DLQ_TOPIC": settings.dlq_topic,
        "DLQ_PENDING_TOPIC": settings.pending_topic,
        "DLQ_REVIEW_GROUP": settings.review_group,
        "DLQ_DB": str(settings.db),
        "DLQ_AUDIT_LOG": str(settings.audit_log),
        "DLQ_AUDIT_TOPIC": settings.audit_topic,
        "DLQ_DB_LOCK_TIMEOUT": str(settings.db_lock_timeout_seconds),
    }
    if settings.results_topic:
        env["DLQ_RESULTS_TOPIC"] = settings.results_topic
    for prop, value in settings.kafka.items():  # DLQ_KAFKA_SASL_PASSWORD -> sasl.password
        env["DLQ_KAFKA_" + prop.upper().replace(".", "_")] = str(value)
    return env

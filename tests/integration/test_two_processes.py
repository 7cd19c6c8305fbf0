"""The DuckDB file is shared: `dlq ingest --follow` writes while other processes read it and
refresh it. Nobody holds the file while idle, so every one of them gets its turn."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from dashboard.adapters.kafka import KafkaGateway
from dashboard.settings import Settings
from tests.conftest import REPO, run_cli, settings_env
from tests.kafka_helpers import kafka_positions, produce_pipeline, stored_positions

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def test_follow_writer_and_readers_share_the_file(
    kafka_settings: Settings, gateway: KafkaGateway, tmp_path: Path
) -> None:
    topic = kafka_settings.dlq_topic
    produce_pipeline(gateway, topic, 20_000)
    env = {**settings_env(kafka_settings), "PYTHONPATH": str(REPO)}
    follower = subprocess.Popen(
        [sys.executable, "-m", "dashboard.cli.main", "ingest", "--follow", "0.3", "--quiet"],
        env={**os.environ, **env},
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    done_producing = threading.Event()

    def keep_producing() -> None:
        for batch in range(10):
            produce_pipeline(gateway, topic, 500, start=20_000 + batch * 500)
            time.sleep(0.3)
        done_producing.set()

    producer = threading.Thread(target=keep_producing)
    producer.start()
    try:
        seen: list[int] = []
        deadline = time.monotonic() + 60
        while not kafka_settings.db.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        for round_ in range(15):
            # Every fifth reader also refreshes: a second ingester racing the follower.
            args = ["list", "--all", "--limit", "1", "--format", "json"]
            if round_ % 5:
                args.append("--no-refresh")
            done = run_cli(args, env=env, cwd=tmp_path)
            assert done.returncode == 0, done.stderr
            assert isinstance(json.loads(done.stdout)["records"], list)
            seen.append(len(stored_positions(kafka_settings)))
        producer.join()
        expected = kafka_positions(gateway, topic)
        deadline = time.monotonic() + 60
        while len(stored_positions(kafka_settings)) < len(expected):
            assert time.monotonic() < deadline, "the follower did not catch up"
            time.sleep(0.2)
    finally:
        done_producing.wait(timeout=30)
        follower.send_signal(signal.SIGTERM)
        out, err = follower.communicate(timeout=60)
    assert follower.returncode == 0, err.decode()
    assert seen == sorted(seen) and seen[-1] > 0
    assert stored_positions(kafka_settings) == expected  # no duplicates despite the race
    assert b"ingested" in out

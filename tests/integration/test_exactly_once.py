"""kill -9 at random moments, run again: no record lost, none stored twice, and what is kept
about the records (their trace landings, checked once per hold of the file) equals what they
say."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dashboard.adapters import trace_landings
from dashboard.adapters.db import Database
from dashboard.adapters.kafka import KafkaGateway
from dashboard.settings import Settings
from tests.conftest import REPO, settings_env
from tests.kafka_helpers import kafka_positions, produce_demo, stored_positions

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

RECORDS = 100_000
KILLS = 6


def start_ingest(settings: Settings, config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "dashboard.cli.main", "--config", str(config), "ingest", "--quiet"],
        env={**os.environ, **settings_env(settings), "PYTHONPATH": str(REPO)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def test_kill_9_at_random_points_neither_loses_nor_duplicates(
    kafka_settings: Settings, gateway: KafkaGateway, tmp_path: Path
) -> None:
    produce_demo(gateway, kafka_settings.dlq_topic, RECORDS, partitions=4, seed=11)
    expected = kafka_positions(gateway, kafka_settings.dlq_topic)
    assert len(expected) == RECORDS
    # Small transactions give the kills many commit points to land between.
    config = tmp_path / "dlq.toml"
    config.write_text("[ingest]\nbatch_records = 2000\ntransaction_records = 4096\n")

    rng = random.Random(2026)
    stored_after_kill: list[int] = []
    left_unchecked = 0  # records of a killed hold whose trace landings were never checked
    for _ in range(KILLS):
        process = start_ingest(kafka_settings, config)
        time.sleep(rng.uniform(0.8, 3.0))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        if kafka_settings.db.exists():
            positions = stored_positions(kafka_settings)
            assert len(positions) == len(set(positions)), "a record was stored twice"
            stored_after_kill.append(len(positions))
            with Database(kafka_settings.db).read() as con:
                left_unchecked += len(
                    con.execute("SELECT * FROM trace_landings_unchecked").fetchall()
                )

    finisher = start_ingest(kafka_settings, config)
    _, stderr = finisher.communicate(timeout=300)
    assert finisher.returncode == 0, stderr.decode()

    assert stored_after_kill and stored_after_kill[0] < RECORDS, "no kill landed mid-run"
    assert stored_after_kill == sorted(stored_after_kill), "a kill lost committed rows"
    assert stored_positions(kafka_settings) == expected
    with Database(kafka_settings.db).read() as con:
        statuses = {row[0] for row in con.execute("SELECT status FROM ingest_runs").fetchall()}
        next_offsets = dict(
            con.execute('SELECT "partition", next_offset FROM ingest_positions').fetchall()
        )
        notes = con.execute("SELECT count(*) FROM trace_landings_unchecked").fetchone()
        wrong_flags = con.execute(
            f"SELECT count(*) FROM {trace_landings.derived_sql()} "
            "WHERE trace_repeated <> derived_repeated"
        ).fetchone()
        repeated = con.execute("SELECT count(*) FROM records WHERE trace_repeated").fetchone()
    assert "interrupted" in statuses and "ok" in statuses
    assert left_unchecked, "no kill landed mid-hold"
    assert notes == (0,) and wrong_flags == (0,)
    assert repeated is not None and repeated[0] > 0
    marks = gateway.watermarks(kafka_settings.dlq_topic, range(4))
    assert next_offsets == {p: wm.high for p, wm in marks.items()}

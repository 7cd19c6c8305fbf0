"""Actions under pressure: two operators racing, the broker dying mid-bulk."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from dashboard.actions import audit
from dashboard.actions.identity import Identity
from dashboard.actions.interrupted import settle_before_preview
from dashboard.actions.run import UNTHROTTLED_CHUNK, execute
from dashboard.actions.values import Progress, RecordRef, Request
from dashboard.adapters.db import Database
from dashboard.adapters.kafka import KafkaGateway, OutgoingRecord
from dashboard.devtools.broker import launcher
from dashboard.settings import Settings
from ingest.job import ingest_once
from tests.conftest import REPO, settings_env
from tests.integration.actions_support import read_topic, setup_dlq
from tests.kafka_helpers import NOW_MS, pipeline_value

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

RECORDS = 300


def _records(count: int) -> list[OutgoingRecord]:
    return [(f"evt-{i}".encode(), pipeline_value(f"evt-{i}"), [], NOW_MS + i) for i in range(count)]


def test_two_operators_racing_act_on_each_record_once(
    kafka_settings: Settings, gateway: KafkaGateway, tmp_path: Path
) -> None:
    setup_dlq(kafka_settings, gateway, _records(RECORDS), partitions=3)
    # The race under test is at execution. With the typed-count guard on, whichever process
    # previews second may see fewer eligible records than --count and rightly refuse before
    # acting (tests/integration/test_action_guards.py covers that guard), so it is lifted here.
    (tmp_path / "dlq.toml").write_text("[actions]\nconfirm_count_above = 1000\n")
    command = [
        sys.executable,
        "-m",
        "dashboard.cli.main",
        "replay",
        "--domain",
        "claims-docs.s3.amazonaws.com",
        "--reason",
        "race",
        "--yes",
        "--rate",
        "150",
        "--no-refresh",
        "--format",
        "json",
    ]
    processes = []
    for operator in ("ana", "bob"):
        env = {
            **os.environ,
            **settings_env(kafka_settings),
            "PYTHONPATH": str(REPO),
            "DLQ_OPERATOR": operator,
        }
        processes.append(
            subprocess.Popen(
                command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
        )
    outputs = [p.communicate(timeout=180) for p in processes]
    for process, (out, err) in zip(processes, outputs, strict=True):
        # 1 is "some refused" (the other operator had them); anything else is a crash
        assert process.returncode in (0, 1) and out, err.decode(errors="replace")
    reports = [json.loads(out) for out, _ in outputs]
    succeeded = [
        {r["record"] for r in rep["results"] if r["result"] == "success"} for rep in reports
    ]
    print("split between the two operators:", [len(s) for s in succeeded])
    assert not succeeded[0] & succeeded[1], "a record was replayed by both"
    assert len(succeeded[0] | succeeded[1]) == RECORDS
    for rep in reports:  # whatever one did not do, the other had done or was doing
        for r in rep["results"]:
            assert r["result"] in ("success", "refused"), r
    with Database(kafka_settings.db).read() as con:
        rows = con.execute(
            'SELECT topic, "partition", "offset", count(*) FROM replays '
            "GROUP BY ALL HAVING count(*) > 1"
        ).fetchall()
        total = con.execute("SELECT count(*) FROM replays").fetchone()
    assert rows == [] and total == (RECORDS,)
    assert len(read_topic(kafka_settings, kafka_settings.pending_topic, RECORDS)) == RECORDS


def test_the_broker_stopping_mid_bulk_never_counts_an_unacknowledged_replay(
    make_settings: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    data_dir = tmp_path_factory.mktemp("doomed-kafka")
    port = launcher.free_port()
    bootstrap = launcher.start(data_dir, port, tie_to_parent=True).state.bootstrap
    try:
        settings: Settings = make_settings(bootstrap_servers=bootstrap)
        settings = settings.model_copy(
            update={
                "actions": settings.actions.model_copy(update={"delivery_timeout_seconds": 5.0})
            }
        )
        gateway = KafkaGateway(settings, timeout=5)
        setup_dlq(settings, gateway, _records(400))
        refs = [RecordRef(settings.dlq_topic, 0, i) for i in range(400)]
        threading.Timer(2.0, launcher.stop, [data_dir]).start()
        report = execute(
            settings,
            Request("replay", refs, Identity("ana", "settings", True), "INC-9", rate=100.0),
            gateway=gateway,
        )
        ok, failed = report.count("success"), report.count("failure")
        assert ok > 0 and failed > 0, report.summary()
        assert all(r.error for r in report.results if r.result == "failure")
        with Database(settings.db).read() as con:
            recorded = con.execute(
                "SELECT pending_partition, pending_offset, trace_id FROM replays"
            ).fetchall()
            results = {
                e.result for e in audit.query(con, audit.AuditFilter(actions=("replay",)), 10_000)
            }
            claims = con.execute(
                "SELECT count(*) FILTER (WHERE token <> 'unsettled'), count(*) FROM action_claims"
            ).fetchone()
        assert len(recorded) == ok and results == {"success", "failure"}
        # Only the sends never acknowledged keep a claim, unsettled until Kafka answers.
        assert claims is not None and claims[0] == 0 and 0 < claims[1] <= failed

        launcher.start(data_dir, port, tie_to_parent=True)
        time.sleep(2)
        on_pending = {
            (m.partition(), m.offset()): m.key().decode()
            for m in read_topic(settings, settings.pending_topic, ok, timeout=30)
        }
        # Every replay counted as done is on the topic, as recorded; the topic may hold more
        # (sent, stored, but never acknowledged before the broker went away).
        for partition, offset, trace_id in recorded:
            assert on_pending.get((partition, offset)) == trace_id
        # Once Kafka answers, the unsettled ones are settled from the pending topic: every
        # message there is recorded as a replay, once.
        settle_before_preview(settings)
        with Database(settings.db).read() as con:
            assert con.execute("SELECT count(*) FROM action_claims").fetchone() == (0,)
            replayed = con.execute(
                "SELECT pending_partition, pending_offset FROM replays"
            ).fetchall()
        assert sorted(replayed) == sorted(on_pending)
        ingest_once(settings)
    finally:
        launcher.stop(data_dir)


_READ_FROM_ANOTHER_PROCESS = """
import sys, time
from pathlib import Path
from dashboard.adapters.db import Database
with Database(Path(sys.argv[1]), lock_timeout=120).read() as con:
    con.execute("SELECT count(*) FROM records").fetchone()
    print(time.time())
"""


def test_an_unthrottled_bulk_waiting_on_a_dead_broker_lets_the_dashboard_read(
    make_settings: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # Without a velocity limit a bulk keeps the DuckDB file open from chunk to chunk. When
    # the broker dies it waits out the delivery timeout for its acknowledgements: the
    # dashboard (another process) must get the file meanwhile, not only once the action ends.
    data_dir = tmp_path_factory.mktemp("doomed-kafka")
    bootstrap = launcher.start(data_dir, launcher.free_port(), tie_to_parent=True).state.bootstrap
    try:
        settings: Settings = make_settings(bootstrap_servers=bootstrap, audit_topic="off")
        settings = settings.model_copy(
            update={
                "actions": settings.actions.model_copy(update={"delivery_timeout_seconds": 10.0})
            }
        )
        gateway = KafkaGateway(settings, timeout=5)
        total = 3 * UNTHROTTLED_CHUNK
        setup_dlq(settings, gateway, _records(total))
        refs = [RecordRef(settings.dlq_topic, 0, i) for i in range(total)]
        read: list[subprocess.CompletedProcess[str]] = []
        stopped_at: list[float] = []

        def read_in_another_process() -> None:
            read.append(
                subprocess.run(
                    [sys.executable, "-c", _READ_FROM_ANOTHER_PROCESS, str(settings.db)],
                    capture_output=True,
                    text=True,
                    env={**os.environ, "PYTHONPATH": str(REPO)},
                    timeout=180,
                )
            )

        reader = threading.Thread(target=read_in_another_process)

        def broker_dies_after_the_first_chunk(progress: Progress) -> None:
            if reader.ident is None:  # not started yet
                launcher.stop(data_dir)
                stopped_at.append(time.time())
                reader.start()

        report = execute(
            settings,
            Request("replay", refs, Identity("ana", "settings", True), "INC-9"),
            gateway=gateway,
            progress=broker_dies_after_the_first_chunk,
        )
        returned_at = time.time()
        reader.join(timeout=180)
        assert report.stopped and report.count("failure") > 0, report.summary()
        assert read and read[0].returncode == 0, read and read[0].stderr
        read_at = float(read[0].stdout)
        # The read got in while the action still waited for Kafka, before the delivery
        # timeout (10 s) it waits out: not at the end of the wait.
        assert read_at < returned_at and read_at - stopped_at[0] < 10.0
    finally:
        launcher.stop(data_dir)

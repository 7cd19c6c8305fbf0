"""The dashboard's refresh button inside a page run: the ingest job writes from a thread of
its own while the page's thread, which shares one reader for its run, waits for it. Neither
may wait for the other (the job's first write closes the page's reader; a read by the
waiting thread while the writer works would hold it again)."""

from __future__ import annotations

import threading

import pytest

from dashboard.adapters.db import Database, one_read_connection
from dashboard.adapters.kafka import KafkaGateway
from dashboard.settings import Settings
from ingest.refresh import refresh_within
from tests.kafka_helpers import produce_pipeline

pytestmark = pytest.mark.kafka


def records(db: Database) -> int:
    with db.read() as con:
        row = con.execute("SELECT count(*) FROM records").fetchone()
    assert row is not None
    return int(row[0])


def test_a_refresh_after_the_page_read_the_snapshot_brings_in_what_is_new(
    kafka_settings: Settings, gateway: KafkaGateway
) -> None:
    produce_pipeline(gateway, kafka_settings.dlq_topic, 20)
    assert refresh_within(kafka_settings, 30).summary is not None
    produce_pipeline(gateway, kafka_settings.dlq_topic, 15, start=20)
    db = Database.of(kafka_settings)
    outcome: list[int] = []

    def page_run() -> None:  # as the entry point runs a page: one reader for the run
        with one_read_connection():
            outcome.append(records(db))
            done = refresh_within(kafka_settings, 30)
            assert done.summary is not None, done.failure
            outcome.append(records(db))

    run = threading.Thread(target=page_run)
    run.start()
    run.join(timeout=60)
    assert not run.is_alive(), "the refresh waited for the page run's own reader"
    assert outcome == [20, 35]

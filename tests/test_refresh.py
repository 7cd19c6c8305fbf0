"""The bounded refresh the CLI's reading commands and the dashboard's button share."""

from __future__ import annotations

import pytest

from dashboard.adapters.db import Database
from dashboard.adapters.kafka import BrokerUnreachable, KafkaGateway
from dashboard.settings import DlqSettings
from ingest.job import ingest_once
from ingest.refresh import refresh_within
from tests.conftest import SettingsFactory
from tests.snapshots import write_snapshot


def test_a_broker_that_does_not_answer_is_an_answer_not_a_crash(
    make_settings: SettingsFactory,
) -> None:
    settings = make_settings(bootstrap_servers="127.0.0.1:1")
    done = refresh_within(settings, 1.0)
    assert done.summary is None
    assert done.failure == "Kafka at 127.0.0.1:1 is not answering"
    assert not settings.db.exists()  # nothing written for a refresh that read nothing


def test_an_ingest_kafka_does_not_answer_is_recorded_for_the_stale_banner(
    make_settings: SettingsFactory,
) -> None:
    first = make_settings(bootstrap_servers="127.0.0.1:1")
    second = first.dlq_topic + ".other"
    settings = first.model_copy(
        update={
            "dlqs": (
                DlqSettings.model_validate(
                    {"name": "one", "topic": first.dlq_topic, "review_group": "g1"}
                ),
                DlqSettings.model_validate({"name": "two", "topic": second, "review_group": "g2"}),
            )
        }
    )
    write_snapshot(settings.db, [], topic=first.dlq_topic)  # one good run, long ago
    quick = KafkaGateway(settings, timeout=1.0)
    for _ in range(2):  # a follower's two attempts through one outage
        with pytest.raises(BrokerUnreachable):
            ingest_once(settings, gateway=quick)
    with Database(settings.db).read() as con:
        runs = con.execute(
            "SELECT topic, status, error FROM ingest_runs ORDER BY run_id"
        ).fetchall()
    not_answering = "Kafka at 127.0.0.1:1 is not answering"
    # One failed run per DLQ for the outage (the second DLQ was not tried: Kafka is the same).
    assert runs == [
        (first.dlq_topic, "ok", None),
        (first.dlq_topic, "failed", not_answering),
        (second, "failed", not_answering),
    ]

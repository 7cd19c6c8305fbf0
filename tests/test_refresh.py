"""The bounded refresh the CLI's reading commands and the dashboard's button share."""

from __future__ import annotations

from ingest.refresh import refresh_within
from tests.conftest import SettingsFactory


def test_a_broker_that_does_not_answer_is_an_answer_not_a_crash(
    make_settings: SettingsFactory,
) -> None:
    settings = make_settings(bootstrap_servers="127.0.0.1:1")
    done = refresh_within(settings, 1.0)
    assert done.summary is None
    assert done.failure == "Kafka at 127.0.0.1:1 is not answering"
    assert not settings.db.exists()  # nothing written for a refresh that read nothing

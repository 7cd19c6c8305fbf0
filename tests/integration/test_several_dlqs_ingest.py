"""Several DLQs in one snapshot, on the real broker: one run reads every configured DLQ
topic exactly once, each parsed by its own format; a DLQ added later is back-filled from its
low watermark; a rerun adds nothing."""

from __future__ import annotations

import pytest

from dashboard.adapters.db import Database
from dashboard.adapters.kafka import KafkaGateway
from dashboard.settings import Settings
from ingest.job import ingest_once
from tests.integration.dlqs_support import dlq, produce_shape, with_dlqs
from tests.kafka_helpers import kafka_positions, produce_demo

pytestmark = pytest.mark.kafka


def stored(settings: Settings, topic: str) -> list[tuple[int, int]]:
    with Database(settings.db).read() as con:
        rows = con.execute(
            'SELECT "partition", "offset" FROM records WHERE topic = ? ORDER BY 1, 2', [topic]
        ).fetchall()
    return [(int(p), int(o)) for p, o in rows]


def test_one_run_reads_every_dlq_and_a_later_one_is_back_filled(
    kafka_settings: Settings, gateway: KafkaGateway
) -> None:
    xact = dlq(kafka_settings, "xact", "xact-download")
    claimx = dlq(kafka_settings, "claimx", "claimx-download")
    envelope = dlq(kafka_settings, "generic", "envelope")
    produce_demo(gateway, xact["topic"], 400)
    produce_shape(gateway, claimx["topic"], "claimx-download", 300)
    produce_shape(gateway, envelope["topic"], "envelope", 200)  # not configured yet

    two = with_dlqs(kafka_settings, xact, claimx)
    first = ingest_once(two)
    assert first.records == 700
    assert [s.topic for s in first.per_dlq] == [xact["topic"], claimx["topic"]]
    for d in (xact, claimx):
        assert stored(two, d["topic"]) == kafka_positions(gateway, d["topic"])
    assert stored(two, envelope["topic"]) == []

    # The third DLQ, added to the settings later, is read from its low watermark.
    three = with_dlqs(kafka_settings, xact, claimx, envelope)
    second = ingest_once(three)
    assert [s.records for s in second.per_dlq] == [0, 0, 200]
    assert stored(three, envelope["topic"]) == kafka_positions(gateway, envelope["topic"])
    assert ingest_once(three).records == 0  # a rerun adds nothing

    with Database(three.db).read() as con:
        formats = con.execute(
            "SELECT topic, dlq_format, count(*), count(parse_error), "
            "count(media_id) FILTER (parse_error IS NULL), "
            "count(origin_topic) FILTER (parse_error IS NULL), "
            "count(error_message) FILTER (parse_error IS NULL) FROM records GROUP BY ALL ORDER BY 1"
        ).fetchall()
        runs = con.execute("SELECT topic, count(*) FROM ingest_runs GROUP BY ALL").fetchall()
    by_topic = {row[0]: row[1:] for row in formats}
    fmt, count, bad, media, _, errors = by_topic[claimx["topic"]]
    assert (fmt, count) == ("claimx-download", 300)
    assert media == count - bad  # every readable ClaimX record has its media_id
    assert errors == 0  # and no error text: the shape has none
    fmt, count, bad, _, origins, errors = by_topic[envelope["topic"]]
    assert (fmt, count) == ("envelope", 200)
    assert origins == errors == count - bad
    assert by_topic[xact["topic"]][0] == "xact-download"
    # One run per DLQ topic per ingest: two, three and three.
    assert dict(runs) == {xact["topic"]: 3, claimx["topic"]: 3, envelope["topic"]: 2}


def test_a_missing_topic_is_skipped_with_a_warning(
    kafka_settings: Settings, gateway: KafkaGateway
) -> None:
    xact = dlq(kafka_settings, "xact", "xact-download")
    produce_demo(gateway, xact["topic"], 50)
    settings = with_dlqs(kafka_settings, xact, dlq(kafka_settings, "absent", "envelope"))
    summary = ingest_once(settings)
    assert summary.records == 50
    assert any("absent" in w for w in summary.warnings)


def test_topics_the_discover_pattern_matches_are_read_as_any_dlqs(
    kafka_settings: Settings, gateway: KafkaGateway
) -> None:
    xact = dlq(kafka_settings, "xact", "xact-download")
    produce_demo(gateway, xact["topic"], 20)
    found = f"{kafka_settings.dlq_topic}.orders.dlq"  # not configured; the pattern matches it
    produce_shape(gateway, found, "envelope", 30)
    produce_shape(gateway, f"{kafka_settings.dlq_topic}.orders.pending", "envelope", 5)
    settings = with_dlqs(kafka_settings, xact).model_copy(
        update={"discover": f"{kafka_settings.dlq_topic}.*.dlq"}
    )
    summary = ingest_once(settings)
    assert [s.topic for s in summary.per_dlq] == [xact["topic"], found]
    assert summary.records == 50
    assert stored(settings, found) == kafka_positions(gateway, found)
    with Database(settings.db).read() as con:
        (fmt,) = con.execute(
            "SELECT DISTINCT dlq_format FROM records WHERE topic = ?", [found]
        ).fetchone() or (None,)
    assert fmt == "any"

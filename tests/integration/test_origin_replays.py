"""Replays to the topic a record came from, on the real broker: an "any" DLQ's foreign
records (Kafka Connect, Spring Kafka headers) go back byte for byte, and a replay to origin
killed midway is settled from the origin topics, like one to a pending topic."""

from __future__ import annotations

import json
import random
import socket
from datetime import UTC, datetime

import pytest

from dashboard.actions import audit
from dashboard.actions.interrupted import settle_before_preview
from dashboard.actions.replay_formats import build_for_dlq
from dashboard.actions.values import RecordRef
from dashboard.adapters.db import Database, transaction
from dashboard.adapters.kafka import KafkaGateway, OutgoingRecord
from dashboard.devtools import demo_formats
from dashboard.settings import Settings
from ingest.job import ingest_once
from tests.integration.actions_support import read_topic, replay
from tests.integration.dlqs_support import dlq, with_dlqs
from tests.kafka_helpers import NOW_MS, pipeline_value, produce

pytestmark = pytest.mark.kafka

MARKERS = {"replayed_from_dlq", "dlq_topic", "dlq_partition", "dlq_offset"}


def origin_dlqs(base: Settings) -> Settings:
    return with_dlqs(base, dlq(base, "generic", "envelope"), dlq(base, "foreign", "any"))


def foreign_records(origin: str) -> list[OutgoingRecord]:
    """A Connect record, a Spring one (binary partition and offset headers), and two that
    name no origin: raw text, and a pipeline task."""
    avro = b"\x00\x00\x00\x00\x07\x02\xfe\xff order"
    return [
        (
            b"order-7",
            avro,
            [
                ("content-type", b"avro/binary"),
                ("__connect.errors.topic", origin.encode()),
                ("__connect.errors.partition", b"0"),
                ("__connect.errors.offset", b"812"),
                ("__connect.errors.exception.message", b"Unknown magic byte!"),
                ("x-trace", b"\xc3\xa9vt-1"),
                ("x-empty", None),
            ],
            NOW_MS,
        ),
        (
            None,
            b'{"id": 8, "total": 12.50}',
            [
                ("kafka_dlt-original-topic", origin.encode()),
                ("kafka_dlt-original-partition", (0).to_bytes(4, "big")),
                ("kafka_dlt-original-offset", (813).to_bytes(8, "big")),
                ("kafka_dlt-exception-fqcn", b"org.example.BadOrder"),
                ("traceparent", b"00-abc-def-01"),
            ],
            NOW_MS + 1,
        ),
        (b"k", b"no origin", [("content-type", b"text/plain")], NOW_MS + 2),
        (b"evt-9", pipeline_value("evt-9"), [], NOW_MS + 3),
    ]


def test_an_any_dlqs_record_goes_back_to_its_origin_byte_for_byte(
    kafka_settings: Settings, gateway: KafkaGateway
) -> None:
    settings = origin_dlqs(kafka_settings)
    foreign = settings.for_dlq("foreign")
    origin = f"{kafka_settings.dlq_topic}.orders"
    gateway.create_topic(origin, 1)
    records = foreign_records(origin)
    produce(gateway, foreign.dlq_topic, records, partitions=1)
    ingest_once(settings)
    refs = [RecordRef(foreign.dlq_topic, 0, o) for o in range(4)]
    report = replay(foreign, refs)
    outcome = {r.ref.offset: r for r in report.results}
    assert (outcome[0].result, outcome[1].result) == ("success", "success"), report.results
    # Raw text is stored unparsed, so the claim refuses it, for what matters in an "any"
    # DLQ: no origin (not "nothing to replay": its bytes would be sent as they are); a task
    # that parses is refused when its message is built: it names no topic to go back to.
    assert outcome[2].result == "refused"
    assert "names no origin topic" in (outcome[2].error or "")
    assert "unparseable" not in (outcome[2].error or "")
    assert outcome[3].result == "failure"
    assert "names no origin topic" in (outcome[3].error or "")
    connect, spring = read_topic(foreign, origin, 2)
    assert (connect.key(), connect.value()) == (b"order-7", records[0][1])
    sent = connect.headers()
    # The message's own headers, in order and as they were (a null one stays null); the
    # Connect error headers are gone; the markers follow.
    assert sent[:3] == [
        ("content-type", b"avro/binary"),
        ("x-trace", b"\xc3\xa9vt-1"),
        ("x-empty", None),
    ]
    assert {k for k, _ in sent[3:]} == MARKERS
    assert dict(sent)["dlq_offset"] == b"0"
    assert (spring.key(), spring.value()) == (None, records[1][1])
    assert spring.headers()[0] == ("traceparent", b"00-abc-def-01")
    assert {k for k, _ in spring.headers()[1:]} == MARKERS
    assert {outcome[o].detail["pending_topic"] for o in (0, 1)} == {origin}


def test_a_replay_to_origin_killed_midway_is_settled_from_the_origin_topics(
    kafka_settings: Settings, gateway: KafkaGateway
) -> None:
    settings = origin_dlqs(kafka_settings)
    generic, foreign = settings.for_dlq("generic"), settings.for_dlq("foreign")
    envelope_origin = f"{kafka_settings.dlq_topic}.enrich.pending"
    foreign_origin = f"{kafka_settings.dlq_topic}.orders"
    for topic in (envelope_origin, foreign_origin):
        gateway.create_topic(topic, 2)
    envelopes: list[OutgoingRecord] = []
    for i in range(2):
        record = demo_formats.envelope(random.Random(i), datetime.now(UTC), offset=500 + i)
        assert record.value is not None
        value = json.loads(record.value)
        value["original_topic"] = envelope_origin
        envelopes.append((record.key, json.dumps(value).encode(), record.headers, NOW_MS + i))
    produce(gateway, generic.dlq_topic, envelopes, partitions=1)
    produce(gateway, foreign.dlq_topic, foreign_records(foreign_origin)[:2], partitions=1)
    ingest_once(settings)

    # A bulk replay of four records dies after sending one of each DLQ's two: its claims
    # stay, held by a process that is gone.
    refs = [RecordRef(t, 0, o) for t in (generic.dlq_topic, foreign.dlq_topic) for o in (0, 1)]
    claimed_at = datetime.now(UTC)
    with Database.of(settings).write() as con, transaction(con):
        for ref in refs:
            con.execute(
                # By name, without a reason: claims as a version before 0013 left them.
                'INSERT INTO action_claims (topic, "partition", "offset", action, actor, '
                "claimed_at, token, pid, host) "
                "VALUES (?, ?, ?, 'replay', 'ana', ?, 'dead-run', ?, ?)",
                [
                    ref.topic,
                    ref.partition,
                    ref.offset,
                    claimed_at,
                    999_999_999,
                    socket.gethostname(),
                ],
            )
        stored = con.execute(
            'SELECT topic, "offset", "value", "key", headers FROM records ORDER BY ALL'
        ).fetchall()
    by_ref = {RecordRef(t, 0, o): (v, k, h) for t, o, v, k, h in stored}
    sent_by_the_dead_run = [refs[1], refs[2]]
    for ref in sent_by_the_dead_run:
        value, key, headers = by_ref[ref]
        message = build_for_dlq(
            settings.dlq_by_topic(ref.topic) or settings.dlq(),
            value,
            dlq_topic=ref.topic,
            dlq_partition=0,
            dlq_offset=ref.offset,
            actor="ana",
            replayed_at=claimed_at,
            key=key,
            headers=[(h["key"], h["value"]) for h in headers],
        )
        assert message.topic is not None
        gateway.produce_all(message.topic, [(message.key, message.value, message.headers, 0)])

    # The next preview settles them: the two sent as replayed, where they landed; the other
    # two as not sent.
    assert settle_before_preview(settings) == []
    with Database.of(settings).read() as con:
        assert con.execute("SELECT count(*) FROM action_claims").fetchone() == (0,)
        replays = con.execute(
            'SELECT topic, "offset", pending_topic FROM replays ORDER BY ALL'
        ).fetchall()
        entries = audit.query(con, audit.AuditFilter(actions=("replay",)))
    assert replays == [
        (foreign.dlq_topic, 0, foreign_origin),
        (generic.dlq_topic, 1, envelope_origin),
    ]
    results = {(e.topic, e.offset): e.result for e in entries}
    assert results == {
        (generic.dlq_topic, 0): "failure",
        (generic.dlq_topic, 1): "success",
        (foreign.dlq_topic, 0): "success",
        (foreign.dlq_topic, 1): "failure",
    }
    # A plain replay afterwards sends the two that were not sent, and nothing twice.
    for narrowed in (generic, foreign):
        mine = [r for r in refs if r.topic == narrowed.dlq_topic]
        report = replay(narrowed, mine)
        assert (report.count("success"), report.count("refused")) == (1, 1), report.results
    assert len(read_topic(settings, envelope_origin, 2)) == 2
    assert len(read_topic(settings, foreign_origin, 2)) == 2

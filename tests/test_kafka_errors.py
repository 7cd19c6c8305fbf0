"""Kafka's refusals in the operator's words: credentials, TLS and ACLs each named."""

from __future__ import annotations

import logging
from concurrent.futures import Future
from typing import cast

import pytest
from confluent_kafka import KafkaError, KafkaException, Producer

from dashboard.adapters.kafka import BrokerUnreachable, KafkaGateway, RepeatFilter, in_words
from dashboard.adapters.kafka.delivery import Delivery, Sender
from dashboard.settings import Settings

AT = "broker:9093"


def test_wrong_credentials_are_named_without_librdkafkas_address_and_timing() -> None:
    error = KafkaError(
        KafkaError._AUTHENTICATION,
        "sasl_ssl://broker:9093/bootstrap: SASL authentication error: Authentication failed: "
        "Invalid username or password (after 304ms in state AUTH_REQ)",
    )
    assert in_words(KafkaException(error), AT) == (
        "Kafka at broker:9093 refused the credentials: authentication failed (SASL "
        "authentication error: Authentication failed: Invalid username or password)"
    )


def test_tls_failures_and_missing_acls_are_named() -> None:
    tls = KafkaError(KafkaError._SSL, "ssl://b:1/bootstrap: SSL handshake failed: cert verify")
    assert (
        in_words(tls, AT)
        == "TLS with Kafka at broker:9093 failed (SSL handshake failed: cert verify)"
    )
    acl = KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED, "Broker: Topic authorization failed")
    assert in_words(acl, AT) == (
        "Kafka at broker:9093 refused: the Kafka user is not authorized "
        "(Broker: Topic authorization failed)"
    )


def test_kafka_properties_stay_out_of_the_settings_repr() -> None:
    settings = Settings.model_validate({"kafka": {"sasl.password": "s3cret-value"}})
    assert "s3cret-value" not in repr(settings)
    assert "s3cret-value" not in str(settings)


class _RefusingProducer:
    """A producer already in librdkafka's fatal state: produce() says only "Fatal error", and
    the reason is an event that poll() raises, `reason_after` polls later (never if None)."""

    def __init__(self, reason_after: int | None) -> None:
        self.reason_after = reason_after
        self.polls = 0

    def produce(self, *_args: object, **_kwargs: object) -> None:
        raise KafkaException(
            KafkaError(KafkaError._FATAL, "Unable to produce message: Local: Fatal error")
        )

    def poll(self, _timeout: float) -> int:
        self.polls += 1
        if self.reason_after is not None and self.polls > self.reason_after:
            raise KafkaException(
                KafkaError(
                    KafkaError.CLUSTER_AUTHORIZATION_FAILED,
                    "Failed to acquire idempotence PID from broker: Cluster authorization failed",
                    fatal=True,
                )
            )
        return 0


def _send_one(producer: _RefusingProducer) -> list[Delivery]:
    sender = Sender(cast(Producer, producer), delivery_timeout=5.0, bootstrap=AT)
    reports: list[Delivery] = []
    sender.send("t", [(0, (b"k", b"v", (), 0))], lambda _key, d: reports.append(d))
    return reports


def test_a_refused_send_names_the_fatal_errors_reason_even_when_it_comes_late() -> None:
    # librdkafka refuses produce() the moment its fatal state is set; the event that says
    # why may be served by the next poll or one a moment later.
    for reason_after in (0, 3):
        (report,) = _send_one(_RefusingProducer(reason_after))
        assert report.status == "failed"
        assert report.error == (
            "Kafka at broker:9093 refused: the Kafka user is not authorized (Failed to acquire "
            "idempotence PID from broker: Cluster authorization failed)"
        )


def test_a_refused_send_without_a_reason_says_fatal_error_and_returns() -> None:
    (report,) = _send_one(_RefusingProducer(None))
    assert report.status == "failed"
    assert report.error is not None and "Fatal error" in report.error


def test_librdkafkas_repeated_lines_are_let_through_once_a_minute() -> None:
    """A broker down had every client log each connection retry: thousands of lines."""
    repeats = RepeatFilter(interval=60.0)

    def line(text: str) -> logging.LogRecord:
        return logging.LogRecord("dlq.librdkafka", logging.ERROR, "", 0, text, None, None)

    first = "FAIL [rdkafka#producer-1] [thrd:b]: Connect failed (after 0ms in state CONNECT)"
    again = "FAIL [rdkafka#producer-25] [thrd:b]: Connect failed (after 12ms in state CONNECT)"
    other = "FAIL [rdkafka#consumer-2] [thrd:b]: SASL authentication failed"
    assert repeats.filter(line(first))
    assert not repeats.filter(line(again))  # the same line from another client
    assert repeats.filter(line(other))
    repeats.interval = 0.0  # a minute later
    assert repeats.filter(line(again))


def test_an_admin_request_without_an_answer_names_where_it_waited() -> None:
    gateway = KafkaGateway(Settings(bootstrap_servers="127.0.0.1:9"), timeout=0.05)
    never: Future[None] = Future()
    with pytest.raises(BrokerUnreachable, match=r"^no answer from 127\.0\.0\.1:9 within 0\.05s$"):
        gateway._answer(never)

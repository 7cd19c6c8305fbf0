"""Kafka's refusals in the operator's words: credentials, TLS and ACLs each named."""

from __future__ import annotations

from confluent_kafka import KafkaError, KafkaException

from dashboard.adapters.kafka import in_words
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

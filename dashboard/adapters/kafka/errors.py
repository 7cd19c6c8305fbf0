"""Kafka's answers in the operator's words, and what counts as retrying, not failing."""

from __future__ import annotations

import re

from confluent_kafka import KafkaError, KafkaException


def is_partition_eof(error: KafkaError) -> bool:
    """The consumer reached the current end of a partition (an event, not a failure)."""
    return bool(error.code() == KafkaError._PARTITION_EOF)


# Transient answers that librdkafka does not always flag as retriable in admin results.
RETRIABLE_CODES = frozenset(
    {
        KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
        KafkaError.COORDINATOR_NOT_AVAILABLE,
        KafkaError.NOT_COORDINATOR,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.REQUEST_TIMED_OUT,
        KafkaError._TIMED_OUT,
    }
)

# librdkafka's codes for "nobody answered at that address" (refused, unresolvable, timed
# out), as opposed to a broker that answered and said no.
_NOT_ANSWERING_CODES = frozenset(
    {
        KafkaError._TRANSPORT,
        KafkaError._ALL_BROKERS_DOWN,
        KafkaError._RESOLVE,
        KafkaError._TIMED_OUT,
        KafkaError._MSG_TIMED_OUT,
        KafkaError.REQUEST_TIMED_OUT,
    }
)


# The cluster answered and will never accept these credentials or this TLS set-up: retrying
# cannot help, so a client stops at the first one instead of waiting out its timeout.
REFUSED_CONNECTION_CODES = frozenset(
    {
        KafkaError._AUTHENTICATION,
        KafkaError.SASL_AUTHENTICATION_FAILED,
        KafkaError._SSL,
    }
)
_NOT_AUTHORIZED_CODES = frozenset(
    {
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
        KafkaError.GROUP_AUTHORIZATION_FAILED,
        KafkaError.CLUSTER_AUTHORIZATION_FAILED,
        KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
    }
)
# librdkafka prefixes a connection's errors with the broker's address and ends them with
# its state machine's timing: "sasl_ssl://h:9093/bootstrap: SASL ... (after 304ms in state
# AUTH_REQ)"; the operator needs the middle.
_BROKER_PREFIX = re.compile(r"^\S+://\S+?: ")
_STATE_SUFFIX = re.compile(r" \(after \d+ms in state \w+\)$")


def in_words(error: object, bootstrap: str) -> str:
    """A librdkafka error as an operator reads it (`Kafka at HOST:PORT is not answering`),
    never `KafkaError{code=_TRANSPORT,...}`: every message about Kafka trouble comes here."""
    if isinstance(error, KafkaException) and error.args:
        error = error.args[0]
    if isinstance(error, KafkaError):
        code = error.code()
        reason = _STATE_SUFFIX.sub("", _BROKER_PREFIX.sub("", error.str()))
        if code == KafkaError._SSL:
            return f"TLS with Kafka at {bootstrap} failed ({reason})"
        if code in REFUSED_CONNECTION_CODES:
            return f"Kafka at {bootstrap} refused the credentials: authentication failed ({reason})"
        if code in _NOT_AUTHORIZED_CODES:
            return f"Kafka at {bootstrap} refused: the Kafka user is not authorized ({reason})"
        if code in _NOT_ANSWERING_CODES:
            return f"Kafka at {bootstrap} is not answering"
        return f"Kafka at {bootstrap} answered: {reason}"
    return f"Kafka at {bootstrap}: {error}"


class BrokerUnreachable(Exception):
    """Kafka did not answer in time."""


class TopicUnreadable(BrokerUnreachable):
    """Kafka answered, but refused one topic's metadata (an ACL, a broken partition): the
    other topics may well be readable."""


class ConnectionRefused(BrokerUnreachable):
    """Kafka answered but refused the connection (credentials, TLS): no retry can help.
    A kind of BrokerUnreachable, so every place that copes with an unusable Kafka copes."""


class TopicMissing(Exception):
    """The topic does not exist on the cluster."""

"""Kafka's answers in the operator's words, and what counts as retrying, not failing."""

from __future__ import annotations

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


def in_words(error: object, bootstrap: str) -> str:
    """A librdkafka error as an operator reads it (`Kafka at HOST:PORT is not answering`),
    never `KafkaError{code=_TRANSPORT,...}`: every message about Kafka trouble comes here."""
    if isinstance(error, KafkaException) and error.args:
        error = error.args[0]
    if isinstance(error, KafkaError):
        if error.code() in _NOT_ANSWERING_CODES:
            return f"Kafka at {bootstrap} is not answering"
        return f"Kafka at {bootstrap} answered: {error.str()}"
    return f"Kafka at {bootstrap}: {error}"


class BrokerUnreachable(Exception):
    """Kafka did not answer in time."""


class TopicMissing(Exception):
    """The topic does not exist on the cluster."""

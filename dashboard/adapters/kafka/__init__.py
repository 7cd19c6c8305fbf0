"""The one package that talks to Kafka (confluent-kafka): clients, metadata, offsets; its
errors in words (errors.py) and the send loop (delivery.py).

Everything else asks this module for what it needs (partitions, watermarks, the review
group's committed offsets, a consumer positioned by `assign()`, a Sender to write with) and
never builds a client itself, so every client gets the same pass-through librdkafka
properties (SASL, TLS, ...) from the settings. Writes go through one send-and-acknowledge
loop (`Sender.send`): a record counts as delivered only once the broker acknowledged it.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, ClusterMetadata, NewTopic, OffsetSpec

from dashboard.adapters.kafka.delivery import (
    PRODUCER_TUNING,
    Delivery,
    DeliveryStatus,
    OutgoingRecord,
    Sender,
)
from dashboard.adapters.kafka.errors import (
    REFUSED_CONNECTION_CODES,
    RETRIABLE_CODES,
    BrokerUnreachable,
    ConnectionRefused,
    TopicMissing,
    TopicUnreadable,
    in_words,
    is_partition_eof,
)
from dashboard.adapters.kafka.reading import read_until_now
from dashboard.settings import Settings

__all__ = [
    "ANSWER_TIMEOUT_SECONDS",
    "OFFSET_BEGINNING",
    "READER_GROUP",
    "BrokerUnreachable",
    "ConnectionRefused",
    "Delivery",
    "DeliveryStatus",
    "KafkaError",
    "KafkaException",
    "KafkaGateway",
    "Message",
    "OutgoingRecord",
    "PartitionOffsets",
    "RepeatFilter",
    "Sender",
    "TopicMissing",
    "TopicUnreadable",
    "in_words",
    "is_partition_eof",
    "read_until_now",
]

LIBRDKAFKA_LOGGER = logging.getLogger("dlq.librdkafka")


class RepeatFilter(logging.Filter):
    """Lets a librdkafka line through once per `interval` seconds. While a broker is down,
    every client retries its connection a few times a second, each retry a line: the app's
    log got thousands in a few minutes. Lines that differ only in the client's name or a
    duration count as the same line."""

    _VARYING = re.compile(r"rdkafka#[\w.-]+|\d+ms")

    def __init__(self, interval: float = 60.0) -> None:
        super().__init__()
        self.interval = interval
        self._last: dict[str, float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = self._VARYING.sub("", record.getMessage())
        now = time.monotonic()
        if now - self._last.get(key, -self.interval) < self.interval:
            return False
        if len(self._last) > 1_000:  # bounded: a long-lived app sees many distinct lines
            self._last.clear()
        self._last[key] = now
        return True


LIBRDKAFKA_LOGGER.addFilter(RepeatFilter())
# How long a cluster question (metadata, offsets) waits for an answer by default.
ANSWER_TIMEOUT_SECONDS: Final = 10.0

# The group id of every consumer that only reads by assign(): librdkafka wants one, and looks
# up its coordinator, so on a cluster with ACLs the tool's user needs READ on it; it never
# joins nor commits.
READER_GROUP = "dlq-dashboard-reader"
# Metadata is asked in slices this long, so a refused connection (which librdkafka reports
# only through error_cb, and retries forever) stops the question at once, not at its timeout.
_REFUSAL_CHECK_SECONDS = 0.5

# Fetch tuning for reading a whole topic fast with bounded memory. librdkafka's default
# fetch.queue.backoff.ms (1 s) idles the fetcher whenever the local queue is full, which
# a bulk read hits all the time; the queue cap bounds the prefetched bytes. The cap is per
# partition, so the prefetch grows with the partition count: it only needs to keep the
# reader ahead of the ingest writer (the slower side). Fetches smaller than librdkafka's
# 1 MB per partition hold less in flight while the reader still outruns the writer.
BULK_READ_TUNING: Mapping[str, Any] = {
    "fetch.queue.backoff.ms": 10,
    "queued.max.messages.kbytes": 4096,
    "queued.min.messages": 2000,
    "max.partition.fetch.bytes": 256 * 1024,
}


@contextmanager
def _offset_reader(config: Mapping[str, Any], group: str) -> Iterator[Consumer]:
    """A consumer that only reads `group`'s committed offsets: it never subscribes (so never
    joins the group) and never commits.

    Not AdminClient.list_consumer_group_offsets: librdkafka (2.x) dereferences a null consumer
    group there when the coordinator answers NOT_COORDINATOR or is still loading, and the
    process dies with SIGSEGV (confluentinc/librdkafka#5040).
    """
    consumer = Consumer(
        {
            **config,
            "group.id": group,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
        }
    )
    try:
        yield consumer
    finally:
        consumer.close()


def broker_answers(
    bootstrap: str, timeout: float = 1.0, config: Mapping[str, Any] | None = None
) -> bool:
    """True when a broker at `bootstrap` answers metadata requests and its group coordinator
    answers offset requests (it loads a moment after the broker starts listening). `config`:
    more librdkafka properties (a secured listener's credentials)."""
    # log_level 0: a broker that is still starting refuses connections, which is expected.
    config = {
        **(config or {}),
        "bootstrap.servers": bootstrap,
        "log_level": 0,
        "logger": LIBRDKAFKA_LOGGER,
    }
    try:
        AdminClient(config).list_topics(timeout=timeout)
        with _offset_reader(config, "dlq-dashboard-readiness-probe") as consumer:
            consumer.committed([TopicPartition("__dlq_probe", 0)], timeout=timeout)
    except KafkaException:
        return False
    return True


@dataclass(frozen=True)
class PartitionOffsets:
    partition: int
    low: int  # first offset still in Kafka
    high: int  # next offset to be written: low..high-1 are the records in the topic


class KafkaGateway:
    """Kafka clients and the few cluster questions the dashboard asks, from one Settings."""

    def __init__(self, settings: Settings, timeout: float = ANSWER_TIMEOUT_SECONDS) -> None:
        self.settings = settings
        self.timeout = timeout
        self._admin: AdminClient | None = None
        self._refused: KafkaError | None = None

    # -- configuration ---------------------------------------------------------------------

    def base_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "bootstrap.servers": self.settings.bootstrap_servers,
            # librdkafka logs through Python logging rather than straight to stderr, so the
            # CLI can keep its connection chatter out of an operator's terminal.
            "logger": LIBRDKAFKA_LOGGER,
            "error_cb": self._heard,
        }
        config.update(self.settings.kafka)
        return config

    def _heard(self, error: KafkaError) -> None:
        """librdkafka's error callback: remember a refused connection (wrong credentials, a
        TLS failure), which it would otherwise only log while retrying until a timeout."""
        if error.code() in REFUSED_CONNECTION_CODES:
            self._refused = error

    def _raise_if_refused(self) -> None:
        if self._refused is not None:
            raise ConnectionRefused(in_words(self._refused, self.settings.bootstrap_servers))

    @property
    def admin(self) -> AdminClient:
        if self._admin is None:
            self._admin = AdminClient(self.base_config())
        return self._admin

    # -- metadata --------------------------------------------------------------------------

    def _cluster_metadata(self) -> ClusterMetadata:
        """Every topic's metadata; the first question any command asks, so it is where a
        refused connection is noticed, within a second."""
        self._refused = None  # only a refusal heard during this question counts
        deadline = time.monotonic() + self.timeout
        while True:
            remaining = max(deadline - time.monotonic(), 0.01)
            try:
                # All topics, not list_topics(topic=...): asking for one topic by name can make
                # a broker with auto.create.topics.enable create it.
                return self.admin.list_topics(timeout=min(_REFUSAL_CHECK_SECONDS, remaining))
            except KafkaException as exc:
                self.admin.poll(0)  # serves error_cb
                self._raise_if_refused()
                if time.monotonic() >= deadline:
                    raise BrokerUnreachable(self._unreachable(exc)) from None

    def partitions(self, topic: str) -> list[int]:
        metadata = self._cluster_metadata()
        described = metadata.topics.get(topic)
        user = self.settings.kafka.get("sasl.username")
        # With ACLs, a topic the user may not describe is left out of the answer.
        hidden = f" (or Kafka user {user} may not describe it)" if user else ""
        missing = TopicMissing(
            f"topic {topic} does not exist on {self.settings.bootstrap_servers}{hidden}"
        )
        if described is None:
            raise missing
        if described.error is not None:
            if described.error.code() in (
                KafkaError.UNKNOWN_TOPIC_OR_PART,
                KafkaError._UNKNOWN_TOPIC,
            ):
                raise missing
            raise TopicUnreadable(
                f"topic {topic}: {in_words(described.error, self.settings.bootstrap_servers)}"
            )
        return sorted(described.partitions)

    def topic_names(self) -> list[str]:
        """Every topic the broker lists (those the user may describe), sorted."""
        return sorted(self._cluster_metadata().topics)

    def topic_exists(self, topic: str) -> bool:
        try:
            self.partitions(topic)
        except TopicMissing:
            return False
        return True

    def create_topic(
        self,
        topic: str,
        partitions: int,
        replication: int = 1,
        config: Mapping[str, str] | None = None,
    ) -> bool:
        """Create `topic` (replication -1: the broker's default); False when it existed."""
        settings = dict(config or {})
        new = NewTopic(topic, partitions, replication_factor=replication, config=settings)
        futures = self.admin.create_topics(
            [new],
            operation_timeout=self.timeout,
        )
        try:
            self._answer(futures[topic])
        except KafkaException as exc:
            if exc.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS:
                return False
            raise
        return True

    def delete_topic(self, topic: str) -> None:
        futures = self.admin.delete_topics([topic], operation_timeout=self.timeout)
        self._answer(futures[topic])

    def delete_records_before(self, topic: str, offsets: Mapping[int, int]) -> None:
        """Delete each partition's records below the given offset (what retention does)."""
        futures = self.admin.delete_records(
            [TopicPartition(topic, p, o) for p, o in offsets.items()],
            request_timeout=self.timeout,
        )
        for future in futures.values():
            self._answer(future)

    def _answer(self, future: Future[Any]) -> Any:
        """An admin request's result; BrokerUnreachable, in words, when none comes in time
        (the future's own TimeoutError says nothing of where it waited)."""
        try:
            return future.result(timeout=self.timeout)
        except FutureTimeout:
            raise BrokerUnreachable(
                f"no answer from {self.settings.bootstrap_servers} within {self.timeout:g}s"
            ) from None

    def watermarks(self, topic: str, partitions: Iterable[int]) -> dict[int, PartitionOffsets]:
        parts = list(partitions)
        low = self._list_offsets(topic, parts, OffsetSpec.earliest())  # type: ignore[no-untyped-call]
        high = self._list_offsets(topic, parts, OffsetSpec.latest())  # type: ignore[no-untyped-call]
        return {p: PartitionOffsets(p, low[p], high[p]) for p in parts}

    def _list_offsets(self, topic: str, parts: list[int], spec: OffsetSpec) -> dict[int, int]:
        if not parts:
            return {}
        request = {TopicPartition(topic, p): spec for p in parts}

        def ask() -> dict[int, int]:
            futures = self.admin.list_offsets(request, request_timeout=self.timeout)
            return {tp.partition: f.result().offset for tp, f in futures.items()}

        result: dict[int, int] = self._retrying(ask)
        return result

    def _retrying(self, ask: Callable[[], Any]) -> Any:
        """Ask again while Kafka answers with a retriable error (a coordinator still loading
        after a restart, a leader election) until the timeout; then it is unreachable."""
        deadline = time.monotonic() + self.timeout
        pause = 0.1
        while True:
            try:
                return ask()
            except KafkaException as exc:
                error = exc.args[0]
                retriable = isinstance(error, KafkaError) and (
                    error.retriable() or error.code() in RETRIABLE_CODES
                )
                if not retriable or time.monotonic() + pause > deadline:
                    raise BrokerUnreachable(self._unreachable(exc)) from None
            time.sleep(pause)
            pause = min(pause * 2, 1.0)

    def committed_offsets(
        self, group: str, topic: str, partitions: Iterable[int]
    ) -> dict[int, int | None]:
        """The group's committed offset per partition (None where it never committed)."""
        parts = list(partitions)
        if not parts:
            return {}

        def ask() -> list[TopicPartition]:
            with _offset_reader(self.base_config(), group) as consumer:
                answer: list[TopicPartition] = consumer.committed(
                    [TopicPartition(topic, p) for p in parts], timeout=self.timeout
                )
                return answer

        found: dict[int, int | None] = dict.fromkeys(parts)
        for tp in self._retrying(ask):
            if tp.error is None and tp.offset >= 0:
                found[tp.partition] = tp.offset
        return found

    def commit_offsets(self, group: str, topic: str, offsets: Mapping[int, int]) -> None:
        """Commit `offsets` (partition -> next offset) for `group` without joining it, as the
        runbook's `resolve` does. Kafka refuses it while the group has active members."""
        if not offsets:
            return
        with _offset_reader(self.base_config(), group) as consumer:
            try:
                consumer.commit(
                    offsets=[TopicPartition(topic, p, o) for p, o in offsets.items()],
                    asynchronous=False,
                )
            except KafkaException as exc:
                raise BrokerUnreachable(
                    f"committing for group {group} failed: {self._unreachable(exc)}"
                ) from None

    # -- clients ---------------------------------------------------------------------------

    def reader(self, topic: str, positions: Mapping[int, int]) -> Consumer:
        """A consumer assigned to `positions` (partition -> offset) that never commits.

        It carries a group id only because librdkafka wants one; it never subscribes, so it
        never joins that group, and the review group is never touched.
        """
        config = self.base_config()
        config.update(BULK_READ_TUNING)
        config.update(
            {
                "group.id": READER_GROUP,
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "enable.partition.eof": True,
                "auto.offset.reset": "earliest",
            }
        )
        consumer = Consumer(config)
        consumer.assign([TopicPartition(topic, p, o) for p, o in positions.items()])
        return consumer

    def offsets_for_time(
        self, topic: str, partitions: Iterable[int], timestamp_ms: int
    ) -> dict[int, int]:
        """Per partition, the first offset whose timestamp is at or after `timestamp_ms`
        (the high watermark where none is)."""
        parts = list(partitions)
        config = {
            **self.base_config(),
            "group.id": READER_GROUP,
            "enable.auto.commit": False,
        }
        consumer = Consumer(config)
        try:
            found = consumer.offsets_for_times(
                [TopicPartition(topic, p, timestamp_ms) for p in parts], timeout=self.timeout
            )
        except KafkaException as exc:
            raise BrokerUnreachable(self._unreachable(exc)) from None
        finally:
            consumer.close()
        marks = self.watermarks(topic, parts)
        return {
            tp.partition: tp.offset if tp.offset >= 0 else marks[tp.partition].high for tp in found
        }

    def producer(self, delivery_timeout: float) -> Producer:
        """A producer with the settings every send here uses (see PRODUCER_TUNING); librdkafka
        gives up on a record not acknowledged within `delivery_timeout` seconds."""
        config = self.base_config()
        config.update(PRODUCER_TUNING)
        config["message.timeout.ms"] = int(delivery_timeout * 1000)
        return Producer(config)

    def sender(self, delivery_timeout: float | None = None) -> Sender:
        """A Sender (one producer, reused across sends); `delivery_timeout` defaults to six
        times this gateway's timeout, room for a bulk load's backlog."""
        timeout = delivery_timeout if delivery_timeout is not None else self.timeout * 6
        return Sender(self.producer(timeout), timeout, self.settings.bootstrap_servers)

    def produce_all(self, topic: str, records: Iterable[OutgoingRecord]) -> int:
        """Send (key, value, headers, timestamp_ms) records and wait for every
        acknowledgement; raise if any was not delivered. Returns how many were sent."""
        failures: list[str] = []
        unacknowledged = 0

        def delivered(_index: int, delivery: Delivery) -> None:
            nonlocal unacknowledged
            if delivery.status == "failed":
                failures.append(delivery.error or "")
            elif delivery.status == "unacknowledged":
                unacknowledged += 1

        sent = self.sender().send(topic, enumerate(records), delivered)
        if unacknowledged or failures:
            raise KafkaException(
                f"{len(failures) + unacknowledged} of {sent} records were not delivered to "
                f"{topic}: {failures[0] if failures else 'timed out'}"
            )
        return sent

    def _unreachable(self, exc: KafkaException) -> str:
        return in_words(exc, self.settings.bootstrap_servers)

    def close(self) -> None:
        self._admin = None

"""The one send-and-acknowledge loop: a record counts as delivered only once the broker
acknowledged it."""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal, TypeVar

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from dashboard.adapters.kafka.errors import in_words

# key, value, headers, timestamp in milliseconds (0: the time of sending)
OutgoingRecord = tuple[bytes | None, bytes | None, Sequence[tuple[str, bytes | None]], int]


# Every producer is idempotent with acks=all: a send counts only once every in-sync replica
# has it, and a retried send is never written twice. A short linger keeps one replay's
# acknowledgement quick; bulk sends still fill their batches, as the queue is never empty.
PRODUCER_TUNING: Mapping[str, Any] = {
    "enable.idempotence": True,
    "acks": "all",
    "linger.ms": 5,
    "compression.type": "lz4",
}
# How long a send waits beyond the delivery timeout for the last reports: librdkafka fails a
# record itself at the timeout, so "unacknowledged" is only for a client that never reports.
_REPORT_GRACE_SECONDS = 5.0
# Sends between two polls for delivery reports: served now and then, not per record.
_POLL_EVERY = 500
# How long a producer refused with a bare "Fatal error" waits for the error's reason.
_FATAL_REASON_SECONDS = 1.0

# What became of one record sent: the broker acknowledged it; librdkafka gave up on it (it
# says why); or no report came before the wait ended (it may still have landed).
DeliveryStatus = Literal["delivered", "failed", "unacknowledged"]

Key = TypeVar("Key", bound=Hashable)


@dataclass(frozen=True)
class Delivery:
    status: DeliveryStatus
    error: str | None = None  # failed: librdkafka's reason
    topic: str | None = None  # delivered: where the record landed
    partition: int | None = None
    offset: int | None = None
    timed_out: bool = False  # failed because the broker did not acknowledge it in time


class Sender:
    """One producer and the one send-and-acknowledge loop every write to Kafka goes through."""

    def __init__(self, producer: Producer, delivery_timeout: float, bootstrap: str) -> None:
        self._producer = producer
        self.delivery_timeout = delivery_timeout
        self._bootstrap = bootstrap
        # Why this producer can send nothing more (a fatal error, e.g. a user without the
        # right to write: an idempotent producer then gets no producer id), in words.
        self.fatal: str | None = None
        # Records sent and not yet reported on, insertion-ordered (the unacknowledged are
        # reported in the order sent): (call, the caller's key) -> the caller's on_delivery.
        self._waiting: dict[tuple[int, Hashable], Callable[[Any, Delivery], None]] = {}
        self._calls = 0

    def send(
        self,
        topic: str,
        records: Iterable[tuple[Key, OutgoingRecord]],
        on_delivery: Callable[[Key, Delivery], None],
    ) -> int:
        """Send `records` (each under a key of the caller's, unique within the call), then
        wait for every delivery report. `on_delivery` hears once about each record sent, in
        the order reports arrive; those with no report in time come last, "unacknowledged".
        A caller pacing or cancelling does it in `records`: sending stops when it ends.
        A fatal error (`fatal` says it in words) fails the record at hand and stops the
        sending: the rest of `records` is left untaken. Returns how many records were sent."""
        sent = self.enqueue(topic, records, on_delivery)
        self.wait()
        return sent

    def enqueue(
        self,
        topic: str,
        records: Iterable[tuple[Key, OutgoingRecord]],
        on_delivery: Callable[[Key, Delivery], None],
    ) -> int:
        """`send` without the wait: the reports come while later sends are made, and `wait`
        (or the next `send`) waits for the rest. Records of one topic partition land in the
        order they were enqueued (the producer is idempotent)."""
        self._calls += 1
        call = self._calls

        def reported(key: Key, err: KafkaError | None, msg: Message) -> None:
            if self._waiting.pop((call, key), None) is None:  # reported after a wait gave up
                return
            if err is not None:
                timed_out = err.code() in (KafkaError._MSG_TIMED_OUT, KafkaError._TIMED_OUT)
                why = in_words(err, self._bootstrap)
                on_delivery(key, Delivery("failed", error=why, timed_out=timed_out))
            else:
                on_delivery(
                    key, Delivery("delivered", None, msg.topic(), msg.partition(), msg.offset())
                )

        sent = 0
        waiting = self._waiting
        for key, record in records:
            waiting[(call, key)] = on_delivery
            if self.fatal is None:
                self._produce(topic, record, partial(reported, key))
            if self.fatal is not None:  # this record was not sent, nor will any after it be
                del waiting[(call, key)]
                on_delivery(key, Delivery("failed", error=self.fatal))
                break
            sent += 1
            if sent % _POLL_EVERY == 0:
                self._poll(0)
        return sent

    def wait(self, on_slow: Callable[[], None] | None = None, slow_after: float = 1.0) -> None:
        """Wait for the report of every record enqueued; those with none in time are
        reported "unacknowledged" (or failed, after a fatal error), in the order sent.
        `on_slow` is called once if the reports take longer than `slow_after` seconds (a
        caller holding something others wait for lets go of it there); the time it takes
        is added to the wait, so reports that came meanwhile are served, not given up on."""
        started = time.monotonic()
        deadline = started + self.delivery_timeout + _REPORT_GRACE_SECONDS
        while self._waiting and self.fatal is None and time.monotonic() < deadline:
            self._poll(0.1)
            if on_slow is not None and self._waiting and time.monotonic() - started > slow_after:
                called = time.monotonic()
                on_slow()
                on_slow = None
                deadline += time.monotonic() - called
        late = list(self._waiting.items())
        self._waiting.clear()
        for (_call, key), report in late:
            # After a fatal error librdkafka sends nothing more of what was queued.
            failed = Delivery("failed", error=self.fatal) if self.fatal is not None else None
            report(key, failed or Delivery("unacknowledged"))

    def _poll(self, timeout: float) -> None:
        """Serve delivery reports; a fatal error (raised from poll) is kept in `fatal`."""
        try:
            self._producer.poll(timeout)
        except KafkaException as exc:
            self.fatal = in_words(exc, self._bootstrap)

    def _produce(
        self,
        topic: str,
        record: OutgoingRecord,
        reported: Callable[[KafkaError | None, Message], None],
    ) -> None:
        record_key, value, headers, timestamp_ms = record
        # confluent-kafka takes a list (or None: no headers), not any sequence.
        header_list: list[tuple[str, str | bytes | None]] | None = (
            list(headers) if headers else None
        )
        while True:
            try:
                self._producer.produce(
                    topic,
                    value=value,
                    key=record_key,
                    headers=header_list,
                    timestamp=timestamp_ms,
                    on_delivery=reported,
                )
                return
            except BufferError:  # local queue full: let deliveries drain it
                self._poll(0.05)
                if self.fatal is not None:
                    return
            except KafkaException as exc:  # a fatal error: this producer will never send
                self.fatal = in_words(exc, self._bootstrap)
                self._await_fatal_reason()
                return

    def _await_fatal_reason(self) -> None:
        """produce() refused with librdkafka's bare "Local: Fatal error": the reason (a user
        without the right to write, say) comes as an event of its own, which poll() raises
        (see _poll). It may be a moment behind the refusal; without it, the bare words stay."""
        bare = self.fatal
        deadline = time.monotonic() + _FATAL_REASON_SECONDS
        while self.fatal == bare and time.monotonic() < deadline:
            self._poll(0.1)

    def close(self) -> None:
        """Wait (up to the delivery timeout) for anything still queued."""
        if self.fatal is not None:
            return  # nothing queued will ever be sent
        try:
            self._producer.flush(self.delivery_timeout)
        except KafkaException as exc:
            self.fatal = in_words(exc, self._bootstrap)

"""The audit's copies outside DuckDB: the JSON-lines log file and the audit topic in Kafka.

A hash chain only proves what came before its last link, so the table's chain is witnessed
by two copies: a file an operator can read with any tool, and a topic (idempotent producer,
acks=all, one partition, kept forever) that neither a shell on the file nor a DuckDB session
can quietly cut short. Entries are copied right after their transaction commits, while the
writer still holds the DuckDB file, so every copy receives them in id order. A copy that
cannot take an entry is named at once (`AuditCopies.write` returns where it is missing), and
`dlq audit verify` later names the first entry where the copies disagree.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from dashboard.actions.audit import COLUMNS, AuditEntry
from dashboard.adapters.kafka import (
    BrokerUnreachable,
    Delivery,
    KafkaException,
    KafkaGateway,
    Sender,
    TopicMissing,
    in_words,
    read_until_now,
)
from dashboard.settings import Settings

# How long an entry may wait for the audit topic: a look (view, list) pays it when Kafka is
# down, so it is shorter than a replay's delivery timeout.
AUDIT_TOPIC_TIMEOUT_SECONDS: Final = 10.0
# The topic keeps its entries forever (retention.ms -1): a witness that ages out is none.
AUDIT_TOPIC_CONFIG: Final = {"retention.ms": "-1", "cleanup.policy": "delete"}


# One encoder for every entry copied, not one per json.dumps call.
_ENTRY_JSON: Final = json.JSONEncoder(sort_keys=True)


def entry_json(entry: AuditEntry) -> str:
    return _ENTRY_JSON.encode(entry.as_json())


def entry_from_json(text: str | bytes) -> AuditEntry:
    """An entry from its JSON form; ValueError when it is not one."""
    try:
        data = json.loads(text)
        data["logged_at"] = datetime.fromisoformat(data["logged_at"])
        return AuditEntry(**{c: data[c] for c in COLUMNS})
    except (KeyError, TypeError) as exc:
        raise ValueError(str(exc)) from None


def write_jsonl(path: Path, entries: Sequence[AuditEntry], texts: Sequence[str] = ()) -> None:
    """Append entries to the JSON-lines copy of the log, durably (`texts`: their entry_json,
    when the caller has it already)."""
    lines = "".join(text + "\n" for text in (texts or [entry_json(e) for e in entries]))
    if not lines:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(lines)
        handle.flush()
        os.fsync(handle.fileno())


def file_entries(path: Path) -> Iterator[AuditEntry]:
    """The log file's entries in file order; a missing file holds none."""
    if not path.exists():
        return
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                yield entry_from_json(line)
            except ValueError as exc:
                raise ValueError(f"{path} line {number} is not an audit entry: {exc}") from None


def topic_entries(settings: Settings, topic: str) -> Iterator[AuditEntry]:
    """The audit topic's entries from its low watermark to its end; a missing topic holds
    none. Raises BrokerUnreachable when it cannot be read."""
    gateway = KafkaGateway(settings)
    try:
        messages = list(read_until_now(gateway, topic)) if gateway.topic_exists(topic) else []
    except KafkaException as exc:
        raise BrokerUnreachable(str(exc)) from None
    for message in messages:
        try:
            yield entry_from_json(message.value() or b"")
        except ValueError as exc:
            raise ValueError(
                f"{topic} offset {message.offset()} is not an audit entry: {exc}"
            ) from None


def which(entries: Sequence[AuditEntry]) -> str:
    if len(entries) == 1:
        return f"audit entry {entries[0].audit_id}"
    return f"audit entries {entries[0].audit_id}-{entries[-1].audit_id}"


class AuditCopies:
    """Writes committed entries to the log file and the audit topic, and says where they
    could not be written."""

    def __init__(self, settings: Settings, metadata: KafkaGateway | None = None) -> None:
        """`metadata`: a gateway to the same cluster the caller has connected already, asked
        whether the audit topic exists instead of connecting another admin client."""
        self.settings = settings
        self._metadata = metadata
        self._gateway: KafkaGateway | None = None
        self._sender: Sender | None = None
        # Entries the audit topic refused or did not acknowledge, not yet reported: id, why.
        self._failed: list[tuple[int, str]] = []
        # Why Kafka is known not to answer (see `kafka_down`); None: try the topic.
        self._kafka_down: str | None = None

    def kafka_down(self, why: str) -> None:
        """Kafka was just found not answering (the request's own check timed out): entries
        written from now on are reported missing in the audit topic at once, rather than
        each waiting out the topic's timeout on top of the check's."""
        self._kafka_down = why

    def write(self, entries: Sequence[AuditEntry], *, wait: bool = True) -> list[str]:
        """Copy `entries`; returns, in words, each copy they are missing from and why.

        `wait=False` does not wait for the audit topic's acknowledgement: a later `write` or
        `flush` reports these entries if they are missing there. Only while this process
        holds the DuckDB file from one write to the next (so no other process's entries can
        come between) and waits before letting go of it: the topic then still receives
        every entry in id order."""
        if not entries:
            return []
        missing: list[str] = []
        path = self.settings.audit_log
        texts = [entry_json(e) for e in entries]  # one JSON text per entry, for both copies
        try:
            write_jsonl(path, entries, texts)
        except OSError as exc:
            why = exc.strerror or str(exc)
            missing.append(f"{which(entries)} missing in the log file {path} ({why})")
        topic = self.settings.audit_topic_name
        if topic is not None and self._kafka_down is not None:
            missing.append(
                f"{which(entries)} missing in the audit topic {topic} ({self._kafka_down})"
            )
        elif topic is not None:
            missing += self._to_topic(topic, entries, texts, wait=wait)
        return missing

    def to_topic_only(self, entries: Sequence[AuditEntry]) -> list[str]:
        """Copy `entries` to the audit topic alone, waiting for its acknowledgement (`dlq
        audit resend`: entries the table and the log file hold already); returns, in words,
        those it lacks."""
        topic = self.settings.audit_topic_name
        if topic is None or not entries:
            return []
        return self._to_topic(topic, entries, [entry_json(e) for e in entries], wait=True)

    def _to_topic(
        self, topic: str, entries: Sequence[AuditEntry], texts: Sequence[str], *, wait: bool
    ) -> list[str]:
        missing: list[str] = []
        try:
            self._enqueue(topic, entries, texts)
            if wait:
                self._wait()
        except (BrokerUnreachable, KafkaException) as exc:
            # BrokerUnreachable is already in words; a client's own error is not yet.
            why = (
                str(exc)
                if isinstance(exc, BrokerUnreachable)
                else in_words(exc, self.settings.bootstrap_servers)
            )
            missing.append(f"{which(entries)} missing in the audit topic {topic} ({why})")
        if wait:
            missing += self.flush()
        return missing

    def flush(self) -> list[str]:
        """Wait for the audit topic's acknowledgement of every entry written; returns, in
        words, the entries it lacks (see `write`)."""
        topic = self.settings.audit_topic_name
        if topic is None:
            return []
        self._wait()
        failed, self._failed = self._failed, []
        if not failed:
            return []
        ids = sorted(audit_id for audit_id, _ in failed)
        named = f"audit entry {ids[0]}" if len(ids) == 1 else f"audit entries {ids[0]}-{ids[-1]}"
        return [f"{named} missing in the audit topic {topic} ({failed[0][1]})"]

    def _enqueue(self, topic: str, entries: Sequence[AuditEntry], texts: Sequence[str]) -> None:
        if self._sender is None:
            gateway = KafkaGateway(self.settings, timeout=AUDIT_TOPIC_TIMEOUT_SECONDS)
            admin = self._metadata or gateway
            try:
                admin.partitions(topic)
            except TopicMissing:
                admin.create_topic(topic, 1, -1, AUDIT_TOPIC_CONFIG)
            self._gateway = gateway
            self._sender = gateway.sender(AUDIT_TOPIC_TIMEOUT_SECONDS)

        def delivered(audit_id: int, delivery: Delivery) -> None:
            if delivery.status != "delivered":
                self._failed.append((audit_id, delivery.error or "not acknowledged in time"))

        records: Any = (
            (e.audit_id, (str(e.audit_id).encode(), text.encode(), [], 0))
            for e, text in zip(entries, texts, strict=True)
        )
        self._sender.enqueue(topic, records, delivered)

    def _wait(self) -> None:
        if self._sender is not None:
            self._sender.wait()

    def close(self) -> None:
        if self._sender is not None:
            self._sender.close()
            self._sender = None

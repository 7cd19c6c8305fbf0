"""Settling what a dead process left: claims whose holder is gone are released, and a replay
whose outcome is unknown is settled from Kafka, not guessed.

A replayed message carries `dlq_topic`/`dlq_partition`/`dlq_offset` headers, so the topic it
went to, read back from the claim's time (offsets_for_time), shows which of the interrupted
replays landed. That topic is the record's DLQ's pending topic, or, for a DLQ replayed to
"origin" (the envelope, foreign conventions), the origin topic the parse found in the record
(its `origin_topic` column: where replay_formats sends it). Those that landed are recorded
as replayed (a `replays` row and an audit entry), the rest as not sent. While Kafka cannot
be read the claims stay, marked unsettled, and a replay of those records is refused with
that reason (preview.why_not). A resolve changes nothing until its transaction commits, so
an interrupted one is simply released.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from dashboard.actions import audit
from dashboard.actions.audit_copies import AuditCopies
from dashboard.actions.claims import UNSETTLED
from dashboard.actions.outcome_rows import REPLAY_COLUMNS
from dashboard.actions.values import CLAIM_LEASE, RecordRef
from dashboard.adapters import record_states
from dashboard.adapters.db import Connection, Database, insert_rows, transaction
from dashboard.adapters.kafka import (
    BrokerUnreachable,
    KafkaGateway,
    Message,
    TopicMissing,
    read_until_now,
)
from dashboard.adapters.processes import holder_gone
from dashboard.settings import Settings

# Read the pending topic from a little before the claim: the broker's clock may differ.
_CLOCK_MARGIN: Final = timedelta(seconds=30)


@dataclass(frozen=True)
class _Claim:
    ref: RecordRef
    action: str
    actor: str
    claimed_at: datetime
    token: str
    pid: int
    host: str
    reason: str | None  # the request's (None: claimed by a version that did not keep it)


@dataclass(frozen=True)
class _Landed:
    topic: str
    partition: int
    offset: int


def settle_interrupted(settings: Settings, kafka: KafkaGateway, copies: AuditCopies) -> list[str]:
    """Release the claims of holders that are gone and settle their replays; returns where
    the audit entries this wrote are missing (see AuditCopies.write)."""
    db = Database.of(settings)
    with db.read() as con:
        gone = _gone_claims(con)
        replays = [c for c in gone if c.action == "replay"]
        targets = _targets(con, settings, replays)
    if not gone:
        return []
    landed: dict[RecordRef, _Landed] | None = {}
    why_unknown = ""
    if replays:
        try:
            landed = _landed(kafka, replays, targets)
        except BrokerUnreachable as exc:
            landed, why_unknown = None, str(exc)
    with db.write() as con:
        with transaction(con):
            still = {(c.ref, c.token) for c in _gone_claims(con)}
            settle = [c for c in gone if (c.ref, c.token) in still]
            made = _settle(con, settle, landed, why_unknown)
        return copies.write(made)


def _gone_claims(con: Connection) -> list[_Claim]:
    rows = con.execute(
        'SELECT topic, "partition", "offset", action, actor, claimed_at, token, pid, host, '
        "reason FROM action_claims"
    ).fetchall()
    claims = [_Claim(RecordRef(t, p, o), *rest) for t, p, o, *rest in rows]
    return [c for c in claims if holder_gone(c.pid, c.host, c.claimed_at, CLAIM_LEASE)]


def _targets(con: Connection, settings: Settings, claims: Sequence[_Claim]) -> dict[RecordRef, str]:
    """The topic each claimed record's replay was sent to (none known: not replayable, so
    not sent). Every claim is settled whatever DLQ it is of, so each by its own DLQ."""
    targets: dict[RecordRef, str] = {}
    for c in claims:
        dlq = settings.dlq_by_topic(c.ref.topic) or settings.dlq()
        if not dlq.replays_to_origin:
            targets[c.ref] = dlq.replay_target
            continue
        row = con.execute(
            'SELECT origin_topic FROM records WHERE topic = ? AND "partition" = ? AND "offset" = ?',
            [c.ref.topic, c.ref.partition, c.ref.offset],
        ).fetchone()
        if row and row[0]:
            targets[c.ref] = str(row[0])
    return targets


def _landed(
    kafka: KafkaGateway, claims: Sequence[_Claim], targets: dict[RecordRef, str]
) -> dict[RecordRef, _Landed]:
    """Where on its target topic each of `claims`' records landed since its claim."""
    found: dict[RecordRef, _Landed] = {}
    for topic in sorted(set(targets.values())):
        mine = [c for c in claims if targets.get(c.ref) == topic]
        since = min(c.claimed_at for c in mine) - _CLOCK_MARGIN
        try:
            parts = kafka.partitions(topic)
        except TopicMissing:
            continue  # an origin topic that does not exist received nothing
        starts = kafka.offsets_for_time(topic, parts, int(since.timestamp() * 1000))
        wanted = {c.ref for c in mine}
        for message in read_until_now(kafka, topic, starts):
            ref = replayed_from(message)
            if ref in wanted and ref not in found:
                found[ref] = _Landed(topic, message.partition() or 0, message.offset() or 0)
    return found


def replayed_from(message: Message) -> RecordRef | None:
    """The DLQ record a replayed message came from: its headers, or (a message sent before
    the headers were added) the task's metadata."""
    headers: dict[str, bytes] = {}
    pairs: Any = message.headers() or []  # typed loosely by confluent-kafka's stubs
    for name, value in pairs:
        if value is not None:
            headers[str(name)] = value if isinstance(value, bytes) else str(value).encode()
    try:
        if {"dlq_topic", "dlq_partition", "dlq_offset"} <= headers.keys():
            return RecordRef(
                headers["dlq_topic"].decode(),
                int(headers["dlq_partition"]),
                int(headers["dlq_offset"]),
            )
        meta = json.loads(message.value() or b"{}").get("metadata") or {}
        return RecordRef(
            str(meta["dlq_topic"]), int(meta["dlq_partition"]), int(meta["dlq_offset"])
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def _settle(
    con: Connection,
    claims: Sequence[_Claim],
    landed: dict[RecordRef, _Landed] | None,
    why_unknown: str,
) -> list[audit.AuditEntry]:
    """Within the caller's transaction: audit and release what can be settled; mark the rest
    unsettled (audited once, when first found)."""
    trace_ids = _trace_ids(con, [c.ref for c in claims])

    def _entry(
        c: _Claim, result: str, error: str | None, spot: _Landed | None = None, said: str = ""
    ) -> audit.NewEntry:
        details: dict[str, object] = {"interrupted_claim_at": c.claimed_at.isoformat()}
        if spot is not None:
            details.update(
                settled=f"{said}: found on {spot.topic}, so it was sent",
                pending_topic=spot.topic,
                pending_partition=spot.partition,
                pending_offset=spot.offset,
            )
        return audit.NewEntry(
            action=c.action,
            actor=c.actor,
            result=result,
            trace_id=trace_ids.get(c.ref),
            topic=c.ref.topic,
            partition=c.ref.partition,
            offset=c.ref.offset,
            error=error,
            details=details,
            reason=c.reason,
        )

    entries: list[audit.NewEntry] = []
    release: list[_Claim] = []
    unsettled: list[_Claim] = []
    for c in claims:
        said = f"{c.action} by {c.actor} interrupted (process {c.pid} on {c.host} is gone)"
        if c.action != "replay":
            entries.append(_entry(c, "failure", f"{said}: nothing was changed"))
            release.append(c)
        elif landed is None:
            if c.token != UNSETTLED:
                why = f"{said}: outcome unknown until its target topic can be read ({why_unknown})"
                entries.append(_entry(c, "failure", why))
                unsettled.append(c)
        elif c.ref in landed:
            entries.append(_entry(c, "success", None, landed[c.ref], said))
            release.append(c)
        else:
            why = f"{said}: not sent (not on its target topic since the claim)"
            entries.append(_entry(c, "failure", why))
            release.append(c)
    made = audit.append(con, entries)
    ids = {RecordRef(e.topic or "", e.partition or 0, e.offset or 0): e.audit_id for e in made}
    now = datetime.now(UTC)
    replayed = [
        [
            *(c.ref.topic, c.ref.partition, c.ref.offset, now, trace_ids.get(c.ref)),
            *(c.actor, ids[c.ref], None, spot.topic, spot.partition, spot.offset, None),
        ]
        for c in release
        if landed and (spot := landed.get(c.ref)) is not None
    ]
    insert_rows(con, "replays", REPLAY_COLUMNS, replayed)
    record_states.refresh(con, replayed)
    for c in release:
        con.execute(
            'DELETE FROM action_claims WHERE topic = ? AND "partition" = ? AND "offset" = ? '
            "AND token = ?",
            [c.ref.topic, c.ref.partition, c.ref.offset, c.token],
        )
    for c in unsettled:
        con.execute(
            'UPDATE action_claims SET token = ?, pid = 0 WHERE topic = ? AND "partition" = ? '
            'AND "offset" = ? AND token = ?',
            [UNSETTLED, c.ref.topic, c.ref.partition, c.ref.offset, c.token],
        )
    return made


def _trace_ids(con: Connection, refs: Sequence[RecordRef]) -> dict[RecordRef, str]:
    found: dict[RecordRef, str] = {}
    for ref in refs:
        row = con.execute(
            'SELECT trace_id FROM records WHERE topic = ? AND "partition" = ? AND "offset" = ?',
            [ref.topic, ref.partition, ref.offset],
        ).fetchone()
        if row and row[0]:
            found[ref] = str(row[0])
    return found


def settle_before_preview(settings: Settings) -> list[str]:
    """settle_interrupted for a preview (a read): released claims show as free, not as
    someone acting."""
    copies = AuditCopies(settings)
    try:
        return settle_interrupted(settings, KafkaGateway(settings), copies)
    finally:
        copies.close()

"""Replay and resolve: the one write path for acting on DLQ records, shared by the pages
and the CLI.

Guarantees:
- Only an identity allowed to act acts (`dashboard.actions.identity`); every attempt is audited.
- A record is acted on once: eligibility is checked and the record claimed in one DuckDB
  transaction (DuckDB admits one writing process at a time), so two operators racing over
  the same records each get a disjoint share. A replayed record that has not failed again,
  or a resolved one, is refused unless `override` is set.
- A replay counts only once the broker acknowledged it (idempotent producer, acks=all);
  anything not acknowledged within the delivery timeout is recorded as failed, never as done.
- Resolve commits the review group's offset only across a contiguous run of resolved
  records, so no record nobody resolved is ever hidden (`contiguous_commits`).
- Bulk work runs in chunks at a velocity limit, reports progress, and can be cancelled;
  what was done before the cancel stays done and is recorded.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal

import pyarrow as pa

from dashboard.actions import audit
from dashboard.actions.identity import Identity
from dashboard.actions.replay_message import NotReplayable, ReplayMessage, build, check_url
from dashboard.adapters.db import Connection, Database, insert_rows, register, transaction
from dashboard.adapters.kafka import (
    BrokerUnreachable,
    Delivery,
    KafkaGateway,
    OutgoingRecord,
    Sender,
    TopicMissing,
)
from dashboard.adapters.processes import process_alive
from dashboard.settings import Settings
from dashboard.triage.messages import MessageFilter
from dashboard.triage.states import records_with_state_sql

Action = Literal["replay", "resolve"]
_CLAIM_COLUMNS: Final = (
    "topic",
    "partition",
    "offset",
    "action",
    "actor",
    "claimed_at",
    "token",
    "pid",
    "host",
)
_RESOLUTION_COLUMNS: Final = (
    "topic",
    "partition",
    "offset",
    "resolved_at",
    "source",
    "actor",
    "reason",
    "audit_id",
)
_REPLAY_COLUMNS: Final = (
    "topic",
    "partition",
    "offset",
    "replayed_at",
    "trace_id",
    "actor",
    "audit_id",
    "bulk_id",
    "pending_topic",
    "pending_partition",
    "pending_offset",
    "new_url",
)
# Records handled per DuckDB transaction when no velocity limit applies.
UNTHROTTLED_CHUNK: Final = 5000


class Refused(Exception):
    """The request is refused as a whole (no identity, no reason, nothing selected, ...)."""


@dataclass(frozen=True, order=True)
class RecordRef:
    topic: str
    partition: int
    offset: int

    def __str__(self) -> str:
        return f"{self.topic}:{self.partition}:{self.offset}"

    @classmethod
    def parse(cls, text: str) -> RecordRef | None:
        """`topic:partition:offset` (Kafka topic names cannot hold a colon)."""
        parts = text.strip().rsplit(":", 2)
        if len(parts) != 3 or not parts[0]:
            return None
        try:
            return cls(parts[0], int(parts[1]), int(parts[2]))
        except ValueError:
            return None


# A record's audit entry id, within the transaction that appended the entries.
AuditIds = Callable[[RecordRef], int]


@dataclass(frozen=True)
class Ambiguous:
    name: str
    refs: list[RecordRef]


@dataclass(frozen=True)
class Found:
    refs: list[RecordRef]
    unknown: list[str]
    ambiguous: list[Ambiguous]


def find(con: Connection, topic: str, names: Iterable[str]) -> Found:
    """Records named exactly (`topic:partition:offset`) or by trace id. A trace id that
    matches several records selects none of them: they are listed instead."""
    refs: list[RecordRef] = []
    unknown: list[str] = []
    ambiguous: list[Ambiguous] = []
    for name in names:
        ref = RecordRef.parse(name)
        if ref is not None:
            row = con.execute(
                'SELECT 1 FROM records WHERE topic = ? AND "partition" = ? AND "offset" = ?',
                [ref.topic, ref.partition, ref.offset],
            ).fetchone()
            if row:
                refs.append(ref)
            else:
                unknown.append(name)
            continue
        rows = con.execute(
            'SELECT topic, "partition", "offset" FROM records WHERE topic = ? AND trace_id = ? '
            'ORDER BY kafka_timestamp, "partition", "offset"',
            [topic, name.strip()],
        ).fetchall()
        if not rows:
            unknown.append(name)
        elif len(rows) > 1:
            ambiguous.append(Ambiguous(name, [RecordRef(*row) for row in rows]))
        else:
            refs.append(RecordRef(*rows[0]))
    return Found(refs, unknown, ambiguous)


def matching(con: Connection, topic: str, flt: MessageFilter) -> list[RecordRef]:
    """Every record the filter selects (what a bulk action acts on), in offset order."""
    where, params = flt.where(topic)
    rows = con.execute(
        f'SELECT topic, "partition", "offset" FROM {records_with_state_sql()} r WHERE {where} '
        'ORDER BY "partition", "offset"',
        params,
    ).fetchall()
    return [RecordRef(*row) for row in rows]


# -- eligibility ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    ref: RecordRef
    trace_id: str | None
    state: str | None  # None: not in the snapshot
    replay_outcome: str | None
    replayed_at: datetime | None
    parse_error: str | None
    attachment_url: str | None
    error_category: str | None
    error_signature: str | None
    domain: str | None
    claimed_by: str | None
    claimed_at: datetime | None


def why_not(action: Action, c: Candidate, override: bool) -> str | None:
    """Why `action` may not touch the record now; None when it may."""
    if c.state is None:
        return "not in the snapshot"
    if c.claimed_by is not None:
        return f"{c.claimed_by} is acting on it right now (since {c.claimed_at:%H:%M:%S} UTC)"
    if action == "resolve":
        return "already resolved" if c.state == "resolved" else None
    if c.parse_error is not None:
        return f"unparseable, nothing to replay ({c.parse_error})"
    if override:
        return None
    if c.state == "resolved":
        return "already resolved (override to replay it anyway)"
    if c.state == "replayed" and c.replay_outcome != "failed-again":
        when = f"{c.replayed_at:%Y-%m-%d %H:%M} UTC" if c.replayed_at else "before"
        return f"already replayed at {when}, outcome {c.replay_outcome} (override to replay again)"
    return None


_REFS_SCHEMA: Final = pa.schema(
    [("topic", pa.string()), ("partition", pa.int32()), ("offset", pa.int64())]
)


def _candidates(con: Connection, refs: Sequence[RecordRef]) -> list[Candidate]:
    wanted = pa.table(
        [[r.topic for r in refs], [r.partition for r in refs], [r.offset for r in refs]],
        schema=_REFS_SCHEMA,
    )
    register(con, "wanted_refs", wanted)
    try:
        rows = con.execute(
            f"""
            SELECT w.topic, w."partition", w."offset", s.trace_id, s.state, s.replay_outcome,
                   s.replayed_at, s.parse_error, s.attachment_url, s.error_category,
                   s.error_signature, s."domain", c.actor, c.claimed_at
            FROM wanted_refs w
            LEFT JOIN {records_with_state_sql()} s
                ON s.topic = w.topic AND s."partition" = w."partition" AND s."offset" = w."offset"
            LEFT JOIN action_claims c
                ON c.topic = w.topic AND c."partition" = w."partition" AND c."offset" = w."offset"
            ORDER BY w."partition", w."offset"
            """
        ).fetchall()
    finally:
        con.unregister("wanted_refs")
    return [Candidate(RecordRef(*row[:3]), *row[3:]) for row in rows]


# -- preview -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Preview:
    action: Action
    eligible: int
    refused: list[tuple[RecordRef, str]]
    by_category: list[tuple[str, int]]
    by_signature: list[tuple[str, int]]
    by_domain: list[tuple[str, int]]
    samples: list[Candidate]

    @property
    def total(self) -> int:
        return self.eligible + len(self.refused)


def preview(
    con: Connection, action: Action, refs: Sequence[RecordRef], override: bool = False
) -> Preview:
    """What `action` would do to `refs`: how many, which groups, samples, what it refuses."""
    candidates = _candidates(con, refs)
    eligible = [c for c in candidates if why_not(action, c, override) is None]
    refused = [(c.ref, why) for c in candidates if (why := why_not(action, c, override))]

    def top(values: Iterable[str | None]) -> list[tuple[str, int]]:
        counts: dict[str, int] = {}
        for value in values:
            counts[value or "(none)"] = counts.get(value or "(none)", 0) + 1
        return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:10]

    return Preview(
        action=action,
        eligible=len(eligible),
        refused=refused,
        by_category=top(c.error_category for c in eligible),
        by_signature=top(c.error_signature for c in eligible),
        by_domain=top(c.domain for c in eligible),
        samples=eligible[:5],
    )


# -- running an action ---------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    action: Action
    refs: list[RecordRef]
    identity: Identity
    reason: str
    override: bool = False
    dry_run: bool = False
    rate: float | None = None  # records per second; None: as fast as the broker takes them
    new_url: str | None = None  # replay of one record with a new URL (runbook pattern 1)
    new_file_type: str | None = None
    new_blob_path: str | None = None
    selection: str | None = None  # what the operator selected, for the audit (a filter)


@dataclass(frozen=True)
class ItemResult:
    ref: RecordRef
    trace_id: str | None
    result: str  # success, failure, refused, dry-run
    error: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    succeeded: int
    failed: int
    refused: int


@dataclass
class Report:
    request: Request
    bulk_id: str | None
    results: list[ItemResult] = field(default_factory=list)
    cancelled: bool = False
    committed: dict[int, int] = field(default_factory=dict)  # resolve: partition -> offset
    commit_error: str | None = None

    def count(self, result: str) -> int:
        return sum(1 for r in self.results if r.result == result)

    @property
    def not_attempted(self) -> int:
        return len(self.request.refs) - len(self.results)

    def summary(self) -> str:
        verb = {"replay": "replayed", "resolve": "resolved"}[self.request.action]
        parts = [f"{self.count('success'):,} {verb}"]
        if self.request.dry_run:
            parts = [f"dry run: {self.count('dry-run'):,} would be {verb}"]
        if self.count("failure"):
            parts.append(f"{self.count('failure'):,} failed")
        if self.count("refused"):
            parts.append(f"{self.count('refused'):,} refused")
        if self.cancelled:
            parts.append(f"cancelled with {self.not_attempted:,} not attempted")
        if self.commit_error:
            parts.append(f"review group offsets not committed ({self.commit_error})")
        elif self.committed:
            moved = ", ".join(f"p{p}->{o}" for p, o in sorted(self.committed.items()))
            parts.append(f"review group committed {moved}")
        return "; ".join(parts)


ProgressCallback = Callable[[Progress], None]


def execute(
    settings: Settings,
    request: Request,
    *,
    gateway: KafkaGateway | None = None,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> Report:
    """Carry out `request`: claim, act, record, chunk by chunk."""
    _check(settings, request)
    db = Database.of(settings)
    kafka = gateway or KafkaGateway(settings)
    if request.action == "replay" and not request.dry_run:
        try:
            kafka.partitions(settings.pending_topic)
        except TopicMissing as exc:
            raise Refused(f"cannot replay: the pending {exc}") from None
    bulk = len(request.refs) > 1 or request.selection is not None
    report = Report(request, uuid.uuid4().hex[:12] if bulk else None)
    chunk_size = UNTHROTTLED_CHUNK if not request.rate else max(1, min(500, int(request.rate)))
    runner = _Runner(settings, request, report, db, kafka, cancel)
    if bulk:
        runner.audit_only([_bulk_entry(request, report, "bulk-start")])
    try:
        for start in range(0, len(request.refs), chunk_size):
            if cancel is not None and cancel.is_set():
                report.cancelled = True
                break
            runner.run_chunk(request.refs[start : start + chunk_size])
            if progress is not None:
                ok = report.count("dry-run" if request.dry_run else "success")
                progress(
                    Progress(
                        len(report.results),
                        len(request.refs),
                        ok,
                        report.count("failure"),
                        report.count("refused"),
                    )
                )
            if runner.cancelled:
                report.cancelled = True
                break
    finally:
        runner.close()
        try:
            if bulk:
                action = "bulk-cancel" if report.cancelled else "bulk-finish"
                runner.audit_only([_bulk_entry(request, report, action)])
        finally:
            runner.release()
    if request.action == "resolve" and not request.dry_run and report.count("success"):
        partitions = {r.ref.partition for r in report.results if r.result == "success"}
        _commit_resolved(db, kafka, settings, report, partitions)
    return report


def _check(settings: Settings, request: Request) -> None:
    if not request.identity.can_act:
        raise Refused(request.identity.why_not or "this identity may not act")
    if not request.reason.strip():
        raise Refused("a reason is required (a ticket or a note)")
    if not request.refs:
        raise Refused("no records selected")
    if request.new_url is not None:
        if request.action != "replay" or len(request.refs) != 1:
            raise Refused("a new URL applies to the replay of one record")
        try:
            check_url(request.new_url)
        except ValueError as exc:
            raise Refused(str(exc)) from None
    if request.rate is not None and request.rate <= 0:
        raise Refused("the velocity limit must be positive")


def _bulk_entry(request: Request, report: Report, action: str) -> audit.NewEntry:
    details: dict[str, Any] = {
        "action": request.action,
        "selected": len(request.refs),
        "selection": request.selection,
        "rate": request.rate,
        "dry_run": request.dry_run,
        "override": request.override,
    }
    if action != "bulk-start":
        details.update(
            succeeded=report.count("success"),
            failed=report.count("failure"),
            refused=report.count("refused"),
            dry_run_ok=report.count("dry-run"),
            not_attempted=report.not_attempted,
        )
    return audit.NewEntry(
        action=action,
        actor=request.identity.label,
        result="success",
        reason=request.reason,
        bulk_id=report.bulk_id,
        details=details,
    )


def _audit_only(
    connection: AbstractContextManager[Connection], log: Path, entries: list[audit.NewEntry]
) -> None:
    """Append `entries` to the audit table on `connection`, then to the JSON-lines log."""
    with connection as con, transaction(con):
        made = audit.append(con, entries)
    audit.write_jsonl(log, made)


class _Runner:
    """One request's chunks: claim, act, record. Keeps one Sender for the request."""

    def __init__(
        self,
        settings: Settings,
        request: Request,
        report: Report,
        db: Database,
        kafka: KafkaGateway,
        cancel: threading.Event | None,
    ) -> None:
        self.settings = settings
        self.request = request
        self.report = report
        self.db = db
        self.kafka = kafka
        self.cancel = cancel
        self.cancelled = False
        self.token = uuid.uuid4().hex
        self._sender: Sender | None = None
        self._held: Connection | None = None
        self._stack = ExitStack()
        self._started = time.monotonic()
        self._sent = 0

    def close(self) -> None:
        if self._sender is not None:
            self._sender.close()

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """A write connection for one step. Unthrottled, the run keeps one open from start to
        end (it is busy all along, and a bulk would otherwise spend its time opening the file);
        at a velocity limit each step opens and closes it, so other processes get their turn."""
        if self.request.rate:
            with self.db.write() as con:
                yield con
            return
        if self._held is None:
            self._held = self._stack.enter_context(self.db.write())
        yield self._held

    def release(self) -> None:
        self._held = None
        self._stack.close()

    def audit_only(self, entries: list[audit.NewEntry]) -> None:
        _audit_only(self.connection(), self.settings.audit_log, entries)

    # -- claim ---------------------------------------------------------------------------

    def _claim(self, refs: Sequence[RecordRef]) -> list[Candidate]:
        """Check and claim in one transaction; refused records are audited right there."""
        request = self.request
        with self.connection() as con, transaction(con):
            _clear_dead_claims(con)
            candidates = _candidates(con, refs)
            claimed: list[tuple[Candidate, str | None]] = []
            refused: list[tuple[Candidate, str | None]] = []
            for c in candidates:
                why = why_not(request.action, c, request.override)
                (refused if why else claimed).append((c, why))
            moment = datetime.now(UTC)
            insert_rows(
                con,
                "action_claims",
                _CLAIM_COLUMNS,
                [
                    [
                        c.ref.topic,
                        c.ref.partition,
                        c.ref.offset,
                        request.action,
                        request.identity.label,
                        moment,
                        self.token,
                        os.getpid(),
                        socket.gethostname(),
                    ]
                    for c, _ in claimed
                ],
            )
            made = audit.append(con, [self._entry(c, "refused", error=why) for c, why in refused])
        audit.write_jsonl(self.settings.audit_log, made)
        self.report.results.extend(
            ItemResult(c.ref, c.trace_id, "refused", why) for c, why in refused
        )
        return [c for c, _ in claimed]

    def _entry(
        self,
        c: Candidate,
        result: str,
        error: str | None = None,
        detail: dict[str, Any] | None = None,
        new_url: str | None = None,
    ) -> audit.NewEntry:
        action: str = self.request.action
        if action == "replay" and self.request.new_url is not None:
            action = "replay-with-new-url"
        return audit.NewEntry(
            action=action,
            actor=self.request.identity.label,
            result=result,
            trace_id=c.trace_id,
            topic=c.ref.topic,
            partition=c.ref.partition,
            offset=c.ref.offset,
            error=error,
            reason=self.request.reason,
            bulk_id=self.report.bulk_id,
            old_url=c.attachment_url if new_url else None,
            new_url=new_url,
            details=detail or {},
        )

    # -- act -----------------------------------------------------------------------------

    def run_chunk(self, refs: Sequence[RecordRef]) -> None:
        claimed = self._claim(refs)
        if not claimed:
            return
        if self.request.action == "resolve":
            self._resolve(claimed)
        else:
            self._replay(claimed)

    def _pace(self) -> bool:
        """Wait for the velocity limit; False when the operator cancelled meanwhile."""
        rate = None if self.request.dry_run else self.request.rate  # a dry run sends nothing
        if rate:
            due = self._started + self._sent / rate
            while (wait := due - time.monotonic()) > 0:
                if self.cancel is not None and self.cancel.wait(min(wait, 0.2)):
                    break
        if self.cancel is not None and self.cancel.is_set():
            self.cancelled = True
            return False
        self._sent += 1
        return True

    def _resolve(self, claimed: list[Candidate]) -> None:
        done: list[Candidate] = []
        for candidate in claimed:
            if not self._pace():
                break
            done.append(candidate)
        result = "dry-run" if self.request.dry_run else "success"
        request = self.request

        def resolutions(audit_id: AuditIds, moment: datetime) -> list[list[object]]:
            if request.dry_run:
                return []
            return [
                [
                    c.ref.topic,
                    c.ref.partition,
                    c.ref.offset,
                    moment,
                    "dashboard",
                    request.identity.label,
                    request.reason,
                    audit_id(c.ref),
                ]
                for c in done
            ]

        self._commit(
            [self._entry(c, result) for c in done],
            "resolutions",
            _RESOLUTION_COLUMNS,
            resolutions,
        )
        self.report.results.extend(ItemResult(c.ref, c.trace_id, result) for c in done)

    def _replay(self, claimed: list[Candidate]) -> None:
        request = self.request
        values = self._values(claimed)
        outcomes: dict[RecordRef, ItemResult] = {}
        pending: dict[RecordRef, tuple[Candidate, ReplayMessage]] = {}
        now = datetime.now(UTC)
        for c in claimed:
            try:
                message = build(
                    values.get(c.ref),
                    dlq_topic=c.ref.topic,
                    dlq_partition=c.ref.partition,
                    dlq_offset=c.ref.offset,
                    actor=request.identity.label,
                    replayed_at=now,
                    new_url=request.new_url,
                    new_file_type=request.new_file_type,
                    new_blob_path=request.new_blob_path,
                )
            except (NotReplayable, ValueError) as exc:
                outcomes[c.ref] = ItemResult(c.ref, c.trace_id, "failure", str(exc))
                continue
            if request.dry_run:
                outcomes[c.ref] = ItemResult(
                    c.ref, c.trace_id, "dry-run", detail={"task": message.task}
                )
            else:
                pending[c.ref] = (c, message)
        if pending:
            outcomes.update(self._produce(pending))
        self._record_replays(claimed, outcomes)

    def _values(self, claimed: list[Candidate]) -> dict[RecordRef, bytes | None]:
        with self.connection() as con:
            register(
                con,
                "wanted_refs",
                pa.table(
                    [
                        [c.ref.topic for c in claimed],
                        [c.ref.partition for c in claimed],
                        [c.ref.offset for c in claimed],
                    ],
                    schema=_REFS_SCHEMA,
                ),
            )
            try:
                rows = con.execute(
                    'SELECT r.topic, r."partition", r."offset", r."value" FROM records r '
                    'JOIN wanted_refs w USING (topic, "partition", "offset")'
                ).fetchall()
            finally:
                con.unregister("wanted_refs")
        return {RecordRef(t, p, o): v for t, p, o, v in rows}

    def _produce(
        self, pending: dict[RecordRef, tuple[Candidate, ReplayMessage]]
    ) -> dict[RecordRef, ItemResult]:
        """Send at the velocity limit and wait for every acknowledgement; a replay not
        acknowledged is a failure. Records left unsent by a cancel get no result."""
        timeout = self.settings.actions.delivery_timeout_seconds
        if self._sender is None:
            self._sender = self.kafka.sender(timeout)
        deliveries: dict[RecordRef, Delivery] = {}

        def paced() -> Iterator[tuple[RecordRef, OutgoingRecord]]:
            for ref, (_c, message) in pending.items():
                if not self._pace():
                    return
                yield ref, (message.key, message.value, message.headers, 0)

        self._sender.send(self.settings.pending_topic, paced(), deliveries.__setitem__)
        results: dict[RecordRef, ItemResult] = {}
        for ref, (c, _message) in pending.items():
            delivery = deliveries.get(ref)
            if delivery is None:
                continue
            if delivery.status == "delivered":
                detail = {
                    "pending_topic": delivery.topic,
                    "pending_partition": delivery.partition,
                    "pending_offset": delivery.offset,
                }
                results[ref] = ItemResult(ref, c.trace_id, "success", detail=detail)
            elif delivery.status == "failed":
                why = f"not delivered: {delivery.error}"
                results[ref] = ItemResult(ref, c.trace_id, "failure", why)
            else:
                why = f"no acknowledgement from Kafka within {timeout:g}s"
                results[ref] = ItemResult(ref, c.trace_id, "failure", why)
        return results

    def _record_replays(
        self, claimed: list[Candidate], outcomes: dict[RecordRef, ItemResult]
    ) -> None:
        request = self.request
        by_ref = {c.ref: c for c in claimed}
        entries = [
            self._entry(
                by_ref[ref],
                r.result,
                error=r.error,
                new_url=request.new_url,
                detail={k: v for k, v in r.detail.items() if k != "task"},
            )
            for ref, r in outcomes.items()
        ]

        def replays(audit_id: AuditIds, moment: datetime) -> list[list[object]]:
            return [
                [
                    ref.topic,
                    ref.partition,
                    ref.offset,
                    moment,
                    r.trace_id,
                    request.identity.label,
                    audit_id(ref),
                    self.report.bulk_id,
                    r.detail["pending_topic"],
                    r.detail["pending_partition"],
                    r.detail["pending_offset"],
                    request.new_url,
                ]
                for ref, r in outcomes.items()
                if r.result == "success"
            ]

        self._commit(entries, "replays", _REPLAY_COLUMNS, replays)
        self.report.results.extend(outcomes.values())

    def _commit(
        self,
        entries: list[audit.NewEntry],
        table: str,
        columns: Sequence[str],
        rows: Callable[[AuditIds, datetime], list[list[object]]],
    ) -> None:
        """In one transaction: audit `entries`, insert into `table` the rows `rows` makes
        from each record's audit entry id and the moment, and release this run's claims;
        then append the entries to the JSON-lines log."""
        with self.connection() as con, transaction(con):
            made = audit.append(con, entries)
            ids = {(e.partition, e.offset): e.audit_id for e in made}
            insert_rows(
                con,
                table,
                columns,
                rows(lambda ref: ids[(ref.partition, ref.offset)], datetime.now(UTC)),
            )
            _release(con, self.token)
        audit.write_jsonl(self.settings.audit_log, made)


def _release(con: Connection, token: str) -> None:
    con.execute("DELETE FROM action_claims WHERE token = ?", [token])


def _clear_dead_claims(con: Connection) -> None:
    """Claims left by a process that died mid-action (kill -9, a crash) on this host. Its
    replays may or may not have reached Kafka; the audit says so and the records are free."""
    host = socket.gethostname()
    rows = con.execute(
        'SELECT topic, "partition", "offset", action, actor, pid, token FROM action_claims '
        "WHERE host = ?",
        [host],
    ).fetchall()
    dead = [row for row in rows if not process_alive(int(row[5]))]
    if not dead:
        return
    audit.append(
        con,
        [
            audit.NewEntry(
                action=action,
                actor=actor,
                result="failure",
                topic=topic,
                partition=partition,
                offset=offset,
                error=f"interrupted: process {pid} died while acting; the outcome is "
                "unknown (a replay may have reached Kafka)",
            )
            for topic, partition, offset, action, actor, pid, _token in dead
        ],
    )
    for token in {row[6] for row in dead}:
        _release(con, token)


# -- the review group's offsets ------------------------------------------------------------


def contiguous_commits(
    con: Connection, topic: str, committed: dict[int, int | None]
) -> dict[int, int]:
    """Per partition, how far the review group's offset may move: up to the first record at
    or after its current offset that is not resolved (or to the end of what the snapshot has
    read). Only partitions where it moves forward are returned."""
    moves: dict[int, int] = {}
    for partition, current in committed.items():
        row = con.execute(
            """
            SELECT
                (SELECT min(r."offset") FROM records r
                 LEFT JOIN resolutions res USING (topic, "partition", "offset")
                 WHERE r.topic = $topic AND r."partition" = $partition
                   AND r."offset" >= $current AND res."offset" IS NULL),
                (SELECT next_offset FROM ingest_positions
                 WHERE topic = $topic AND "partition" = $partition)
            """,
            {"topic": topic, "partition": partition, "current": current or 0},
        ).fetchone()
        if row is None or row[1] is None:
            continue
        first_open, read_up_to = row
        target = int(first_open) if first_open is not None else int(read_up_to)
        if target > (current or 0):
            moves[partition] = target
    return moves


def _commit_resolved(
    db: Database, kafka: KafkaGateway, settings: Settings, report: Report, partitions: set[int]
) -> None:
    try:
        current = kafka.committed_offsets(settings.review_group, settings.dlq_topic, partitions)
        with db.read() as con:
            moves = contiguous_commits(con, settings.dlq_topic, current)
        kafka.commit_offsets(settings.review_group, settings.dlq_topic, moves)
        report.committed = moves
    except BrokerUnreachable as exc:
        report.commit_error = str(exc)


def sync_review_group(settings: Settings, gateway: KafkaGateway | None = None) -> dict[int, int]:
    """Move the review group's offsets as far as the resolved records allow (after a failed
    commit, say). Returns the partitions moved."""
    kafka = gateway or KafkaGateway(settings)
    partitions = kafka.partitions(settings.dlq_topic)
    current = kafka.committed_offsets(settings.review_group, settings.dlq_topic, partitions)
    with Database.of(settings).read() as con:
        moves = contiguous_commits(con, settings.dlq_topic, current)
    kafka.commit_offsets(settings.review_group, settings.dlq_topic, moves)
    return moves


def ready_to_resolve(con: Connection, topic: str) -> list[RecordRef]:
    """Replayed records whose replay the results topic reports as succeeded."""
    rows = con.execute(
        f'SELECT topic, "partition", "offset" FROM {records_with_state_sql()} r '
        "WHERE topic = ? AND state = 'replayed' AND replay_outcome = 'succeeded' "
        'ORDER BY "partition", "offset"',
        [topic],
    ).fetchall()
    return [RecordRef(*row) for row in rows]


def audit_look(
    settings: Settings,
    identity: Identity,
    action: Literal["view", "list"],
    ref: RecordRef | None = None,
    trace_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Record that someone looked (the runbook audits list and view too)."""
    entry = audit.NewEntry(
        action=action,
        actor=identity.label,
        result="success",
        trace_id=trace_id,
        topic=ref.topic if ref else None,
        partition=ref.partition if ref else None,
        offset=ref.offset if ref else None,
        details=details or {},
    )
    db = Database.of(settings)
    _audit_only(db.write(), settings.audit_log, [entry])

"""Running an action: chunk by chunk, claim the eligible records, replay (send, wait for the
broker's acknowledgement) or resolve them, and record each outcome with its audit entry and
the claims' release in one transaction; then move the review group's offsets."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, closing, contextmanager
from datetime import UTC, datetime
from functools import partial
from typing import Final

from dashboard.actions import audit
from dashboard.actions.audit_copies import AuditCopies
from dashboard.actions.audit_entries import (
    BulkMark,
    audit_only,
    bulk_entry,
    dry_run_entry,
    record_entry,
    request_entry,
)
from dashboard.actions.checks import check_kafka, check_request
from dashboard.actions.claims import claim, hold_unsettled, release
from dashboard.actions.interrupted import settle_interrupted
from dashboard.actions.outcome_rows import (
    REPLAY_COLUMNS,
    RESOLUTION_COLUMNS,
    UNKNOWN,
    AuditIds,
    replay_rows,
    resolution_rows,
)
from dashboard.actions.replay_chunks import (
    Original,
    ReplayChunk,
    build_chunk,
    send_chunk,
    settle_chunk,
)
from dashboard.actions.review_offsets import move_review_group
from dashboard.actions.selection import wanted_refs
from dashboard.actions.values import (
    Candidate,
    ItemResult,
    Outcome,
    ProgressCallback,
    RecordRef,
    Report,
    Request,
)
from dashboard.adapters import record_states
from dashboard.adapters.collector import cycle_collector_paused
from dashboard.adapters.db import Connection, Database, insert_rows, transaction
from dashboard.adapters.kafka import (
    BrokerUnreachable,
    KafkaGateway,
    Sender,
)
from dashboard.settings import DlqSettings, Settings

# Records handled per DuckDB transaction when no velocity limit applies.
UNTHROTTLED_CHUNK: Final = 5000


def execute(
    settings: Settings,
    request: Request,
    *,
    gateway: KafkaGateway | None = None,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> Report:
    """Carry out `request`: claim, act, record, chunk by chunk."""
    check_request(request)
    kafka = gateway or KafkaGateway(settings)
    bulk = len(request.refs) > 1 or request.selection is not None
    report = Report(request, uuid.uuid4().hex[:12] if bulk else None)
    with closing(AuditCopies(settings, kafka)) as copies, cycle_collector_paused():
        return _run(settings, request, report, kafka, copies, progress, cancel)


def _run(
    settings: Settings,
    request: Request,
    report: Report,
    kafka: KafkaGateway,
    copies: AuditCopies,
    progress: ProgressCallback | None,
    cancel: threading.Event | None,
) -> Report:
    db = Database.of(settings)
    if not request.dry_run:
        try:
            check_kafka(settings, request, kafka)
        except BrokerUnreachable as exc:
            # Nothing was attempted; the attempt is audited as one failure with the reason.
            report.error = str(exc)
            copies.kafka_down(str(exc))
            entry = request_entry(report, "failure", str(exc))
            report.audit_missing += audit_only(db.write(), copies, [entry])
            return report
    # Claims a dead process left are released (and its replays settled from Kafka) first,
    # whatever records this request touches.
    report.audit_missing += settle_interrupted(settings, kafka, copies)
    chunk_size = UNTHROTTLED_CHUNK if not request.rate else max(1, min(500, int(request.rate)))
    runner = _Runner(settings, request, report, db, kafka, copies, cancel)
    # A dry run is audited once, at its end (dry_run_entry); a real bulk at both ends.
    marked = report.bulk_id is not None and not request.dry_run
    if marked:
        runner.audit_only([bulk_entry(report, "bulk-start")])
    try:
        for start in range(0, len(request.refs), chunk_size):
            if cancel is not None and cancel.is_set():
                report.cancelled = True
                break
            runner.run_chunk(request.refs[start : start + chunk_size])
            if progress is not None:
                progress(report.progress())
            if runner.cancelled:
                report.cancelled = True
                break
            if report.stopped:
                break
        runner.finish()  # the chunk still in flight: its acknowledgements, its record
        if progress is not None and runner.finished_late:
            progress(report.progress())
    except BaseException:
        # Its messages were sent: they are recorded if the database still takes them (else
        # their claims are settled from the pending topic once this process is gone).
        with contextlib.suppress(Exception):
            runner.finish()
        raise
    finally:
        runner.close()
        try:
            if request.dry_run:
                runner.audit_only([dry_run_entry(report)])
            elif marked:
                mark: BulkMark = "bulk-cancel" if report.cancelled else "bulk-finish"
                runner.audit_only([bulk_entry(report, mark)])
        finally:
            runner.release()  # after the audit topic acknowledged every entry
    if request.action == "resolve" and not request.dry_run and report.count("success"):
        partitions = {r.ref.partition for r in report.results if r.result == "success"}
        try:
            report.committed = move_review_group(settings, kafka, partitions)
        except BrokerUnreachable as exc:
            report.commit_error = str(exc)
    return report


class _Runner:
    """One request's chunks: claim, act, record. Keeps one Sender for the request."""

    def __init__(
        self,
        settings: Settings,
        request: Request,
        report: Report,
        db: Database,
        kafka: KafkaGateway,
        copies: AuditCopies,
        cancel: threading.Event | None,
    ) -> None:
        self.settings = settings
        self.copies = copies
        self.request = request
        self.report = report
        self.db = db
        self.kafka = kafka
        self.cancel = cancel
        self.cancelled = False
        self.token = uuid.uuid4().hex
        self._sender: Sender | None = None
        if request.action == "replay" and not request.dry_run:
            # Made now, so the producer connects and gets its producer id (idempotence)
            # while the first chunk is claimed and built.
            self._sender = kafka.sender(settings.actions.delivery_timeout_seconds)
        self._held: Connection | None = None
        self._stack = ExitStack()
        # The audit entry for what this request did to one record (a dry run has none).
        self._entry = partial(record_entry, request, report.bulk_id)
        self._per_record = not request.dry_run
        self._started = time.monotonic()
        self._sent = 0
        self._dlqs: dict[str, DlqSettings] = {}  # topic -> its DLQ, looked up once
        self._chunks = 0
        self._in_flight: ReplayChunk | None = None  # sent, not yet acknowledged and recorded
        self.finished_late = False  # `finish` recorded a chunk

    def close(self) -> None:
        if self._sender is not None:
            self._sender.close()

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """A write connection for one step. Unthrottled, the run keeps one open from start to
        end (it is busy all along, and a bulk would otherwise spend its time opening the file)
        except while Kafka is slow to acknowledge (`_await`); at a velocity limit each step
        opens and closes it, so other processes get their turn."""
        if self.request.rate:
            with self.db.write() as con:
                yield con
            return
        if self._held is None:
            self._held = self._stack.enter_context(self.db.write())
        yield self._held

    def release(self) -> None:
        """Let go of the file if this run holds it (it may open it again later)."""
        try:
            # Entries copied without waiting (see _copy) are acknowledged, or reported
            # missing, before another process may append its own.
            self.report.audit_missing += self.copies.flush()
        finally:
            self._held = None
            self._stack.close()

    def _copy(self, made: list[audit.AuditEntry]) -> None:
        """Copy entries just committed. Unthrottled, the run holds the DuckDB file across
        chunks, so the audit topic's acknowledgement is waited for only when it lets go of
        the file (`release`: at the end, or while Kafka is slow to acknowledge), not chunk
        by chunk; at a velocity limit the file is let go after each step, so each copy is
        acknowledged before it is."""
        self.report.audit_missing += self.copies.write(made, wait=bool(self.request.rate))

    def audit_only(self, entries: list[audit.NewEntry]) -> None:
        wait = bool(self.request.rate)  # see _copy
        self.report.audit_missing += audit_only(self.connection(), self.copies, entries, wait=wait)

    # -- act -----------------------------------------------------------------------------

    def run_chunk(self, refs: Sequence[RecordRef]) -> None:
        """Claim `refs` and act on them. Unthrottled, a chunk of replays is left in flight:
        its acknowledgements come in while the next chunk is claimed and built, and it is
        recorded while the next one is sent (`finish` records the last one)."""
        self._chunks += 1
        token = f"{self.token}.{self._chunks}"  # one per chunk: two may be claimed at once
        claimed = self._claim(refs, token)
        if not claimed:
            return
        if self.request.action == "resolve":
            self._resolve(claimed, token)
            return
        chunk = self._prepare(claimed, token)
        previous, self._in_flight = self._in_flight, None
        if previous is not None:
            self._await(previous)
            if self.report.stopped:  # Kafka stopped acknowledging: this chunk is not sent
                self._record_replays(previous)
                self._unclaim(chunk)
                return
        if chunk.pending:
            self._send(chunk)
        if previous is not None:
            self._record_replays(previous)
        if self.request.rate or not chunk.pending:
            # At a velocity limit each chunk is recorded before the next is claimed.
            self._await(chunk)
            self._record_replays(chunk)
        else:
            self._in_flight = chunk

    def finish(self) -> None:
        """Wait for the chunk still in flight and record it (after the last chunk, a cancel
        or a stop)."""
        chunk, self._in_flight = self._in_flight, None
        self.finished_late = chunk is not None
        if chunk is not None:
            self._await(chunk)
            self._record_replays(chunk)

    def _claim(self, refs: Sequence[RecordRef], token: str) -> list[Candidate]:
        """Check and claim in one transaction; refused records are audited right there."""
        with self.connection() as con:
            with transaction(con):
                claimed, refused = claim(con, self.request, refs, token, self.settings)
                refusals = [self._entry(c, "refused", error=why) for c, why in refused]
                made = audit.append(con, refusals if self._per_record else [])
            self._copy(made)
        self.report.results.extend(
            ItemResult(c.ref, c.trace_id, "refused", why) for c, why in refused
        )
        return claimed

    def _unclaim(self, chunk: ReplayChunk) -> None:
        """Release the claims of a chunk that was claimed and never sent."""
        with self.connection() as con, transaction(con):
            release(con, chunk.token)

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

    def _resolve(self, claimed: list[Candidate], token: str) -> None:
        done: list[Candidate] = []
        for candidate in claimed:
            if not self._pace():
                break
            done.append(candidate)
        result: Outcome = "dry-run" if self.request.dry_run else "success"
        request = self.request
        resolved = [] if request.dry_run else done  # a dry run is audited, not recorded
        self._commit(
            token,
            [self._entry(c, result) for c in done],
            "resolutions",
            RESOLUTION_COLUMNS,
            lambda ids, moment: resolution_rows(request, resolved, ids, moment),
        )
        self.report.results.extend(ItemResult(c.ref, c.trace_id, result) for c in done)

    def _prepare(self, claimed: list[Candidate], token: str) -> ReplayChunk:
        values = self._values(claimed)
        originals = self._key_and_headers(claimed)
        now = datetime.now(UTC)
        return build_chunk(self.request, token, claimed, self._dlq_of, values, originals, now)

    def _dlq_of(self, topic: str) -> DlqSettings:
        """The DLQ a record belongs to: its format and replay target decide the message."""
        dlq = self._dlqs.get(topic)
        if dlq is None:
            dlq = self._dlqs[topic] = self.settings.dlq_by_topic(topic) or self.settings.dlq()
        return dlq

    def _values(self, claimed: list[Candidate]) -> dict[RecordRef, bytes | None]:
        with self.connection() as con, wanted_refs(con, [c.ref for c in claimed]) as wanted:
            rows = con.execute(
                'SELECT r.topic, r."partition", r."offset", r."value" FROM records r '
                f'JOIN {wanted} w USING (topic, "partition", "offset")'
            ).fetchall()
        return {RecordRef(t, p, o): v for t, p, o, v in rows}

    def _key_and_headers(self, claimed: list[Candidate]) -> dict[RecordRef, Original]:
        """The stored key and headers of the records replayed to the origin their headers
        name (an "any" DLQ): the message goes back with them."""
        refs = [c.ref for c in claimed if self._dlq_of(c.ref.topic).format == "any"]
        if not refs:
            return {}
        with self.connection() as con, wanted_refs(con, refs) as wanted:
            rows = con.execute(
                'SELECT r.topic, r."partition", r."offset", r."key", r.headers FROM records r '
                f'JOIN {wanted} w USING (topic, "partition", "offset")'
            ).fetchall()
        return {
            RecordRef(t, p, o): (k, [(h["key"], h["value"]) for h in hs or []])
            for t, p, o, k, hs in rows
        }

    def _send(self, chunk: ReplayChunk) -> None:
        if self._sender is not None:  # a replay that is not a dry run has one
            pending_topic = self.settings.pending_topic
            send_chunk(self._sender, chunk, pending_topic, self._pace, lambda: self.cancelled)

    def _await(self, chunk: ReplayChunk) -> None:
        if self._sender is not None and chunk.pending:
            # Acknowledgements slow to come (the broker gone, say, and the delivery timeout
            # to wait out): an unthrottled run holding the file lets go of it meanwhile, so
            # the dashboard and the ingest are not kept out for as long.
            let_go = self._let_go_while_waiting if self._held is not None else None
            stopped = settle_chunk(self._sender, chunk, self.cancelled, let_go)
            self.report.stopped = self.report.stopped or stopped

    def _let_go_while_waiting(self) -> None:
        # A close that fails (a full disk, say) must not end the wait for acknowledgements:
        # every send gets its outcome, and the next step opens the file again and meets the
        # problem there, where a failure to record is handled.
        with contextlib.suppress(Exception):
            self.release()

    def _record_replays(self, chunk: ReplayChunk) -> None:
        request = self.request
        outcomes = chunk.outcomes
        by_ref = {c.ref: c for c in chunk.claimed}
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

        bulk_id = self.report.bulk_id
        self._commit(
            chunk.token,
            entries,
            "replays",
            REPLAY_COLUMNS,
            lambda ids, moment: replay_rows(request, bulk_id, outcomes, ids, moment),
            outcomes,
        )
        self.report.results.extend(outcomes.values())

    def _commit(
        self,
        token: str,
        entries: list[audit.NewEntry],
        table: str,
        columns: Sequence[str],
        rows: Callable[[AuditIds, datetime], list[list[object]]],
        outcomes: Mapping[RecordRef, ItemResult] | None = None,
    ) -> None:
        """In one transaction: audit `entries`, insert into `table` the rows `rows` makes
        from each record's audit entry id and the moment, and release the chunk's claims;
        then append the entries to the JSON-lines log."""
        with self.connection() as con:
            with transaction(con):
                made = audit.append(con, entries if self._per_record else [])
                ids = {(e.topic, e.partition, e.offset): e.audit_id for e in made}
                inserted = rows(
                    lambda ref: ids[(ref.topic, ref.partition, ref.offset)], datetime.now(UTC)
                )
                insert_rows(con, table, columns, inserted)
                record_states.refresh(con, inserted)  # rows begin with topic, partition, offset
                unknown = [r.ref for r in (outcomes or {}).values() if r.detail.get(UNKNOWN)]
                hold_unsettled(con, token, unknown)
                release(con, token)
            # Copied while this process still holds the file: the copies get entries in order.
            self._copy(made)

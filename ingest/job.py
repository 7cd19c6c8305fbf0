"""The ingest job: copy every new DLQ record into the DuckDB snapshot, exactly once.

One run goes through every configured DLQ topic in turn (a DLQ added to the settings later
starts from its low watermark), then the results topic. For each topic it:
1. asks Kafka for the partitions, their watermarks and the review group's committed offsets,
   and records them (the growth and size charts are drawn from these);
2. flags snapshot rows that retention deleted from Kafka;
3. reads each partition from the snapshot's stored position up to the high watermark seen
   at the start, with `assign()` (never joining or committing any group);
4. writes each batch of rows together with the new positions in one DuckDB transaction, so
   a run killed at any moment and run again neither loses nor duplicates a record.

Reading Kafka and writing DuckDB overlap: the main thread consumes, stages and parses the next
transaction while a writer thread inserts the previous one (DuckDB releases the GIL).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from dashboard.adapters.collector import cycle_collector_paused
from dashboard.adapters.db import Database, DatabaseBusy, DatabaseError
from dashboard.adapters.kafka import (
    BrokerUnreachable,
    KafkaGateway,
    Message,
    PartitionOffsets,
    TopicMissing,
    TopicUnreadable,
    in_words,
    is_partition_eof,
)
from dashboard.settings import Settings
from ingest import store
from ingest.parse import stage_messages
from ingest.phases import Phases
from ingest.results import ingest_results
from ingest.writer import IngestError as IngestError
from ingest.writer import Plan, TransactionWriter

# No record for this long while records are known to be waiting: Kafka has gone away.
STALL_SECONDS = 30.0


@dataclass(frozen=True)
class Progress:
    records: int
    behind: int
    elapsed: float

    @property
    def rate(self) -> float:
        return self.records / self.elapsed if self.elapsed > 0 else 0.0


@dataclass
class IngestSummary:
    run_id: int
    topic: str
    partitions: int
    records: int = 0
    unparseable: int = 0
    missed: int = 0
    marked_gone: int = 0
    behind: int = 0  # left unread because the run was stopped or timed out
    replay_results: int = 0  # outcomes of replays read from the results topic
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    # With several DLQs: each topic's own summary; the fields above add them up.
    per_dlq: list[IngestSummary] = field(default_factory=list)
    # Seconds per phase of the copy, and the process's CPU seconds (ingest.phases).
    phases: dict[str, float] = field(default_factory=dict)

    def line(self) -> str:
        rate = f" ({self.records / self.seconds:,.0f}/s)" if self.records and self.seconds else ""
        text = (
            f"ingested {self.records:,} new record{'s' if self.records != 1 else ''}"
            f" ({self.unparseable:,} unparseable) from {self.partitions} partition"
            f"{'s' if self.partitions != 1 else ''} of {self.topic} in {self.seconds:.2f}s{rate}"
        )
        if self.marked_gone:
            text += f"; {self.marked_gone:,} now gone from Kafka (retention)"
        if self.missed:
            text += f"; {self.missed:,} deleted by retention before they could be read"
        if self.behind:
            text += f"; stopped {self.behind:,} records short of the end"
        return text

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


ProgressCallback = Callable[[Progress], None]


def ingest_once(
    settings: Settings,
    *,
    gateway: KafkaGateway | None = None,
    progress: ProgressCallback | None = None,
    progress_every: float = 1.0,
    deadline: float | None = None,
    stop: threading.Event | None = None,
) -> IngestSummary:
    """Bring the snapshot up to every configured DLQ topic's current end (or until
    `deadline`, a `time.monotonic()` value, or `stop`), then read the results topic.

    A DLQ whose topic does not exist yet is skipped with a warning, unless none exists.
    Topics `discover` matches are read too, as "any"-format DLQs."""
    started = time.monotonic()
    kafka = gateway or KafkaGateway(settings)
    if settings.discover:
        try:
            settings = settings.with_discovered(kafka.topic_names())
        except BrokerUnreachable as exc:
            for dlq in settings.dlq_list:  # the configured ones: none was tried
                _note_failed_attempt(Database.of(settings), dlq.topic, str(exc))
            raise
    summaries: list[IngestSummary] = []
    missing: list[TopicMissing] = []
    for i, dlq in enumerate(settings.dlq_list):
        try:
            summaries.append(
                _ingest_topic(
                    settings.for_dlq(dlq.name),
                    dlq.format,
                    kafka,
                    progress,
                    progress_every,
                    deadline,
                    stop,
                )
            )
        except TopicMissing as exc:
            missing.append(exc)
        except BrokerUnreachable as exc:
            # The DLQs after it are not tried: Kafka is the same, so their banners say why
            # too; not for one topic's own refusal, which says nothing of the others.
            if not isinstance(exc, TopicUnreadable):
                for later in settings.dlq_list[i + 1 :]:
                    _note_failed_attempt(Database.of(settings), later.topic, str(exc))
            raise
    if not summaries:
        raise missing[0]
    summary = summaries[0] if len(summaries) == 1 else _added_up(summaries)
    summary.warnings.extend(f"DLQ skipped: {exc}" for exc in missing)
    if settings.results_topic:
        try:
            db = Database.of(settings, ingest=True)
            summary.replay_results = ingest_results(settings, kafka, db)
        except (BrokerUnreachable, TopicMissing) as exc:
            summary.warnings.append(f"results topic {settings.results_topic}: {exc}")
    summary.seconds = time.monotonic() - started
    return summary


def _added_up(summaries: list[IngestSummary]) -> IngestSummary:
    total = IngestSummary(
        run_id=summaries[-1].run_id,
        topic=", ".join(s.topic for s in summaries),
        partitions=sum(s.partitions for s in summaries),
        per_dlq=summaries,
    )
    for name in ("records", "unparseable", "missed", "marked_gone", "behind"):
        setattr(total, name, sum(getattr(s, name) for s in summaries))
    total.warnings = [f"{s.topic}: {w}" for s in summaries for w in s.warnings]
    for s in summaries:
        for name, seconds in s.phases.items():
            total.phases[name] = round(total.phases.get(name, 0.0) + seconds, 3)
    return total


def _ingest_topic(
    settings: Settings,
    dlq_format: str,
    kafka: KafkaGateway,
    progress: ProgressCallback | None,
    progress_every: float,
    deadline: float | None,
    stop: threading.Event | None,
) -> IngestSummary:
    """One DLQ topic (settings narrowed to it): its own run, positions and watermarks."""
    started = time.monotonic()
    topic = settings.dlq_topic
    db = Database.of(settings, ingest=True)

    try:
        partitions = kafka.partitions(topic)
        offsets = kafka.watermarks(topic, partitions)
        committed = kafka.committed_offsets(settings.review_group, topic, partitions)
    except BrokerUnreachable as exc:
        _note_failed_attempt(db, topic, str(exc))
        raise

    with db.write() as con:
        run_id = store.start_run(con, topic)
        store.record_watermarks(con, run_id, topic, offsets, committed)
        store.resolve_below_committed(con, topic, committed)
        marked_gone = store.mark_gone(con, topic, offsets)
        stored = store.stored_positions(con, topic)

    summary = IngestSummary(run_id, topic, len(partitions), marked_gone=marked_gone)
    start, summary.missed, summary.warnings = _start_positions(offsets, stored)
    plan = Plan(
        run_id=run_id,
        topic=topic,
        start=start,
        end={p: o.high for p, o in offsets.items() if start[p] < o.high},
        committed=committed,
        dlq_format=dlq_format,
    )
    reporting = _Reporting(progress, progress_every, started)
    phases = Phases()
    cpu_started = time.process_time()

    status, error = "ok", None
    try:
        if plan.end:
            with cycle_collector_paused():
                _copy(kafka, db, settings, plan, summary, reporting, deadline, stop, phases)
    except BaseException as exc:
        # Kafka's own failure in the words the next attempt's record uses, so an outage's
        # runs read alike (its attempts then carry on one row: store.record_failed_attempt).
        why = str(exc) if isinstance(exc, BrokerUnreachable) else f"{type(exc).__name__}: {exc}"
        status, error = "failed", why
        raise
    finally:
        summary.seconds = time.monotonic() - started
        phases.cpu_seconds = time.process_time() - cpu_started
        summary.phases = phases.as_dict()
        with db.write() as con:
            summary.records, summary.unparseable = store.finish_run(
                con,
                run_id,
                status=status,
                missed=summary.missed,
                marked_gone=summary.marked_gone,
                error=error,
            )
    return summary


def _note_failed_attempt(db: Database, topic: str, error: str) -> None:
    """Say where the dashboard looks (its stale-snapshot banner) that a run could not start,
    best effort: the failure itself is what the caller reports. Never the first write of a
    snapshot: an empty file would hide that none has been taken yet."""
    if db.path.exists():
        with contextlib.suppress(DatabaseBusy, DatabaseError), db.write() as con:
            store.record_failed_attempt(con, topic, error)


def _start_positions(
    offsets: dict[int, PartitionOffsets], stored: dict[int, int]
) -> tuple[dict[int, int], int, list[str]]:
    start: dict[int, int] = {}
    missed = 0
    warnings: list[str] = []
    for p, wm in offsets.items():
        position = stored.get(p, wm.low)
        if position < wm.low:
            # Retention deleted these before any run read them: they cannot be recovered.
            missed += wm.low - position
            position = wm.low
        if position > wm.high:
            warnings.append(
                f"partition {p}: the snapshot has read up to offset {position} but Kafka ends "
                f"at {wm.high}; was the topic deleted and recreated?"
            )
        start[p] = position
    return start, missed, warnings


@dataclass(frozen=True)
class _Reporting:
    callback: ProgressCallback | None
    every: float
    started: float


def _copy(
    kafka: KafkaGateway,
    db: Database,
    settings: Settings,
    plan: Plan,
    summary: IngestSummary,
    reporting: _Reporting,
    deadline: float | None,
    stop: threading.Event | None,
    phases: Phases,
) -> None:
    tuning = settings.ingest
    todo = plan.end
    progress, progress_every, started = reporting.callback, reporting.every, reporting.started
    writer = TransactionWriter(db, plan, tuning.hold_db_seconds, tuning.transaction_records, phases)
    writer.start()
    consumer = kafka.reader(plan.topic, {p: plan.start[p] for p in todo})
    position = dict(plan.start)
    pending = set(todo)
    consumed = 0
    last_report = last_record = time.monotonic()

    def behind() -> int:
        return sum(max(0, todo[p] - position[p]) for p in pending)

    try:
        while pending:
            now = time.monotonic()
            if (stop is not None and stop.is_set()) or (deadline is not None and now >= deadline):
                break
            if now - last_record > STALL_SECONDS:
                raise IngestError(
                    f"no records from Kafka for {STALL_SECONDS:.0f}s with {behind():,} still "
                    f"to read; is {settings.bootstrap_servers} up?"
                )
            with phases.timed("consume"):
                messages = consumer.consume(tuning.batch_records, tuning.poll_timeout_seconds)
            good = [m for m in messages if m.error() is None]
            ends: dict[int, int] = {}
            if len(good) != len(messages):
                _handle_events(messages, position, pending, ends, settings.bootstrap_servers)
            staged = None
            if good:
                # Staged at once, so the messages (and librdkafka's fetch buffers behind
                # them) are released before the next consume().
                with phases.timed("stage"):
                    staged = stage_messages(good)
                del good, messages
                last_record = now
                # One topic: the reader is assigned only the DLQ topic's partitions.
                position.update({p: o for (_, p), o in store.next_offsets(staged).items()})
                consumed += staged.num_rows
            if staged is not None or ends:
                writer.put(staged, ends)
            for p in list(pending):
                if position[p] >= todo[p]:
                    pending.discard(p)
            if progress is not None and now - last_report >= progress_every:
                last_report = now
                progress(Progress(consumed, behind(), now - started))
    finally:
        consumer.close()
        writer.finish()
    summary.behind = behind()
    if progress is not None:
        progress(Progress(consumed, summary.behind, time.monotonic() - started))


def _handle_events(
    messages: list[Message],
    position: dict[int, int],
    pending: set[int],
    ends: dict[int, int],
    bootstrap: str,
) -> None:
    for m in messages:
        err = m.error()
        if err is None:
            continue
        if is_partition_eof(err):
            p = m.partition()
            end = m.offset()
            if p is not None and end is not None and p in position:
                # The live end: nothing below it is left to deliver (transaction markers
                # take offsets but are never delivered), so the position may move to it.
                if end > position[p]:
                    position[p] = end
                    ends[p] = end
                pending.discard(p)
            continue
        if err.fatal() or not err.retriable():
            raise IngestError(f"reading the DLQ topic: {in_words(err, bootstrap)}")

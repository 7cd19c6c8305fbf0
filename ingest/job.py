"""The ingest job: copy every new DLQ record into the DuckDB snapshot, exactly once.

One run:
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

import gc
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import pyarrow as pa

from dashboard.adapters.db import Connection, Database
from dashboard.adapters.kafka import (
    BrokerUnreachable,
    KafkaGateway,
    Message,
    PartitionOffsets,
    TopicMissing,
    is_partition_eof,
)
from dashboard.settings import Settings
from ingest import store
from ingest.parse import STAGED_SCHEMA, BatchParser, stage_messages
from ingest.results import ingest_results

# One DuckDB transaction holds at most this many bytes of staged records (and at most
# settings.ingest.transaction_records rows).
TRANSACTION_BYTES = 64 * 1024 * 1024
# No record for this long while records are known to be waiting: Kafka has gone away.
STALL_SECONDS = 30.0


class IngestError(Exception):
    """The run could not finish; every batch written before the error stays written."""


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
    """Bring the snapshot up to the DLQ topic's current end (or until `deadline`, a
    `time.monotonic()` value, or `stop`)."""
    started = time.monotonic()
    kafka = gateway or KafkaGateway(settings)
    topic = settings.dlq_topic
    db = Database.of(settings, ingest=True)

    partitions = kafka.partitions(topic)
    offsets = kafka.watermarks(topic, partitions)
    committed = kafka.committed_offsets(settings.review_group, topic, partitions)

    with db.write() as con:
        run_id = store.start_run(con, topic)
        store.record_watermarks(con, run_id, topic, offsets, committed)
        store.resolve_below_committed(con, topic, committed)
        marked_gone = store.mark_gone(con, topic, offsets)
        stored = store.stored_positions(con, topic)

    summary = IngestSummary(run_id, topic, len(partitions), marked_gone=marked_gone)
    start, summary.missed, summary.warnings = _start_positions(offsets, stored)
    plan = _Plan(
        run_id=run_id,
        topic=topic,
        start=start,
        end={p: o.high for p, o in offsets.items() if start[p] < o.high},
        committed=committed,
    )
    reporting = _Reporting(progress, progress_every, started)

    status, error = "ok", None
    try:
        if plan.end:
            with _gc_paused():
                _copy(kafka, db, settings, plan, summary, reporting, deadline, stop)
        if settings.results_topic:
            try:
                summary.replay_results = ingest_results(settings, kafka, db)
            except (BrokerUnreachable, TopicMissing) as exc:
                summary.warnings.append(f"results topic {settings.results_topic}: {exc}")
    except BaseException as exc:
        status, error = "failed", f"{type(exc).__name__}: {exc}"
        raise
    finally:
        summary.seconds = time.monotonic() - started
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


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Hold off Python's cycle collector while records stream through. Every consumed
    message allocates container objects (its header tuples), which triggers collection after
    collection over the whole batch; nothing the copy allocates forms a cycle."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


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
class _Plan:
    """What one run copies: each partition from `start` up to `end` (the high watermark
    when the run began)."""

    run_id: int
    topic: str
    start: dict[int, int]
    end: dict[int, int]  # only partitions with something to read
    committed: dict[int, int | None]  # the review group's offsets when the run began


@dataclass(frozen=True)
class _Reporting:
    callback: ProgressCallback | None
    every: float
    started: float


def _copy(
    kafka: KafkaGateway,
    db: Database,
    settings: Settings,
    plan: _Plan,
    summary: IngestSummary,
    reporting: _Reporting,
    deadline: float | None,
    stop: threading.Event | None,
) -> None:
    tuning = settings.ingest
    todo = plan.end
    progress, progress_every, started = reporting.callback, reporting.every, reporting.started
    writer = _TransactionWriter(db, plan, tuning.hold_db_seconds, tuning.transaction_records)
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
            messages = consumer.consume(tuning.batch_records, tuning.poll_timeout_seconds)
            good = [m for m in messages if m.error() is None]
            ends: dict[int, int] = {}
            if len(good) != len(messages):
                _handle_events(messages, position, pending, ends)
            staged = None
            if good:
                # Staged at once, so the messages (and librdkafka's fetch buffers behind
                # them) are released before the next consume().
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
    messages: list[Message], position: dict[int, int], pending: set[int], ends: dict[int, int]
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
            raise IngestError(f"Kafka error while reading: {err.str()}")


class _TransactionWriter:
    """Cuts staged batches into transactions, parses each in the calling (reading) thread
    and writes them, in order, on a thread of its own: one DuckDB transaction each.

    Parsing where the records are read, rather than on a third thread: on two cores three
    busy threads slow each other, and a writer that also gathered the rows would sit idle
    after each write while the next ones arrived (docs/ingest-design.md).

    The writer keeps the DuckDB file open across consecutive transactions but lets go of it
    at least every `hold_seconds` (and pauses a moment) so that readers in other processes
    get a turn while a long backlog is being copied.
    """

    RELEASE_PAUSE = 0.05

    def __init__(
        self, db: Database, plan: _Plan, hold_seconds: float, transaction_rows: int
    ) -> None:
        self._db = db
        self._transaction_rows = transaction_rows
        self._plan = plan
        self._hold = hold_seconds
        self._pending: list[pa.Table] = []
        self._pending_ends: dict[int, int] = {}
        # One parsed transaction waits while another is written: the reader then parses
        # the next, and no more than three transactions' records are held at once.
        self._queue: queue.Queue[tuple[pa.Table, dict[int, int]] | None] = queue.Queue(1)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="dlq-ingest-writer", daemon=True)
        self._parser = BatchParser()

    def start(self) -> None:
        self._thread.start()

    def put(self, staged: pa.Table | None, ends: dict[int, int]) -> None:
        """Take a staged batch and the partition ends reached with it; parse and hand over
        every transaction they complete."""
        self.check()
        if staged is not None:
            self._pending.append(staged)
        self._pending_ends.update(ends)
        self._cut(final=False)

    def finish(self) -> None:
        """Write what is left (a last, shorter transaction), then stop the writer."""
        try:
            if self._error is None and self._thread.is_alive():
                self._cut(final=True)
        finally:
            while self._thread.is_alive():
                try:
                    self._queue.put(None, timeout=0.2)
                    break
                except queue.Full:
                    continue
            self._thread.join()
            self._parser.close()
        self.check()

    def check(self) -> None:
        if self._error is not None:
            raise IngestError(f"writing the snapshot failed: {self._error}") from self._error

    def _cut(self, *, final: bool) -> None:
        rows = sum(t.num_rows for t in self._pending)
        oversized = sum(t.nbytes for t in self._pending) >= TRANSACTION_BYTES
        if not final and not oversized and rows < self._transaction_rows:
            return
        # Full transactions of exactly `transaction_rows` (one DuckDB row group by default,
        # written straight to the table; a partial one goes through the WAL and is written
        # twice); the rest waits for the next batch. Partition ends go with the last rows,
        # never ahead of them.
        batch = pa.concat_tables(self._pending) if self._pending else STAGED_SCHEMA.empty_table()
        self._pending = []
        while not (final or oversized or batch.num_rows <= self._transaction_rows):
            self._hand_over(batch.slice(0, self._transaction_rows), {})
            batch = batch.slice(self._transaction_rows)
            if batch.num_rows < self._transaction_rows:
                self._pending = [batch]
                return
        if batch.num_rows or self._pending_ends:
            self._hand_over(batch, self._pending_ends)
        self._pending_ends = {}

    def _hand_over(self, transaction: pa.Table, ends: dict[int, int]) -> None:
        item = (self._parser.parse(transaction), ends)
        while True:
            self.check()
            try:
                self._queue.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def _run(self) -> None:
        stack = ExitStack()
        con: Connection | None = None
        opened = 0.0
        plan = self._plan
        try:
            while (item := self._queue.get()) is not None:
                parsed, ends = item
                del item
                if con is None:
                    con = stack.enter_context(self._db.write())
                    opened = time.monotonic()
                store.write_parsed(con, plan.run_id, plan.topic, parsed, ends, plan.committed)
                del parsed  # freed before waiting for the next: three transactions at most
                if time.monotonic() - opened >= self._hold:
                    stack.close()
                    con = None
                    time.sleep(self.RELEASE_PAUSE)
        except BaseException as exc:  # noqa: BLE001 (handed to the reading thread)
            self._error = exc
            # Drain so the reading side never blocks on a dead writer.
            while True:
                try:
                    if self._queue.get_nowait() is None:
                        break
                except queue.Empty:
                    break
        finally:
            stack.close()

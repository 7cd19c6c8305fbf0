"""The ingest job's writing side: staged batches cut into DuckDB transactions, parsed where
they are read, and written in order on a thread of their own."""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass

import pyarrow as pa

from dashboard.adapters.db import Connection, Database, first_line
from ingest import store
from ingest.parse import STAGED_SCHEMA, BatchParser
from ingest.phases import Phases

# One DuckDB transaction holds at most this many bytes of staged records (and at most
# settings.ingest.transaction_records rows).
TRANSACTION_BYTES = 64 * 1024 * 1024
# The run's first transaction holds at most this many rows: the writer waits for the first
# one to be read and parsed, and a short one sets it to work sooner.
FIRST_TRANSACTION_ROWS = 2_048


class _Idle(Exception):
    """The writer held the file for its whole hold with nothing to write."""


class IngestError(Exception):
    """The run could not finish; every batch written before the error stays written."""


@dataclass(frozen=True)
class Plan:
    """What one run copies: each partition from `start` up to `end` (the high watermark
    when the run began)."""

    run_id: int
    topic: str
    start: dict[int, int]
    end: dict[int, int]  # only partitions with something to read
    committed: dict[int, int | None]  # the review group's offsets when the run began
    dlq_format: str = "xact-download"  # how the topic's records are parsed


class TransactionWriter:
    """Cuts staged batches into transactions, parses each in the calling (reading) thread
    and writes them, in order, on a thread of its own: one DuckDB transaction each.

    Parsing where the records are read, rather than on a third thread: on two cores three
    busy threads slow each other, and a writer that also gathered the rows would sit idle
    after each write while the next ones arrived (docs/ingest-design.md).

    The writer keeps the DuckDB file open across consecutive transactions but lets go of it
    at least every `hold_seconds` (and pauses a moment) so that readers in other processes
    get a turn while a long backlog is being copied, and as soon as the hold runs out with
    nothing to write (Kafka slow, or gone while the reading side waits out its stall limit).
    """

    RELEASE_PAUSE = 0.05

    def __init__(
        self,
        db: Database,
        plan: Plan,
        hold_seconds: float,
        transaction_rows: int,
        phases: Phases | None = None,
    ) -> None:
        self._db = db
        self._phases = phases or Phases()
        self._transaction_rows = transaction_rows
        self._plan = plan
        self._hold = hold_seconds
        self._pending: list[pa.Table] = []
        self._handed_over = 0  # transactions handed to the writer so far
        self._pending_ends: dict[int, int] = {}
        # One parsed transaction waits while another is written. The reader parses the next
        # only once the writer has taken that one (`_parse_slot`): the parse's working memory
        # never adds to two whole transactions waiting and one being written.
        self._queue: queue.Queue[tuple[pa.Table, dict[int, int]] | None] = queue.Queue(1)
        self._parse_slot = threading.Semaphore(1)
        self._error: BaseException | None = None
        # Set when a transaction was lost on the reading side (its parse failed): nothing
        # read after it may be written (see `_hand_over`).
        self._lost: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="dlq-ingest-writer", daemon=True)
        self._parser = BatchParser(formats={plan.topic: plan.dlq_format})
        # The write connection and its session while the writer holds the file.
        self._held: tuple[Connection, store.WriteSession] | None = None

    def start(self) -> None:
        self._thread.start()

    def put(self, staged: pa.Table | None, ends: dict[int, int]) -> None:
        """Take a staged batch and the partition ends reached with it; parse and hand over
        every transaction they complete."""
        self.check()
        if self._lost is not None:
            raise IngestError("a transaction was lost: this run takes no more records")
        if staged is not None:
            self._pending.append(staged)
        self._pending_ends.update(ends)
        self._cut(final=False)

    def finish(self) -> None:
        """Write what is left (a last, shorter transaction), then stop the writer."""
        try:
            if self._error is None and self._lost is None and self._thread.is_alive():
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
            # DuckDB's first line says what failed; the lines after it are tuning advice
            # (SET threads, memory_limit) for whoever wrote the query, not for an operator.
            raise IngestError(
                f"writing the snapshot failed: {first_line(self._error)}"
            ) from self._error

    def _cut(self, *, final: bool) -> None:
        rows = sum(t.num_rows for t in self._pending)
        first = min(FIRST_TRANSACTION_ROWS, self._transaction_rows)
        if not self._handed_over and not final and rows >= first:
            batch = pa.concat_tables(self._pending)
            self._pending = [batch.slice(first)]
            self._hand_over(batch.slice(0, first), {})
            rows -= first
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
        self._handed_over += 1
        with self._phases.timed("wait_for_writer"):
            while not self._parse_slot.acquire(timeout=0.2):
                self.check()
        try:
            with self._phases.timed("parse"):
                item = (self._parser.parse(transaction), ends)
        except BaseException as exc:
            # The transaction is lost: rows read after it (or a partition's end) written now
            # would move the position past records never stored. The run ends here; the
            # writer still writes what it was handed before, and the next run reads again
            # from there. The slot goes back, or finishing the writer would wait on it.
            self._lost = exc
            self._parse_slot.release()
            if isinstance(exc, Exception):
                raise IngestError(f"parsing the records failed: {first_line(exc)}") from exc
            raise
        with self._phases.timed("wait_for_writer"):
            self._put(item)

    def _put(self, item: tuple[pa.Table, dict[int, int]]) -> None:
        while True:
            self.check()
            try:
                self._queue.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def _waited_for(self, hold_left: float | None) -> tuple[pa.Table, dict[int, int]] | None:
        """The next transaction, or None at the end. While the file is held (`hold_left`
        seconds of the hold remain), waits no longer than that: _Idle when nothing came."""
        with self._phases.timed("wait_for_work"):
            try:
                item = self._queue.get(timeout=None if hold_left is None else max(0.0, hold_left))
            except queue.Empty:
                raise _Idle from None
        self._parse_slot.release()
        return item

    def _settle(self, con: Connection, session: store.WriteSession) -> None:
        """The trace landings of the hold's records, checked once for the hold (each check
        scans the topic's hashes), before readers may see them. After a failed write it may
        fail too: the records stay noted, and the topic's next run checks them as it starts
        (or as it fails to reach Kafka: store.record_failed_attempt)."""
        after_failure = (
            contextlib.suppress(Exception) if self._error is not None else contextlib.nullcontext()
        )
        with self._phases.timed("trace_landings"), after_failure:
            store.settle(con, session)

    def _run(self) -> None:
        stack = ExitStack()
        opened = 0.0
        plan = self._plan
        try:
            while True:
                held = self._held is not None
                hold_left = opened + self._hold - time.monotonic() if held else None
                try:
                    item = self._waited_for(hold_left)
                except _Idle:
                    # Nothing to write for the rest of the hold (Kafka slow, or gone until
                    # the reading side's stall limit): readers in other processes get the
                    # file meanwhile.
                    self._let_go(stack)
                    continue
                if item is None:
                    break
                parsed, ends = item
                del item
                if self._held is None:
                    with self._phases.timed("open_and_close"):
                        opening = stack.enter_context(self._db.write())
                        prepared = store.prepare(opening, plan.topic, defer_landings=True)
                        self._held = (opening, prepared)
                    opened = time.monotonic()
                con, session = self._held
                store.write_parsed(
                    con,
                    plan.run_id,
                    plan.topic,
                    parsed,
                    ends,
                    plan.committed,
                    self._phases,
                    session,
                )
                del parsed  # freed before waiting for the next: three transactions at most
                if time.monotonic() - opened >= self._hold:
                    self._let_go(stack, self.RELEASE_PAUSE)
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
            try:
                self._let_go(stack)
            except BaseException as exc:  # noqa: BLE001 (the last hold's check failed)
                if self._error is None:
                    self._error = exc

    def _let_go(self, stack: ExitStack, pause: float = 0.0) -> None:
        """Check the trace landings of the hold's records and close the write connection
        `stack` holds, if any; then pause, so that a reader waiting for the file gets in
        before the writer opens it again."""
        held, self._held = self._held, None
        try:
            if held is not None:
                self._settle(*held)
        finally:
            with self._phases.timed("open_and_close"):
                stack.close()
                if pause:
                    time.sleep(pause)

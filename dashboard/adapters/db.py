"""The one module that owns the DuckDB file: connections, locking, schema and migrations.

DuckDB lets one process write a database file, or several processes read it, never both at
once. The ingest job, the Streamlit app and the CLI all share one file, so nobody keeps it
open while idle: every caller opens a connection for one unit of work and closes it again,
and an open that meets another process's lock is retried until `lock_timeout` runs out.

Inside one process DuckDB shares a database instance between connections of the same
configuration but refuses a read-write connection while a read-only one is open (and the
reverse), so a readers-writer lock keeps the two kinds apart between threads.

A unit of work made of many reads (a dashboard page run) may share one read connection:
see `one_read_connection`.
"""

from __future__ import annotations

import contextlib
import random
import re
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from dashboard.adapters.migrations import MIGRATIONS, Migration
from dashboard.settings import Settings

Connection = duckdb.DuckDBPyConnection
# Any failure DuckDB reports (a full disk during a write, a damaged file): the CLI says it in
# one line.
DatabaseError = duckdb.Error
Relation = duckdb.DuckDBPyRelation

_LOCK_MESSAGES = ("Could not set lock", "Conflicting lock")
ROW_GROUP_SIZE = 16_384
WRITER_MEMORY_LIMIT = "256MB"
# The ingest job's writer: DuckDB keeps the blocks it writes and the ones it scans (each
# hold's trace-landings check reads the topic's trace hashes) in its buffer pool up
# to its limit, so the job's peak memory (its budget is 400 MB) grows with the snapshot up
# to this limit; its transactions need far less. A lower limit costs the writer time: the
# blocks it evicts are read again (docs/ingest-design.md has the trade measured).
# Migrations run before it applies, with the usual limit.
INGEST_WRITER_MEMORY_LIMIT = "96MB"
# DuckDB draws a progress bar on stdout for any statement that runs over two seconds (a
# migration, a dashboard query on a large snapshot): it would land inside `--format json`
# output and the Streamlit server's log.
_NO_PROGRESS_BAR = "SET enable_progress_bar_print = false"


class SnapshotMissing(Exception):
    """There is no snapshot file yet: nothing has been ingested."""


class DatabaseBusy(Exception):
    """Another process held the DuckDB file for longer than the lock timeout."""


class SnapshotUnreadable(Exception):
    """The snapshot file is not a DuckDB database (truncated, empty, another kind of file),
    or the disk refused a read or a write; the message says which, in one line."""


@dataclass(frozen=True)
class Database:
    """Where the snapshot lives and how long to wait for another process's lock."""

    path: Path
    lock_timeout: float = 30.0
    # Rows per row group this process writes (the ingest job: one per transaction).
    row_group_size: int = ROW_GROUP_SIZE
    # DuckDB's memory limit of a write connection, once migrated.
    memory_limit: str = WRITER_MEMORY_LIMIT
    # DuckDB threads of a write connection; None: one per core. The ingest job writes on one:
    # its reading thread (which also parses) has the other core's worth of work already.
    writer_threads: int | None = None

    @classmethod
    def of(cls, settings: Settings, *, ingest: bool = False) -> Database:
        """The snapshot the settings name; `ingest` gives the ingest job's write tuning."""
        if not ingest:
            return cls(settings.db, settings.db_lock_timeout_seconds)
        # Row groups of one transaction each, so DuckDB writes every full transaction straight
        # to the table; one DuckDB thread, since the job's reading thread fills the other core.
        return cls(
            settings.db,
            settings.db_lock_timeout_seconds,
            row_group_size=settings.ingest.transaction_records,
            memory_limit=INGEST_WRITER_MEMORY_LIMIT,
            writer_threads=1,
        )

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A read-write connection on a migrated schema; closed when the block ends."""
        run = getattr(_THIS_THREAD, "run", None)
        if run is not None:
            run.close()  # DuckDB refuses a writer beside this thread's shared reader
        with _PROCESS_LOCK.exclusive():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            con = self._open(read_only=False)
            try:
                # Memory stays bounded while a large backlog is written (DuckDB would otherwise
                # buffer several row groups per thread, up to a fifth of the machine's memory).
                con.execute(f"SET memory_limit = '{WRITER_MEMORY_LIMIT}'")
                if self.writer_threads is not None:
                    con.execute(f"SET threads = {int(self.writer_threads)}")
                # Migrations may set their own (a rebuild keeps the rows' order): this
                # connection's writes need none.
                apply_migrations(con, MIGRATIONS)
                if self.memory_limit != WRITER_MEMORY_LIMIT:
                    con.execute(f"SET memory_limit = '{self.memory_limit}'")
                con.execute("SET preserve_insertion_order = false")
                yield con
            finally:
                con.close()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only connection; `SnapshotMissing` when no snapshot was ever written."""
        if not self.path.exists():
            raise SnapshotMissing(f"no snapshot at {self.path}: run `dlq ingest` first")
        if self.path not in _MIGRATED:
            with self.write():  # brings a file written by an older version up to date
                pass
            _MIGRATED.add(self.path)
        run = getattr(_THIS_THREAD, "run", None)
        if run is not None and run.path in (None, self.path):
            with run.reading(self) as con:
                yield con
            return
        with _PROCESS_LOCK.shared():
            con = self._open(read_only=True)
            try:
                yield con
            finally:
                con.close()

    def _open(self, *, read_only: bool) -> Connection:
        deadline = time.monotonic() + self.lock_timeout
        pause = 0.005
        while True:
            try:
                con = _connect(self.path, read_only=read_only, row_group_size=self.row_group_size)
            except duckdb.Error as exc:
                if not isinstance(exc, duckdb.IOException) or not any(
                    text in str(exc) for text in _LOCK_MESSAGES
                ):
                    raise SnapshotUnreadable(f"snapshot {self.path}: {first_line(exc)}") from None
                if time.monotonic() >= deadline:
                    raise DatabaseBusy(
                        f"{self.path} stayed locked by another process for "
                        f"{self.lock_timeout:g}s ({_holder(exc)})"
                    ) from None
                # Jitter keeps two waiting processes from retrying in lock-step.
                time.sleep(pause * (0.5 + random.random()))
                pause = min(pause * 2, 0.1)
                continue
            # Timestamps are stored as TIMESTAMPTZ; UTC keeps naive values and output stable.
            con.execute("SET TimeZone = 'UTC'")
            return con


def _connect(path: Path, *, read_only: bool, row_group_size: int) -> Connection:
    if read_only:
        return _set_up(duckdb.connect(str(path), read_only=True), _NO_PROGRESS_BAR)
    # Writers attach the file with smaller row groups (16,384 rows unless the writer says;
    # the ingest job's are its transactions): DuckDB writes a transaction of at least one
    # full row group straight to the table instead of through the WAL (written once, not
    # twice), and small row groups keep a transaction's memory within bounds. Readers need
    # no option.
    return _set_up(
        duckdb.connect(),
        _NO_PROGRESS_BAR,
        f"ATTACH '{_quote(path)}' AS snapshot (ROW_GROUP_SIZE {int(row_group_size)})",
        "USE snapshot",
    )


def _set_up(con: Connection, *statements: str) -> Connection:
    """Run `statements` on a new connection; close it if one fails."""
    try:
        for statement in statements:
            con.execute(statement)
    except BaseException:
        con.close()
        raise
    return con


def _quote(path: Path) -> str:
    return str(path).replace("'", "''")


def scratch_connection(*, threads: int) -> Connection:
    """An in-memory DuckDB for work on data that is not in the snapshot yet (parsing a batch
    before it is written): it takes no lock on the file, so it can work while another
    connection writes."""
    return _set_up(
        duckdb.connect(),
        _NO_PROGRESS_BAR,
        f"SET memory_limit = '{WRITER_MEMORY_LIMIT}'",
        f"SET threads = {threads}",
        # As on the file's connections: a timestamp without an offset is read as UTC.
        "SET TimeZone = 'UTC'",
    )


def register(con: Connection, name: str, data: pa.Table) -> None:
    """Make an Arrow table queryable as `name`. DuckDB 2.0 streams results: a result left
    half-read (a fetchone()) still owns the connection, so it is completed first."""
    con.complete()
    con.register(name, data)


def run_to_arrow(con: Connection, statement: str) -> pa.Table:
    """The rows of a statement that is not a SELECT (an EXECUTE of a prepared one), as Arrow.

    `con.sql()` runs such a statement at once and keeps its rows in DuckDB, to be read
    again into Arrow: a second copy of every row. The duckdb package's own
    `to_arrow_table()` asks its engine for Arrow straight from the run (`_seam.submit`);
    so does this, where that exists."""
    submit = getattr(getattr(duckdb, "_seam", None), "submit", None)
    if submit is None:
        return con.sql(statement).to_arrow_table()
    con.complete()
    return submit(con, statement, None, "arrow").arrow_table()


def insert_rows(
    con: Connection, table: str, columns: Sequence[str], rows: Sequence[Sequence[object]]
) -> None:
    """Insert many rows at once through an Arrow table: DuckDB's executemany runs a
    statement per row, too slow for the thousands a bulk action writes."""
    if not rows:
        return
    data = pa.table({f"c{i}": [row[i] for row in rows] for i in range(len(columns))})
    name = f"_rows_{table}"
    register(con, name, data)
    try:
        quoted = ", ".join(f'"{c}"' for c in columns)
        selected = ", ".join(f"c{i}" for i in range(len(columns)))
        con.execute(f"INSERT INTO {table} ({quoted}) SELECT {selected} FROM {name}")
    finally:
        con.unregister(name)


def _holder(exc: Exception) -> str:
    # "Conflicting lock is held in /usr/bin/python3.11 (PID 4242) by user ...": the path has
    # dots of its own, so the holder is read by its shape, not cut at the first ".".
    found = re.search(r"Conflicting lock is held in (.*?) \(PID (\d+)\)", str(exc))
    if found:
        return f"held by PID {found.group(2)} ({found.group(1)})"
    return first_line(exc)


def first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


_MIGRATED: set[Path] = set()


class _SharedRead:
    """The read-only connection a thread's reads share inside `one_read_connection`."""

    def __init__(self) -> None:
        self.path: Path | None = None
        self._con: Connection | None = None
        self._lock = contextlib.ExitStack()
        self._readers = 0

    @contextmanager
    def reading(self, db: Database) -> Iterator[Connection]:
        if self._con is None:
            self._lock.enter_context(_PROCESS_LOCK.shared())
            try:
                self._con = db._open(read_only=True)
            except BaseException:
                self._lock.close()
                raise
            self.path = db.path
        self._readers += 1
        try:
            yield self._con
        finally:
            self._readers -= 1

    def close(self) -> None:
        if self._readers:
            # Would wait for itself for ever: the block's reader is this thread.
            raise RuntimeError("write inside a read block: finish the read first")
        con, self._con, self.path = self._con, None, None
        try:
            if con is not None:
                con.close()
        finally:
            self._lock.close()


_THIS_THREAD = threading.local()


@contextmanager
def one_read_connection() -> Iterator[None]:
    """Inside this block, this thread's reads share one read-only connection, opened by the
    first read and closed when the block ends, or before this thread writes (a read after
    the write opens it again and sees the write). Every new connection loads the catalog
    again and starts with an empty buffer pool: a dashboard page of a dozen queries on a
    large snapshot spends a large part of its run on that. Other processes' writers wait for
    the block as for any reader, so it must span one unit of work (a page run), never idle
    time."""
    if getattr(_THIS_THREAD, "run", None) is not None:
        yield  # nested: the outer block's connection serves
        return
    run = _SharedRead()
    _THIS_THREAD.run = run
    try:
        yield
    finally:
        _THIS_THREAD.run = None
        run.close()


@contextmanager
def transaction(con: Connection) -> Iterator[Connection]:
    """BEGIN; COMMIT when the block ends; ROLLBACK (and re-raise) when it raises, whatever
    it raises: an interrupted write leaves nothing half done."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
        con.execute("COMMIT")
    except BaseException:
        # A COMMIT that failed (a full disk) may leave no transaction to roll back; the
        # ROLLBACK's own error must not hide the failure that matters.
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")
        raise


def apply_migrations(con: Connection, migrations: Sequence[Migration]) -> list[str]:
    """Apply, in order, each named migration not yet recorded; return the names applied."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " name VARCHAR PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
    )
    done = {row[0] for row in con.execute("SELECT name FROM schema_migrations").fetchall()}
    applied: list[str] = []
    for migration in migrations:
        if migration.name in done:
            continue
        with transaction(con):
            con.execute(migration.sql)
            con.execute("INSERT INTO schema_migrations (name) VALUES (?)", [migration.name])
        applied.append(migration.name)
    return applied


class _ReadersWriterLock:
    """Many readers or one writer, between the threads of this process."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer: int | None = None
        self._writer_depth = 0

    @contextmanager
    def shared(self) -> Iterator[None]:
        me = threading.get_ident()
        with self._cond:
            if self._writer == me:
                # DuckDB refuses a read-only connection beside this thread's read-write one.
                raise RuntimeError("read inside a write block: use the write connection")
            self._cond.wait_for(lambda: self._writer is None)
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        me = threading.get_ident()
        with self._cond:
            if self._writer == me:
                self._writer_depth += 1
            else:
                self._cond.wait_for(lambda: self._writer is None and self._readers == 0)
                self._writer = me
                self._writer_depth = 1
        try:
            yield
        finally:
            with self._cond:
                self._writer_depth -= 1
                if self._writer_depth == 0:
                    self._writer = None
                self._cond.notify_all()


_PROCESS_LOCK = _ReadersWriterLock()

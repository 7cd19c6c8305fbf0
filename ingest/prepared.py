"""A SELECT prepared once on a connection and run on each new input table (the parse's
queries, see ingest.parse.BatchParser)."""

from __future__ import annotations

from itertools import count

import pyarrow as pa

from dashboard.adapters.db import Connection, run_to_arrow


class _Input:
    """The Arrow table a prepared statement reads as `dlq_input`: DuckDB keeps this object
    from when it binds the statement, and asks it for its rows on every run."""

    def __init__(self) -> None:
        self.table: pa.Table | None = None

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object:
        if self.table is None:
            raise RuntimeError("a prepared parse query ran without its input")
        return self.table.__arrow_c_stream__(requested_schema)


_statement_numbers = count()


class PreparedSelect:
    """A SELECT over the relation `dlq_input`, prepared once on a connection and run on each
    new input table.

    DuckDB parses, binds and plans a query's text on every run (most of the parse's fixed
    cost per batch); a prepared statement keeps its plan, but is bound anew on every run as
    soon as it reads a catalog entry (a registered table, a temporary macro), calls now() or
    adds an interval to a TIMESTAMPTZ.
    So the query must read no catalog entry (ingest.parse writes its macros in), and
    `dlq_input` is a Python object DuckDB finds by its variable's name when it binds (a
    replacement scan) and reads again on each run. Were DuckDB to bind it anew all the same,
    it would find the same object: `run` holds it under that name too."""

    def __init__(self, con: Connection, sql: str) -> None:
        self._con = con
        self._sql = sql
        self._name = f"dlq_prepared_{next(_statement_numbers)}"
        self._input = _Input()
        self._schema: pa.Schema | None = None

    def run(self, table: pa.Table) -> pa.Table:
        con = self._con
        # A result left half-read still owns the connection (see db.register).
        con.complete()
        dlq_input = self._input  # noqa: F841 (read by DuckDB, by its name)
        self._input.table = table
        try:
            if self._schema != table.schema:
                # The plan holds the input's column types: a table of other types (never
                # from the ingest) is read by a plan of its own.
                self.close()
                con.execute(f"PREPARE {self._name} AS {self._sql}")
                self._schema = table.schema
            return run_to_arrow(con, f"EXECUTE {self._name}")
        finally:
            self._input.table = None

    def close(self) -> None:
        if self._schema is not None:
            self._schema = None
            self._con.execute(f"DEALLOCATE {self._name}")

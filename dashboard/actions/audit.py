"""The audit trail: append-only, hash-chained, in DuckDB, copied to a file and a topic.

Each entry's hash is SHA-256 over its fields (canonical JSON) and the previous entry's hash.
Changing, removing or reordering an entry breaks the chain from that entry on, and
`verify` names the first entry that no longer fits. Entries are appended inside the caller's
transaction (so an action and its entry commit together) and then copied to the JSON-lines
file (`DLQ_AUDIT_LOG`) and the audit topic (audit_copies.py); `dlq audit verify` checks each
chain and that the three copies agree (audit_verify.py).

URLs in entries are kept with their credentials masked: the audit says which URL was used,
it does not hand out working presigned links.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from typing import Any, Final

from dashboard.adapters.db import Connection, insert_rows
from dashboard.text.safe_text import csv_cell
from dashboard.text.urls import mask_url

GENESIS: Final = "0" * 64
ACTIONS: Final = (
    "view",
    "list",
    "replay",
    "replay-with-new-url",
    "resolve",
    "bulk-start",
    "bulk-finish",
    "bulk-cancel",
    "audit-resend",  # entries copied to the audit topic late (dashboard.actions.audit_resend)
)
RESULTS: Final = ("success", "failure", "refused", "dry-run")
# What changed something (or tried to), as opposed to someone looking or the audit's upkeep.
CHANGING_ACTIONS: Final = tuple(a for a in ACTIONS if a not in ("view", "list", "audit-resend"))


@dataclass(frozen=True)
class NewEntry:
    action: str
    actor: str
    result: str
    trace_id: str | None = None
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    error: str | None = None
    reason: str | None = None
    bulk_id: str | None = None
    old_url: str | None = None
    new_url: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"unknown audit action {self.action!r}")
        if self.result not in RESULTS:
            raise ValueError(f"unknown audit result {self.result!r}")


@dataclass(frozen=True)
class AuditEntry:
    audit_id: int
    logged_at: datetime
    action: str
    actor: str
    trace_id: str | None
    topic: str | None
    partition: int | None
    offset: int | None
    result: str
    error: str | None
    reason: str | None
    bulk_id: str | None
    old_url: str | None
    new_url: str | None
    details: str  # canonical JSON
    prev_hash: str
    hash: str

    def body(self) -> dict[str, Any]:
        """What the hash covers: every field but the hash itself."""
        values = {name: getattr(self, name) for name in _BODY_FIELDS}
        values["logged_at"] = _timestamp(self.logged_at)
        return values

    def computed_hash(self) -> str:
        return _hash_of(self.body())

    def as_json(self) -> dict[str, Any]:
        return {**self.body(), "hash": self.hash}


COLUMNS: Final = tuple(f.name for f in fields(AuditEntry))
_BODY_FIELDS: Final = tuple(c for c in COLUMNS if c != "hash")
_SQL_COLUMNS: Final = ", ".join(f'"{c}"' for c in COLUMNS)


# The canonical JSON a hash covers, and an entry's details; made once, not per json.dumps
# call (a bulk seals thousands of entries).
_CANONICAL_JSON: Final = json.JSONEncoder(sort_keys=True, separators=(",", ":"))
_DETAILS_JSON: Final = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str)


def _hash_of(body: dict[str, Any]) -> str:
    return hashlib.sha256(_CANONICAL_JSON.encode(body).encode()).hexdigest()


@functools.lru_cache(maxsize=64)  # the entries of one append share their moment
def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def append(
    con: Connection, entries: Sequence[NewEntry], now: datetime | None = None
) -> list[AuditEntry]:
    """Chain `entries` onto the log, inside the caller's transaction."""
    if not entries:
        return []
    last = con.execute(
        "SELECT audit_id, hash FROM audit_log ORDER BY audit_id DESC LIMIT 1"
    ).fetchone()
    next_id, prev_hash = (int(last[0]) + 1, str(last[1])) if last else (1, GENESIS)
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    stamp = _timestamp(moment)
    made: list[AuditEntry] = []
    for entry in entries:
        # The body the hash covers (AuditEntry.body), built once: a bulk seals thousands.
        body: dict[str, Any] = {
            "audit_id": next_id,
            "logged_at": stamp,
            "action": entry.action,
            "actor": entry.actor,
            "trace_id": entry.trace_id,
            "topic": entry.topic,
            "partition": entry.partition,
            "offset": entry.offset,
            "result": entry.result,
            "error": entry.error,
            "reason": entry.reason,
            "bulk_id": entry.bulk_id,
            "old_url": mask_url(entry.old_url) if entry.old_url else None,
            "new_url": mask_url(entry.new_url) if entry.new_url else None,
            "details": _DETAILS_JSON.encode(entry.details),
            "prev_hash": prev_hash,
        }
        prev_hash = _hash_of(body)
        made.append(AuditEntry(**{**body, "logged_at": moment, "hash": prev_hash}))
        next_id += 1
    insert_rows(con, "audit_log", COLUMNS, [[getattr(e, c) for c in COLUMNS] for e in made])
    return made


@dataclass(frozen=True)
class Verification:
    ok: bool
    checked: int
    first_broken: int | None = None
    problem: str | None = None

    def line(self, source: str) -> str:
        if self.ok:
            return f"{source}: {self.checked:,} entries, chain intact"
        return f"{source}: entry {self.first_broken} {self.problem} ({self.checked:,} checked)"


class ChainCheck:
    """Checks entries one at a time, in order, against the chain; `starts_late`: the first
    entry may follow entries this copy no longer holds (a topic read from its low mark)."""

    def __init__(self, starts_late: bool = False) -> None:
        self.checked = 0
        self.problem: Verification | None = None
        self._prev_hash: str | None = None if starts_late else GENESIS
        self._expected_id: int | None = None

    def feed(self, entry: AuditEntry) -> None:
        self.checked += 1
        if self.problem is not None:
            return
        if self._expected_id is not None and entry.audit_id != self._expected_id:
            why = f"follows entry {self._expected_id - 1}: entries are missing"
            self.problem = Verification(False, self.checked, entry.audit_id, why)
        elif self._prev_hash is not None and entry.prev_hash != self._prev_hash:
            why = "does not follow the entry before it: an entry was removed, inserted or reordered"
            self.problem = Verification(False, self.checked, entry.audit_id, why)
        elif entry.computed_hash() != entry.hash:
            why = "does not match its hash: it was changed"
            self.problem = Verification(False, self.checked, entry.audit_id, why)
        self._prev_hash, self._expected_id = entry.hash, entry.audit_id + 1

    def result(self) -> Verification:
        if self.problem is not None:
            return replace(self.problem, checked=self.checked)
        return Verification(True, self.checked)


def verify_entries(entries: Iterable[AuditEntry]) -> Verification:
    check = ChainCheck()
    for entry in entries:
        check.feed(entry)
        if check.problem is not None:
            return check.problem
    return check.result()


def stored_entries(con: Connection, batch: int = 10_000) -> Iterator[AuditEntry]:
    """Every entry in id order, fetched in batches."""
    after = 0
    while True:
        rows = con.execute(
            f"SELECT {_SQL_COLUMNS} FROM audit_log WHERE audit_id > ? ORDER BY audit_id LIMIT ?",
            [after, batch],
        ).fetchall()
        if not rows:
            return
        for row in rows:
            entry = AuditEntry(*row)
            yield replace(entry, logged_at=entry.logged_at.astimezone(UTC))
        after = int(rows[-1][0])


@dataclass(frozen=True)
class AuditFilter:
    actor: str = ""
    actions: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    trace_id: str = ""
    bulk_id: str = ""
    # The DLQ topics whose records' entries are wanted, with the entries of no record (a bulk
    # action's summary, a reveal), which belong to no one DLQ; empty: every entry.
    topics: tuple[str, ...] = ()

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = ["TRUE"]
        params: list[Any] = []
        if self.actor.strip():
            clauses.append("actor ILIKE ?")
            params.append(f"%{self.actor.strip()}%")
        if self.actions:
            clauses.append(f"action IN ({', '.join('?' for _ in self.actions)})")
            params.extend(self.actions)
        if self.since is not None:
            clauses.append("logged_at >= ?")
            params.append(self.since)
        if self.until is not None:
            clauses.append("logged_at < ?")
            params.append(self.until)
        if self.trace_id.strip():
            clauses.append("trace_id = ?")
            params.append(self.trace_id.strip())
        if self.bulk_id.strip():
            clauses.append("bulk_id = ?")
            params.append(self.bulk_id.strip())
        if self.topics:
            clauses.append(f"(topic IS NULL OR topic IN ({', '.join('?' for _ in self.topics)}))")
            params.extend(self.topics)
        return " AND ".join(clauses), params


def query(con: Connection, flt: AuditFilter, limit: int = 1000) -> list[AuditEntry]:
    where, params = flt.where()
    rows = con.execute(
        f"SELECT {_SQL_COLUMNS} FROM audit_log WHERE {where} ORDER BY audit_id DESC LIMIT ?",
        [*params, limit],
    ).fetchall()
    return [AuditEntry(*row) for row in rows]


def to_csv(entries: Iterable[AuditEntry]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for entry in entries:
        writer.writerow([csv_cell(getattr(entry, c)) for c in COLUMNS])
    return out.getvalue()

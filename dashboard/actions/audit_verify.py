"""`dlq audit verify`: each copy's chain, and the copies against each other.

The table, the log file and the audit topic are read side by side in id order; the first
entry where any two disagree (one lacks it, or they hold different entries) is named, so an
entry cut from the end of one copy is found like one cut from its middle. The topic is read
from its low watermark: entries before its first one are noted, not counted against it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dashboard.actions.audit import AuditEntry, ChainCheck, stored_entries
from dashboard.actions.audit_copies import file_entries, topic_entries
from dashboard.adapters.db import Database
from dashboard.adapters.kafka import BrokerUnreachable
from dashboard.settings import Settings


@dataclass(frozen=True)
class Copy:
    name: str  # in words: "database dlq.duckdb", "log file dlq-audit.log", "audit topic t"
    entries: Iterable[AuditEntry]
    starts_late: bool = False  # may lack the oldest entries (a topic's head)


@dataclass
class CopiesCheck:
    ok: bool = True
    lines: list[str] = field(default_factory=list)


class _Reader:
    def __init__(self, copy: Copy) -> None:
        self.copy = copy
        self.chain = ChainCheck(copy.starts_late)
        self._entries: Iterator[AuditEntry] = iter(copy.entries)
        self.head: AuditEntry | None = None
        self.first: int | None = None
        self.last: int | None = None
        self.advance()
        self.first = self.head.audit_id if self.head else None

    def advance(self) -> None:
        if self.head is not None:
            self.last = self.head.audit_id
        self.head = next(self._entries, None)
        if self.head is not None:
            self.chain.feed(self.head)

    def drain(self) -> None:
        while self.head is not None:
            self.advance()


def verify_copies(copies: Sequence[Copy]) -> CopiesCheck:
    """Check every copy's chain and that all hold the same entries. Raises ValueError when a
    copy holds something that is not an entry, BrokerUnreachable when the topic cannot be
    read."""
    readers = [_Reader(c) for c in copies]
    disagreement = _first_disagreement(readers)
    for reader in readers:
        reader.drain()  # the chain check of each copy covers all of it
    check = CopiesCheck()
    for reader in readers:
        result = reader.chain.result()
        check.lines.append(result.line(reader.copy.name))
        check.ok = check.ok and result.ok
        if reader.copy.starts_late and reader.first not in (None, 1):
            check.lines.append(
                f"{reader.copy.name}: starts at entry {reader.first} (the earlier ones were "
                "removed from its head or predate it)"
            )
    names = ", ".join(r.copy.name for r in readers)
    if disagreement is None:
        check.lines.append(f"copies agree: {names}")
    else:
        check.ok = False
        check.lines.append(f"copies disagree: {disagreement}")
    return check


def _first_disagreement(readers: Sequence[_Reader]) -> str | None:
    while any(r.head is not None for r in readers):
        target = min(r.head.audit_id for r in readers if r.head is not None)
        holding = [r for r in readers if r.head is not None and r.head.audit_id == target]
        lacking = [
            r
            for r in readers
            if r not in holding
            and not (r.copy.starts_late and r.first is not None and target < r.first)
        ]
        if lacking:
            return f"entry {target} is in the {_names(holding)} but " + "; ".join(
                _missing(r, target) for r in lacking
            )
        hashes = {r.head.hash for r in holding if r.head is not None}
        if len(hashes) > 1:
            return f"entry {target} differs between the {_names(holding)}"
        for r in holding:
            r.advance()
    return None


def _names(readers: Sequence[_Reader]) -> str:
    return " and ".join(r.copy.name for r in readers)


def _missing(reader: _Reader, target: int) -> str:
    name = reader.copy.name
    if reader.head is None:
        if reader.last is None:
            return f"the {name} is empty: entry {target} and every entry after it are missing there"
        return (
            f"the {name} ends at entry {reader.last}: entry {target} and every entry after "
            "it are missing there"
        )
    return f"missing from the {name} (it goes on at entry {reader.head.audit_id})"


def in_id_order(entries: Iterable[AuditEntry]) -> tuple[list[AuditEntry], list[str]]:
    """The audit topic's entries by id, and a note when some came after later ones: `dlq
    audit resend` appends those Kafka missed while it was down. An entry sent twice (its
    acknowledgement lost, then resent) counts once; two different entries under one id are
    both kept, so the comparison names it."""
    late: list[int] = []
    newest = 0
    unique: dict[tuple[int, str], AuditEntry] = {}
    for entry in entries:
        if entry.audit_id < newest:
            late.append(entry.audit_id)
        newest = max(newest, entry.audit_id)
        unique.setdefault((entry.audit_id, entry.hash), entry)
    ordered = sorted(unique.values(), key=lambda e: e.audit_id)
    notes = []
    if late:
        ids = (
            f"entry {late[0]}"
            if len(late) == 1
            else f"{len(late)} entries ({min(late)}-{max(late)})"
        )
        notes.append(f"{ids} came after later ones (resent by dlq audit resend); compared by id")
    return ordered, notes


def verify_all(settings: Settings, log: Path | None = None) -> CopiesCheck:
    """Verify the table, the log file (`log`, default the setting) and the audit topic (when
    it is on): each chain, and the three against each other."""
    path = log or settings.audit_log
    topic = settings.audit_topic_name
    notes: list[str] = []
    try:
        in_topic = None
        if topic:
            in_topic, notes = in_id_order(topic_entries(settings, topic))
    except (BrokerUnreachable, ValueError) as exc:
        return CopiesCheck(False, [f"audit topic {topic}: cannot be read ({exc})"])
    with Database.of(settings).read() as con:
        copies = [Copy(f"database {settings.db}", stored_entries(con))]
        copies.append(Copy(f"log file {path}", file_entries(path)))
        if in_topic is not None:
            copies.append(Copy(f"audit topic {topic}", in_topic, starts_late=True))
        try:
            check = verify_copies(copies)
        except ValueError as exc:
            return CopiesCheck(False, [str(exc)])
    if topic is None:
        check.lines.append("audit topic: off (the audit_topic setting)")
    check.lines += [f"audit topic {topic}: {note}" for note in notes]
    lacks_topic = [
        line
        for line in check.lines
        if line.startswith("copies disagree")
        and f"audit topic {topic}" in line.partition(" but ")[2]
    ]
    if lacks_topic:
        check.lines.append(
            "if Kafka was down when they were written, `dlq audit resend` copies to the topic "
            "the entries the database and the log file hold alike"
        )
    return check

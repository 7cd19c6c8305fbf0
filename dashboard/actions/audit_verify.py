"""`dlq audit verify`: each copy's chain, and the copies against each other.

The table, the log file and the audit topic are read side by side in id order; the first
entry where any two disagree (one lacks it, or they hold different entries) is named, so an
entry cut from the end of one copy is found like one cut from its middle. The topic is read
from its low watermark: entries before its first one are noted, not counted against it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dashboard.actions.audit import AuditEntry, AuditFilter, ChainCheck, query, stored_entries
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


def in_id_order(entries: Iterable[AuditEntry]) -> tuple[list[AuditEntry], list[int]]:
    """The audit topic's entries by id, and the ids of those that came after later ones
    (only a resend writes them so: `verify_all` checks an audit-resend entry names each).
    An entry sent twice alike (its acknowledgement lost, then sent again) counts once; two
    different entries under one id, even with the same claimed hash, are both kept, so the
    comparison names it."""
    late: list[int] = []
    newest = 0
    unique: dict[AuditEntry, None] = {}
    for entry in entries:
        if entry.audit_id < newest:
            late.append(entry.audit_id)
        newest = max(newest, entry.audit_id)
        unique.setdefault(entry, None)
    return sorted(unique, key=lambda e: e.audit_id), late


def _ids_text(ids: Sequence[int]) -> str:
    if len(ids) == 1:
        return f"entry {ids[0]}"
    return f"{len(ids)} entries ({min(ids)}-{max(ids)})"


def _resend_notes(settings: Settings, topic: str, late: list[int]) -> tuple[list[str], bool]:
    """Who copied which entries to the topic late, from the table's audit-resend entries;
    False when an entry came late that none names (nothing but a resend writes so)."""
    with Database.of(settings).read() as con:
        resends = query(con, AuditFilter(actions=("audit-resend",)), 10_000)
    notes: list[str] = []
    named: set[int] = set()
    for resend in reversed(resends):  # oldest first
        ids = [int(i) for i in json.loads(resend.details).get("ids", [])]
        named.update(ids)
        if ids:
            notes.append(
                f"audit topic {topic}: {_ids_text(ids)} copied to it late by a resend, entry "
                f"{resend.audit_id} by {resend.actor} at {resend.logged_at:%Y-%m-%d %H:%M} "
                f"UTC ({resend.reason})"
            )
    unnamed = [i for i in late if i not in named]
    if unnamed:
        notes.append(
            f"audit topic {topic}: {_ids_text(unnamed)} came after later ones, and no "
            "audit-resend entry names them"
        )
    return notes, not unnamed


def verify_all(settings: Settings, log: Path | None = None) -> CopiesCheck:
    """Verify the table, the log file (`log`, default the setting) and the audit topic (when
    it is on): each chain, and the three against each other."""
    path = log or settings.audit_log
    topic = settings.audit_topic_name
    late: list[int] = []
    try:
        in_topic = None
        if topic:
            in_topic, late = in_id_order(topic_entries(settings, topic))
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
    if topic is not None:
        notes, accounted = _resend_notes(settings, topic, late)
        check.lines += notes
        check.ok = check.ok and accounted
    lacks_topic = [
        line
        for line in check.lines
        if line.startswith("copies disagree")
        and f"audit topic {topic}" in line.partition(" but ")[2]
    ]
    if lacks_topic:
        check.lines.append(
            "if Kafka was down when they were written, `dlq audit resend --reason ...` copies "
            "to the topic the entries the database and the log file hold alike (audited)"
        )
    return check

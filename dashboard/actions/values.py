"""The values every step of an action passes along: the records named, what a request asks,
what a preview found, what a run reported. Plain data at the bottom of the package, so the
steps above can share them without importing each other."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, Literal

from dashboard.actions.identity import Identity
from dashboard.text.urls import mask_text

Action = Literal["replay", "resolve"]
# A claim lives one chunk of a run (a few seconds; at most an unthrottled chunk's sends plus
# the delivery timeout); from another host, whose PIDs cannot be checked, a claim older than
# this is taken as its holder's death.
CLAIM_LEASE = timedelta(minutes=10)
# What became of one record in a run; "dry-run": it would have been acted on.
Outcome = Literal["success", "failure", "refused", "dry-run"]


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
            partition, offset = int(parts[1]), int(parts[2])
        except ValueError:
            return None
        # Kafka's partitions are 32-bit and its offsets 64-bit, never negative.
        if not (0 <= partition < 2**31 and 0 <= offset < 2**63):
            return None
        return cls(parts[0], partition, offset)


@dataclass(frozen=True)
class Ambiguous:
    name: str
    refs: list[RecordRef]
    # Each record's arrival and state, to choose one by ("arrived 2026-11-30 16:01:12 UTC,
    # open"), in the order of `refs`.
    described: list[str]

    def lines(self) -> list[str]:
        """One line per record: its coordinates, then what tells it apart."""
        return [f"{ref}  {what}" for ref, what in zip(self.refs, self.described, strict=True)]


@dataclass(frozen=True)
class Found:
    refs: list[RecordRef]
    unknown: list[str]
    ambiguous: list[Ambiguous]


@dataclass(frozen=True)
class Candidate:
    """A record as eligibility sees it: its state in the snapshot and any claim on it."""

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
    claim_pid: int | None = None
    claim_host: str | None = None
    origin_topic: str | None = None  # the topic its headers or envelope name as its source


# Why a record of an "any" DLQ replayed to its origin cannot be: nothing names that origin.
NO_ORIGIN_TOPIC: Final = (
    "the record names no origin topic (no Kafka Connect, Spring Kafka, Kafka Streams "
    "or Karafka headers): there is nowhere to replay it to"
)


@dataclass(frozen=True)
class Preview:
    action: Action
    eligible: int
    refused: list[tuple[RecordRef, str]]
    by_category: list[tuple[str, int]]
    by_signature: list[tuple[str, int]]
    by_domain: list[tuple[str, int]]
    samples: list[Candidate]
    origins: tuple[str, ...] = ()  # the eligible records' original topics, sorted

    @property
    def total(self) -> int:
        return self.eligible + len(self.refused)


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

    def __post_init__(self) -> None:
        # Typed by an operator, kept in the audit and its exports: a presigned URL pasted into
        # a reason is masked there as anywhere else.
        object.__setattr__(self, "reason", mask_text(self.reason))
        if self.selection is not None:
            object.__setattr__(self, "selection", mask_text(self.selection))


@dataclass(frozen=True)
class ItemResult:
    ref: RecordRef
    trace_id: str | None
    result: Outcome
    error: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    succeeded: int
    failed: int
    refused: int
    word: str = "done"  # what `succeeded` counts: "replayed", "would replay" (a dry run), ...


ProgressCallback = Callable[[Progress], None]


@dataclass
class Report:
    request: Request
    bulk_id: str | None
    results: list[ItemResult] = field(default_factory=list)
    cancelled: bool = False
    committed: dict[int, int] = field(default_factory=dict)  # resolve: partition -> offset
    commit_error: str | None = None
    error: str | None = None  # the request failed as a whole (Kafka not answering)
    stopped: str | None = None  # why the run stopped by itself before the end
    # Audit entries of this run that a copy could not take, in words (see AuditCopies).
    audit_missing: list[str] = field(default_factory=list)

    def count(self, result: Outcome) -> int:
        return sum(1 for r in self.results if r.result == result)

    @property
    def not_attempted(self) -> int:
        return len(self.request.refs) - len(self.results)

    @property
    def done_word(self) -> str:
        """What a record counted as done is: "replayed", or "would replay" in a dry run."""
        if self.request.dry_run:
            return f"would {self.request.action}"
        return {"replay": "replayed", "resolve": "resolved"}[self.request.action]

    def progress(self) -> Progress:
        ok = self.count("dry-run" if self.request.dry_run else "success")
        return Progress(
            len(self.results),
            len(self.request.refs),
            ok,
            self.count("failure"),
            self.count("refused"),
            self.done_word,
        )

    def summary(self) -> str:
        if self.error:
            text = f"{self.request.action} failed, nothing done: {self.error}"
            return text + "".join(f"; {m}" for m in self.audit_missing)
        parts = [f"{self.count('success'):,} {self.done_word}"]
        if self.request.dry_run:
            n = self.count("dry-run")
            parts = [f"dry run: would {self.request.action} {n:,} record{'s' if n != 1 else ''}"]
        if self.count("failure"):
            parts.append(f"{self.count('failure'):,} failed")
        if self.count("refused"):
            parts.append(f"{self.count('refused'):,} refused")
        if self.cancelled:
            parts.append(f"cancelled with {self.not_attempted:,} not attempted")
        if self.stopped:
            parts.append(f"stopped with {self.not_attempted:,} not attempted: {self.stopped}")
        if self.commit_error:
            parts.append(f"review group offsets not committed ({self.commit_error})")
        elif self.committed:
            moved = ", ".join(f"p{p}->{o}" for p, o in sorted(self.committed.items()))
            parts.append(f"review group committed {moved}")
        text = "; ".join(parts)
        if self.audit_missing:
            # A dry run acts on nothing: only its own audit entry is incomplete.
            happened = (
                "Nothing was changed, but the dry run's audit is incomplete: "
                if self.request.dry_run
                else "The action happened but its audit is incomplete: "
            )
            text += ". " + happened + "; ".join(self.audit_missing)
        return text

"""Where each record stands, named once: the words, their help text and their SQL.

- *backlog*: in Kafka and not resolved; what the runbook's size alert (KafkaDLQSizeHigh) and
  the pipeline's Grafana DLQ count measure. It is made of four states:
  - *open*: nothing done yet (neither replayed nor resolved);
  - *replayed, waiting*: replayed by the dashboard (`replays`), no outcome yet;
  - *ready to resolve*: replayed, and the results topic reported success after the replay;
  - *replay failed*: replayed, and its trace id landed in the DLQ again after the replay (a
    runbook escalation criterion);
- *resolved*: it has a row in `resolutions` (see dashboard.adapters.migrations for the ways).

Each record's state is kept in `records.state` where it changes (dashboard.adapters.
record_states, which also holds the derivation it must always equal).

*Gone* (deleted from Kafka by retention, kept in the snapshot) and *unparseable* are properties
beside the state, not states. A gone record keeps its state but counts in no backlog: the size
alert measures what is in Kafka, so every state's count is of records still in Kafka.

The URL and CLI words of earlier versions stay accepted (`ALIASES`): "unresolved" meant "not
resolved", now the backlog; "replayed" the three replayed states.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Final

from dashboard.adapters.db import Connection

# The state words are named beside the SQL that keeps them (the ingest may not import this
# layer); re-exported here, where every other layer looks for them.
from dashboard.adapters.record_states import OPEN as OPEN
from dashboard.adapters.record_states import READY_TO_RESOLVE as READY_TO_RESOLVE
from dashboard.adapters.record_states import REPLAY_FAILED as REPLAY_FAILED
from dashboard.adapters.record_states import REPLAYED_WAITING as REPLAYED_WAITING
from dashboard.adapters.record_states import RESOLVED as RESOLVED
from dashboard.adapters.record_states import replay_outcomes_sql

BACKLOG: Final = "backlog"
GONE: Final = "gone"
UNPARSEABLE: Final = "unparseable"

BACKLOG_STATES: Final = (OPEN, REPLAYED_WAITING, READY_TO_RESOLVE, REPLAY_FAILED)
STATES: Final = (*BACKLOG_STATES, RESOLVED)
REPLAYED_STATES: Final = (REPLAYED_WAITING, READY_TO_RESOLVE, REPLAY_FAILED)
# What a selection may ask for: the backlog, each state, and the two properties. The backlog
# and the states select records still in Kafka; "gone" selects the others.
STATE_CHOICES: Final = (BACKLOG, *STATES, UNPARSEABLE, GONE)
# Earlier versions' words, still accepted in URLs and on the command line.
ALIASES: Final[dict[str, tuple[str, ...]]] = {
    "unresolved": (BACKLOG,),
    "replayed": REPLAYED_STATES,
}


@dataclass(frozen=True)
class Word:
    label: str  # as pages, the CLI and the exports show it
    help: str  # one sentence or two saying what it counts


WORDS: Final[dict[str, Word]] = {
    BACKLOG: Word(
        "Backlog",
        "Records in Kafka and not resolved: open + replayed, waiting + ready to resolve + "
        "replay failed. What the runbook's size alert (KafkaDLQSizeHigh, > 1,000) and the "
        "pipeline's DLQ count measure.",
    ),
    OPEN: Word("Open", "In the backlog with nothing done yet: not replayed, not resolved."),
    REPLAYED_WAITING: Word(
        "Replayed, waiting",
        "Replayed to the pending topic; neither success nor a new failure reported yet.",
    ),
    READY_TO_RESOLVE: Word(
        "Ready to resolve",
        "Replayed, and the results topic reported success since: resolve it to close it.",
    ),
    REPLAY_FAILED: Word(
        "Replay failed",
        "Replayed, and its trace id came back to the DLQ since: the fix did not hold "
        "(a runbook escalation criterion).",
    ),
    RESOLVED: Word(
        "Resolved",
        "Marked done (by the dashboard, the CLI or the review group's committed offset); "
        "still in Kafka until retention deletes it, outside the backlog.",
    ),
    GONE: Word(
        "Gone",
        "Deleted from Kafka by retention and kept in the snapshot; counted in no state.",
    ),
    UNPARSEABLE: Word("Unparseable", "Its value could not be read as a pipeline DLQ message."),
}


def label(word: str) -> str:
    """The word as shown: "replayed-waiting" -> "Replayed, waiting"."""
    return WORDS[word].label


def lower_label(word: str) -> str:
    """The word inside a sentence or a column name: "replayed, waiting"."""
    return WORDS[word].label.lower()


def help_text(word: str) -> str:
    return WORDS[word].help


def canonical(choices: Iterable[str]) -> tuple[str, ...]:
    """`choices` with earlier versions' words replaced by today's, in order, without repeats."""
    out: list[str] = []
    for choice in choices:
        for word in ALIASES.get(choice, (choice,)):
            if word not in out:
                out.append(word)
    return tuple(out)


@dataclass(frozen=True)
class StateCounts:
    """How many records still in Kafka are in each state."""

    open: int = 0
    replayed_waiting: int = 0
    ready_to_resolve: int = 0
    replay_failed: int = 0
    resolved: int = 0

    @property
    def backlog(self) -> int:
        return self.open + self.replayed_waiting + self.ready_to_resolve + self.replay_failed

    def of(self, word: str) -> int:
        """The count named by `word` (the backlog or a state)."""
        return self.backlog if word == BACKLOG else int(getattr(self, word.replace("-", "_")))

    def as_dict(self) -> dict[str, int]:
        """The backlog and each state, keyed by their words."""
        return {word: self.of(word) for word in (BACKLOG, *STATES)}

    def __add__(self, other: StateCounts) -> StateCounts:
        return StateCounts(
            *(getattr(self, f.name) + getattr(other, f.name) for f in fields(StateCounts))
        )

    @classmethod
    def of_words(cls, counts: dict[str, int]) -> StateCounts:
        return cls(*(int(counts.get(word, 0)) for word in STATES))


OUTCOMES: Final = ("waiting", "failed-again", "succeeded")

# The latest watermarks and committed offset seen per partition.
LATEST_WATERMARKS_SQL: Final = """
SELECT topic, "partition",
       arg_max(low_offset, run_id) AS low_offset,
       arg_max(high_offset, run_id) AS high_offset,
       arg_max_null(committed_offset, run_id) AS committed_offset,
       max(taken_at) AS taken_at
FROM partition_watermarks
GROUP BY topic, "partition"
"""


def records_with_details_sql(only: str = "") -> str:
    """Every record (its kept `state` and `replay_outcome` included) with its resolution and
    its replay's details: for the few rows shown, or a query that truly needs them. `only`
    (SQL naming topic, "partition", "offset") narrows the replay details to those records.
    Filtering on the state alone needs only `records`."""
    return f"""(
        SELECT r.*, res.source AS resolution_source,
               res.resolved_at AS resolved_at, res.actor AS resolved_by,
               rp.replayed_at, rp.first_replayed_at, rp.replays,
               rp.outcome_at, rp.again_partition, rp.again_offset
        FROM records r
        LEFT JOIN resolutions res ON res.topic = r.topic
            AND res."partition" = r."partition" AND res."offset" = r."offset"
        LEFT JOIN ({replay_outcomes_sql(only)}) rp ON rp.topic = r.topic
            AND rp."partition" = r."partition" AND rp."offset" = r."offset"
    )"""


IN_KAFKA: Final = "gone_from_kafka_at IS NULL"

# Each choice as a condition on `records` (its kept state).
_CHOICE_CONDITIONS: Final[dict[str, str]] = {
    **{name: f"(state = '{name}' AND {IN_KAFKA})" for name in STATES},
    BACKLOG: f"(state <> '{RESOLVED}' AND {IN_KAFKA})",
    UNPARSEABLE: "parse_error IS NOT NULL",
    GONE: f"NOT {IN_KAFKA}",
}


def choices_condition(choices: tuple[str, ...]) -> str:
    """A condition selecting the records in any of `choices` (from STATE_CHOICES or ALIASES)."""
    words = canonical(choices)
    unknown = [c for c in words if c not in _CHOICE_CONDITIONS]
    if unknown:
        raise ValueError(f"unknown state {unknown[0]!r}")
    return "(" + " OR ".join(_CHOICE_CONDITIONS[c] for c in words) + ")"


def record_state_label(state: str, gone: bool, parse_error: str | None) -> str:
    """A record's state as lists show it, its properties beside it: "open, unparseable"."""
    properties = [UNPARSEABLE] * (parse_error is not None) + [GONE] * gone
    return ", ".join([lower_label(state), *properties])


def count_states(con: Connection, topic: str) -> StateCounts:
    """Each state's count among the records of `topic` still in Kafka."""
    rows = con.execute(
        f"""SELECT state, count(*) FROM records r
            WHERE topic = ? AND {IN_KAFKA} GROUP BY state""",
        [topic],
    ).fetchall()
    return StateCounts.of_words({str(state): int(n) for state, n in rows})


def counts_line(counts: StateCounts) -> str:
    """The backlog and its states in one line, in the words every view uses:
    "backlog 3,000 (open 2,588 · replayed, waiting 400 · ready to resolve 8 · replay failed 4)"."""
    parts = " · ".join(f"{lower_label(w)} {counts.of(w):,}" for w in BACKLOG_STATES)
    return f"{lower_label(BACKLOG)} {counts.backlog:,} ({parts})"

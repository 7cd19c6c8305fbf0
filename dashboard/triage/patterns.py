"""Failure patterns: groups of DLQ records, matched to the runbook's five patterns.

Patterns 1-4 are recognised from a record's error signature (text rules below); pattern 5,
"systematic", from the data: many records with one signature from one domain in a short
window. A group that matches none of them is new, and the page says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

import numpy as np

from dashboard.adapters.db import Connection, transaction
from dashboard.triage.dimensions import DIMENSIONS
from dashboard.triage.filters import RecordFilter
from dashboard.triage.runbook import RUNBOOK
from dashboard.triage.runbook import RunbookPattern as RunbookPattern
from dashboard.triage.sliding_peaks import busiest_windows
from dashboard.triage.states import records_with_state_sql

# The runbook's texts for each pattern (title, symptoms, root cause, resolution,
# prevention) are data: dashboard/triage/runbook.toml, or a team's copy (DLQ_RUNBOOK).
RUNBOOK_PATTERNS: Final[dict[str, RunbookPattern]] = RUNBOOK.patterns

# Text rules for patterns 1-4, tried in order on the error signature (case-insensitive).
PATTERN_RULES: Final[tuple[tuple[str, str], ...]] = (
    ("onelake_upload", r"onelake"),
    ("file_type", r"file type|not in allowed types|type not allowed"),
    (
        "expired_url",
        r"\b(404|410)\b|not found|\bgone\b|url expired|presigned url|"
        r"no longer available",
    ),
    (
        "network_timeout",
        r"timeout|timed out|\b50[234]\b|service unavailable|"
        r"connection (reset|refused|aborted)|network|unreachable",
    ),
)


def pattern_case_sql(column: str = "error_signature") -> str:
    """A SQL CASE giving the runbook pattern key (or NULL) for a signature column."""
    whens = " ".join(
        f"WHEN regexp_matches({column}, '(?i)({rule})') THEN '{key}'" for key, rule in PATTERN_RULES
    )
    return f"CASE WHEN {column} IS NULL THEN NULL {whens} END"


@dataclass(frozen=True)
class Group:
    value: str | None  # None: the records have no value for the dimension
    count: int
    share: float
    first_seen: datetime | None
    last_seen: datetime | None
    pattern: str | None  # the runbook pattern most of its records match
    pattern_share: float
    systematic_share: float  # share of its records inside a systematic burst

    @property
    def is_new(self) -> bool:
        """No runbook pattern explains it (neither by its text nor as a systematic burst).
        Records without error text are not new: they carry nothing to match."""
        return self.pattern is None and self.systematic_share < 0.5 and self.value is not None


@dataclass(frozen=True)
class Burst:
    """A systematic failure found in the data (runbook pattern 5)."""

    signature: str
    domain: str | None
    peak: int  # records within the window at its worst
    peak_at: datetime
    total: int
    first_seen: datetime
    last_seen: datetime


def bursts(
    con: Connection, topic: str, flt: RecordFilter, min_records: int, window_minutes: int
) -> list[Burst]:
    """(signature, domain) pairs with at least `min_records` records within
    `window_minutes` minutes at some point; `peak_at` is the first minute it peaked."""
    where, params = flt.where(topic)
    # SQL hands over one hash and one minute per record and the sliding window runs in numpy
    # (dashboard.triage.sliding_peaks), so no window function sorts every record. Names come
    # from one sample record per pair found, by rowid: the one transaction keeps rowids valid
    # between the two statements.
    with transaction(con):
        events = con.execute(
            f"""
            SELECT hash(error_signature, coalesce("domain", '')) AS k,
                   epoch_ms(kafka_timestamp) // 60000 AS minute, record_rowid AS rid
            FROM {records_with_state_sql(with_rowid=True)} r
            WHERE {where} AND error_signature IS NOT NULL AND kafka_timestamp IS NOT NULL
            """,
            params,
        ).fetchnumpy()
        found = busiest_windows(events["k"], events["minute"], window_minutes)
        hits = [int(i) for i in np.flatnonzero(found.peak >= min_records)]
        samples = [int(events["rid"][found.first_index[i]]) for i in hits]
        names = {
            rowid: (signature, domain)
            for rowid, signature, domain in con.execute(
                'SELECT rowid, error_signature, "domain" FROM records '
                "WHERE rowid IN (SELECT unnest($rowids))",
                {"rowids": samples},
            ).fetchall()
        }
    found_bursts = [
        Burst(
            signature=names[sample][0],
            domain=names[sample][1],
            peak=int(found.peak[i]),
            peak_at=_minute_time(found.peak_minute[i]),
            total=int(found.total[i]),
            first_seen=_minute_time(found.first_minute[i]),
            last_seen=_minute_time(found.last_minute[i]),
        )
        for i, sample in zip(hits, samples, strict=True)
    ]
    # Largest first; NULL domains after named ones, as SQL would order them.
    found_bursts.sort(
        key=lambda b: (-b.peak, -b.total, b.signature, b.domain is None, b.domain or "")
    )
    return found_bursts


def _minute_time(epoch_minute: np.int64) -> datetime:
    return datetime.fromtimestamp(int(epoch_minute) * 60, tz=UTC)


def groups(
    con: Connection,
    topic: str,
    flt: RecordFilter,
    dimension: str,
    burst_keys: list[tuple[str, str | None]],
    limit: int = 50,
) -> list[Group]:
    """Records grouped by `dimension`, largest first, each with its runbook pattern."""
    dim = DIMENSIONS[dimension]
    where, params = flt.where(topic)
    params = {
        **params,
        "limit": limit,
        "burst_signatures": [s for s, _ in burst_keys],
        "burst_domains": [d or "" for _, d in burst_keys],
    }
    order = "grp" if dimension in ("hour", "day") else "n DESC, grp"
    # Counted first per (group, signature, domain): the pattern rules and the burst marks
    # then apply to a few thousand parts instead of every record.
    rows = con.execute(
        f"""
        WITH parts AS (
            SELECT {dim.expression} AS grp, error_signature, coalesce("domain", '') AS dom,
                   count(*) AS n, min(kafka_timestamp) AS first_seen,
                   max(kafka_timestamp) AS last_seen
            FROM {records_with_state_sql()} r WHERE {where}
            GROUP BY grp, error_signature, dom
        ),
        signature_patterns AS (
            SELECT error_signature, {pattern_case_sql()} AS pattern
            FROM (SELECT DISTINCT error_signature FROM parts)
        ),
        bursts AS (
            SELECT unnest($burst_signatures) AS burst_signature,
                   unnest($burst_domains) AS burst_domain
        ),
        marked AS (
            SELECT p.*, sp.pattern, b.burst_signature IS NOT NULL AS in_burst
            FROM parts p
            LEFT JOIN signature_patterns sp ON sp.error_signature = p.error_signature
            LEFT JOIN bursts b ON b.burst_signature = p.error_signature
                AND b.burst_domain = p.dom
        ),
        by_pattern AS (
            SELECT grp, pattern, sum(n) AS k FROM marked
            WHERE pattern IS NOT NULL GROUP BY grp, pattern
        ),
        top_pattern AS (
            SELECT grp, arg_max(pattern, k) AS pattern, max(k) AS with_pattern
            FROM by_pattern GROUP BY grp
        ),
        g AS (
            SELECT grp, sum(n) AS n, min(first_seen) AS first_seen,
                   max(last_seen) AS last_seen,
                   coalesce(sum(n) FILTER (WHERE in_burst), 0) AS in_bursts
            FROM marked GROUP BY grp
        )
        SELECT grp, n::BIGINT, n / sum(n) OVER () AS share, first_seen, last_seen, t.pattern,
               coalesce(t.with_pattern, 0) / n, in_bursts / n
        FROM g LEFT JOIN top_pattern t USING (grp)
        ORDER BY {order} LIMIT $limit
        """,
        params,
    ).fetchall()
    return [Group(*row) for row in rows]


def pattern_totals(con: Connection, topic: str, flt: RecordFilter) -> dict[str | None, int]:
    """How many records of the selection each runbook pattern explains (None: no pattern)."""
    where, params = flt.where(topic)
    # Counted per signature first: the pattern rules then run once per signature.
    rows = con.execute(
        f"""
        WITH by_signature AS (
            SELECT error_signature, count(*) AS n
            FROM {records_with_state_sql()} r WHERE {where}
            GROUP BY error_signature
        )
        SELECT {pattern_case_sql()} AS pattern, sum(n) FROM by_signature GROUP BY pattern
        """,
        params,
    ).fetchall()
    return {pattern: int(n) for pattern, n in rows}


def top_values(
    con: Connection, topic: str, flt: RecordFilter, dimension: str, limit: int
) -> list[tuple[str | None, int]]:
    """The commonest values of `dimension` in the selection with their counts: `groups` without
    the pattern matching, for summaries (escalation pack, reports) that only need counts."""
    where, params = flt.where(topic)
    rows = con.execute(
        f"""
        SELECT {DIMENSIONS[dimension].expression} AS grp, count(*) AS n
        FROM {records_with_state_sql()} r WHERE {where}
        GROUP BY grp ORDER BY n DESC, grp NULLS LAST LIMIT $limit
        """,
        {**params, "limit": limit},
    ).fetchall()
    return [(value, int(n)) for value, n in rows]

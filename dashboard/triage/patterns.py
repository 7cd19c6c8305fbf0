"""Failure patterns: groups of DLQ records, matched to the runbook's five patterns.

Patterns 1-4 are recognised from a record's error signature (text rules below); pattern 5,
"systematic", from the data: many records with one signature from one domain in a short
window, or, for records without error text (the newer pipeline format drops it), with one
category from one domain. A group that matches none of them is new, and the page says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Final

import numpy as np

from dashboard.adapters.db import Connection, transaction
from dashboard.triage import burst_cells
from dashboard.triage.dimensions import DIMENSIONS, NO_TEXT_LABEL, NONE_LABEL
from dashboard.triage.filters import RecordFilter, Topics
from dashboard.triage.runbook import RUNBOOK
from dashboard.triage.runbook import RunbookPattern as RunbookPattern
from dashboard.triage.sliding_peaks import busiest_windows

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


def text_pattern(signature: str | None) -> str | None:
    """The runbook pattern (1-4) an error signature matches, as `pattern_case_sql` decides."""
    if signature is None:
        return None
    for key, rule in PATTERN_RULES:
        if re.search(rule, signature, re.IGNORECASE):
            return key
    return None


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
    """A systematic failure found in the data (runbook pattern 5): one error signature from
    one domain or, for records without error text, one category from one domain."""

    signature: str | None  # None: its records carry no error text; `category` tells them
    category: str | None  # the records' category when they carry no error text
    domain: str | None
    peak: int  # records within the window at its worst
    peak_at: datetime
    total: int
    first_seen: datetime  # the minute of its first record
    last_seen: datetime  # the minute of its last record

    @property
    def key(self) -> tuple[str | None, str, str]:
        """(signature, category without text, domain) as `groups` matches its records."""
        return (
            self.signature,
            self.category or "" if self.signature is None else "",
            self.domain or "",
        )

    @property
    def label(self) -> str:
        """What failed, in words: the signature, or that there is no text and the category."""
        if self.signature is not None:
            return self.signature
        return f"{NO_TEXT_LABEL}, category {self.category or NONE_LABEL}"

    def selection(self, within: RecordFilter) -> RecordFilter:
        """Exactly the burst's records: `within` (the selection it was found in) narrowed to
        its domain, its signature (or no text and its category) and its minutes."""
        until = self.last_seen + timedelta(minutes=1)
        return replace(
            within,
            domain_is=self.domain if self.domain is not None else NONE_LABEL,
            signature=self.signature if self.signature is not None else NO_TEXT_LABEL,
            category=within.category
            if self.signature is not None
            else (self.category if self.category is not None else NONE_LABEL,),
            since=self.first_seen if within.since is None else max(within.since, self.first_seen),
            until=until if within.until is None else min(within.until, until),
        )


def bursts(
    con: Connection, topic: Topics, flt: RecordFilter, min_records: int, window_minutes: int
) -> list[Burst]:
    """(signature, domain) pairs, and (category, domain) pairs of records without error text,
    with at least `min_records` records within `window_minutes` minutes at some point;
    `peak_at` is the first minute it peaked."""
    # SQL hands over the (pair, minute) cells (dashboard.triage.burst_cells) and the sliding
    # window runs in numpy (dashboard.triage.sliding_peaks), so no window function sorts
    # every record. One transaction: the cells and the names from one snapshot.
    with transaction(con):
        cells = burst_cells.of_selection(con, topic, flt)
        found = busiest_windows(
            cells.keys,
            cells.minutes,
            window_minutes,
            counts=cells.counts,
            # Counted cells are already few: the pre-selection of keys pays on records.
            at_least=1 if cells.counted else min_records,
        )
        hits = [int(i) for i in np.flatnonzero(found.peak >= min_records)]
        named = burst_cells.names(con, [int(found.keys[i]) for i in hits])
    found_bursts = []
    for i in hits:
        signature, category, domain = named[int(found.keys[i])]
        found_bursts.append(
            Burst(
                signature=signature,
                category=category if signature is None else None,
                domain=domain,
                peak=int(found.peak[i]),
                peak_at=_minute_time(found.peak_minute[i]),
                total=int(found.total[i]),
                first_seen=_minute_time(found.first_minute[i]),
                last_seen=_minute_time(found.last_minute[i]),
            )
        )
    # Largest first; NULLs after named values, as SQL would order them.
    found_bursts.sort(
        key=lambda b: (
            -b.peak,
            -b.total,
            b.signature is None,
            b.signature or "",
            b.category or "",
            b.domain is None,
            b.domain or "",
        )
    )
    return found_bursts


def signatures_by_domain(
    con: Connection, topic: Topics, flt: RecordFilter
) -> list[tuple[str, str | None, int]]:
    """(error signature, domain, records) for each failure pair with error text among the
    records `flt` selects. Counted on the pair hash the ingest kept
    (dashboard.adapters.failure_pairs), one fixed-width key, rather than on two text columns;
    a pair's names come from one of its records, by rowid, in the same transaction."""
    where, params = flt.where(topic)
    with transaction(con):
        counted = con.execute(
            f"""
            SELECT count(*), any_value(rowid) FROM records r
            WHERE {where} AND error_signature IS NOT NULL GROUP BY pair_hash
            """,
            params,
        ).fetchall()
        names = {
            rowid: (signature, domain)
            for rowid, signature, domain in con.execute(
                'SELECT rowid, error_signature, "domain" FROM records '
                "WHERE rowid IN (SELECT unnest($rowids))",
                {"rowids": [rowid for _, rowid in counted]},
            ).fetchall()
        }
    return [(*names[rowid], int(n)) for n, rowid in counted]


def unmatched_signatures(
    con: Connection, topic: Topics, flt: RecordFilter
) -> list[tuple[str, int]]:
    """(error signature, records) for every signature among `flt`'s records that no text
    rule of the runbook (patterns 1-4) matches, largest first: what the escalation criterion
    "unknown error pattern" counts and the Patterns page says, alike. A systematic burst
    (pattern 5) is a shape, not a cause, so it does not make its error known; counted on the
    kept pair hashes (signatures_by_domain), it costs no scan of every record's text."""
    per_signature: dict[str, int] = {}
    for signature, _, n in signatures_by_domain(con, topic, flt):
        per_signature[signature] = per_signature.get(signature, 0) + n
    found = [(s, n) for s, n in per_signature.items() if text_pattern(s) is None]
    return sorted(found, key=lambda row: (-row[1], row[0]))


def _minute_time(epoch_minute: np.int64) -> datetime:
    return datetime.fromtimestamp(int(epoch_minute) * 60, tz=UTC)


def groups(
    con: Connection,
    topic: Topics,
    flt: RecordFilter,
    dimension: str,
    burst_keys: list[tuple[str | None, str, str]],
    limit: int = 50,
) -> list[Group]:
    """Records grouped by `dimension`, largest first, each with its runbook pattern."""
    dim = DIMENSIONS[dimension]
    where, params = flt.where(topic)
    params = {
        **params,
        "limit": limit,
        "burst_signatures": [s for s, _, _ in burst_keys],
        "burst_categories": [c for _, c, _ in burst_keys],
        "burst_domains": [d for _, _, d in burst_keys],
    }
    order = "grp" if dimension in ("hour", "day") else "n DESC, grp"
    # Counted first per (group, signature, domain, and category without text): the pattern
    # rules and the burst marks then apply to a few thousand parts instead of every record.
    rows = con.execute(
        f"""
        WITH parts AS (
            SELECT {dim.expression} AS grp, error_signature, coalesce("domain", '') AS dom,
                   CASE WHEN error_signature IS NULL THEN coalesce(error_category, '') ELSE ''
                   END AS no_text_category,
                   count(*) AS n, min(kafka_timestamp) AS first_seen,
                   max(kafka_timestamp) AS last_seen
            FROM records r WHERE {where}
            GROUP BY grp, error_signature, dom, no_text_category
        ),
        signature_patterns AS (
            SELECT error_signature, {pattern_case_sql()} AS pattern
            FROM (SELECT DISTINCT error_signature FROM parts)
        ),
        bursts AS (
            SELECT unnest($burst_signatures) AS burst_signature,
                   unnest($burst_categories) AS burst_category,
                   unnest($burst_domains) AS burst_domain
        ),
        marked AS (
            SELECT p.*, sp.pattern, b.burst_signature IS NOT NULL AS in_burst
            FROM parts p
            LEFT JOIN signature_patterns sp ON sp.error_signature = p.error_signature
            LEFT JOIN bursts b ON b.burst_signature IS NOT DISTINCT FROM p.error_signature
                AND b.burst_category = p.no_text_category AND b.burst_domain = p.dom
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


def pattern_totals(con: Connection, topic: Topics, flt: RecordFilter) -> dict[str | None, int]:
    """How many records of the selection each runbook pattern explains (None: no pattern)."""
    where, params = flt.where(topic)
    # Counted per signature first: the pattern rules then run once per signature.
    rows = con.execute(
        f"""
        WITH by_signature AS (
            SELECT error_signature, count(*) AS n
            FROM records r WHERE {where}
            GROUP BY error_signature
        )
        SELECT {pattern_case_sql()} AS pattern, sum(n) FROM by_signature GROUP BY pattern
        """,
        params,
    ).fetchall()
    return {pattern: int(n) for pattern, n in rows}


def top_values(
    con: Connection, topic: Topics, flt: RecordFilter, dimension: str, limit: int
) -> list[tuple[str | None, int]]:
    """The commonest values of `dimension` in the selection with their counts: `groups` without
    the pattern matching, for summaries (escalation pack, reports) that only need counts."""
    where, params = flt.where(topic)
    rows = con.execute(
        f"""
        SELECT {DIMENSIONS[dimension].expression} AS grp, count(*) AS n
        FROM records r WHERE {where}
        GROUP BY grp ORDER BY n DESC, grp NULLS LAST LIMIT $limit
        """,
        {**params, "limit": limit},
    ).fetchall()
    return [(value, int(n)) for value, n in rows]

"""The runbook's review workflows with their numbers: the daily DLQ review (15 minutes) and
the weekly cleanup (30 minutes)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from dashboard.adapters.db import Connection
from dashboard.settings import Settings
from dashboard.triage import patterns, reports
from dashboard.triage.filters import UNRESOLVED, RecordFilter
from dashboard.triage.messages import count
from dashboard.triage.patterns import Burst, pattern_case_sql
from dashboard.triage.states import records_with_state_sql


@dataclass(frozen=True)
class NewSignature:
    signature: str
    records: int
    first_seen: datetime
    pattern: str | None


@dataclass(frozen=True)
class DailyReview:
    now: datetime
    report: reports.DlqReport  # the last day against the day before
    unresolved: int
    bursts: list[Burst]  # systematic failures in the last day
    new_signatures: list[NewSignature]  # first seen in the last day
    permanent_unresolved: int
    transient_unresolved: int
    other_unresolved: int


def daily(con: Connection, settings: Settings, now: datetime) -> DailyReview:
    topic = settings.dlq_topic
    day = now - timedelta(days=1)
    permanent = count(con, topic, replace(UNRESOLVED, category=("permanent",)))
    transient = count(con, topic, replace(UNRESOLVED, category=("transient",)))
    total_unresolved = count(con, topic, UNRESOLVED)
    rows = con.execute(
        f"""
        WITH s AS (
            SELECT error_signature, count(*) AS n, min(kafka_timestamp) AS first_seen
            FROM {records_with_state_sql()} r
            WHERE topic = ? AND error_signature IS NOT NULL GROUP BY error_signature
        )
        SELECT error_signature, n, first_seen, {pattern_case_sql()} FROM s
        WHERE first_seen >= ? ORDER BY n DESC LIMIT 20
        """,
        [topic, day],
    ).fetchall()
    rules = settings.rules
    return DailyReview(
        now=now,
        report=reports.build(con, topic, now, 1),
        unresolved=total_unresolved,
        bursts=patterns.bursts(
            con,
            topic,
            replace(UNRESOLVED, since=day),
            rules.systematic_min_records,
            rules.systematic_window_minutes,
        ),
        new_signatures=[NewSignature(s, int(n), f, p) for s, n, f, p in rows],
        permanent_unresolved=permanent,
        transient_unresolved=transient,
        other_unresolved=total_unresolved - permanent - transient,
    )


@dataclass(frozen=True)
class WeeklyCleanup:
    report: reports.DlqReport  # the week, the weekly report (step 3) and its old records
    by_signature: list[patterns.Group]  # the old records, grouped, with when each began
    by_category: list[patterns.Group]

    @property
    def cutoff(self) -> datetime:
        """Records that arrived before this have been in the DLQ over 7 days."""
        return self.report.end - reports.STALE_AFTER

    @property
    def old_unresolved(self) -> int:
        return self.report.stale_unresolved

    @property
    def selection(self) -> RecordFilter:
        """The records the cleanup is about, as a Messages filter (and bulk selection)."""
        return replace(UNRESOLVED, until=self.cutoff)


def weekly(con: Connection, settings: Settings, now: datetime) -> WeeklyCleanup:
    report = reports.build(con, settings.dlq_topic, now, 7)
    topic, old = settings.dlq_topic, replace(UNRESOLVED, until=now - reports.STALE_AFTER)
    return WeeklyCleanup(
        report=report,
        by_signature=patterns.groups(con, topic, old, "error_signature", [], limit=15),
        by_category=patterns.groups(con, topic, old, "error_category", [], limit=15),
    )

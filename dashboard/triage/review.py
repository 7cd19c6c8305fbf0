"""The runbook's review workflows with their numbers: the daily DLQ review (15 minutes) and
the weekly cleanup (30 minutes)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from dashboard.adapters.db import Connection
from dashboard.settings import Settings
from dashboard.triage import patterns, reports
from dashboard.triage.filters import IN_BACKLOG, RecordFilter
from dashboard.triage.messages import count
from dashboard.triage.patterns import Burst, pattern_case_sql


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
    backlog: int  # records in Kafka and not resolved (dashboard.triage.states)
    bursts: list[Burst]  # systematic failures in the last day
    new_signatures: list[NewSignature]  # first seen in the last day
    permanent_backlog: int
    transient_backlog: int
    other_backlog: int


def daily(con: Connection, settings: Settings, now: datetime) -> DailyReview:
    topic = settings.dlq_topic
    day = now - timedelta(days=1)
    permanent = count(con, topic, replace(IN_BACKLOG, category=("permanent",)))
    transient = count(con, topic, replace(IN_BACKLOG, category=("transient",)))
    total_backlog = count(con, topic, IN_BACKLOG)
    rows = con.execute(
        f"""
        WITH s AS (
            SELECT error_signature, count(*) AS n, min(kafka_timestamp) AS first_seen
            FROM records r
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
        backlog=total_backlog,
        bursts=patterns.bursts(
            con,
            topic,
            replace(IN_BACKLOG, since=day),
            rules.systematic_min_records,
            rules.systematic_window_minutes,
        ),
        new_signatures=[NewSignature(s, int(n), f, p) for s, n, f, p in rows],
        permanent_backlog=permanent,
        transient_backlog=transient,
        other_backlog=total_backlog - permanent - transient,
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
    def old_backlog(self) -> int:
        return self.report.stale_backlog

    @property
    def selection(self) -> RecordFilter:
        """The records the cleanup is about, as a Messages filter (and bulk selection)."""
        return replace(IN_BACKLOG, until=self.cutoff)


def weekly(con: Connection, settings: Settings, now: datetime) -> WeeklyCleanup:
    report = reports.build(con, settings.dlq_topic, now, 7)
    topic, old = settings.dlq_topic, replace(IN_BACKLOG, until=now - reports.STALE_AFTER)
    return WeeklyCleanup(
        report=report,
        by_signature=patterns.groups(con, topic, old, "error_signature", [], limit=15),
        by_category=patterns.groups(con, topic, old, "error_category", [], limit=15),
    )

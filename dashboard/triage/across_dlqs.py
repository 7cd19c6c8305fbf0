"""The report and the reviews across every configured DLQ: each DLQ's own figures (built by
the one-DLQ code on `Settings.for_dlq`), in the All DLQs page's order, most urgent first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from dashboard.adapters.db import Connection
from dashboard.settings import Settings
from dashboard.triage import reports, review
from dashboard.triage.dlq_summary import DlqSummary, summarize_all


@dataclass(frozen=True)
class DlqSection:
    name: str
    report: reports.DlqReport


@dataclass(frozen=True)
class ReportTotals:
    """The sections' figures added up: each DLQ's records are its own, so they add."""

    total: int
    previous_total: int
    replayed: int
    resolved: int
    unparseable: int
    stale_backlog: int

    @property
    def line(self) -> str:
        return (
            f"{self.total:,} records entered the DLQs ({self.total - self.previous_total:+,} "
            f"on the period before), {self.replayed:,} replayed, {self.resolved:,} resolved, "
            f"{self.unparseable:,} unparseable; backlog older than 7 days: {self.stale_backlog:,}"
        )


@dataclass(frozen=True)
class AllDlqsReport:
    end: datetime
    days: int
    sections: list[DlqSection]  # the All DLQs page's order

    @property
    def totals(self) -> ReportTotals:
        rs = [s.report for s in self.sections]
        return ReportTotals(
            total=sum(r.total for r in rs),
            previous_total=sum(r.previous_total for r in rs),
            replayed=sum(r.replayed for r in rs),
            resolved=sum(r.resolved for r in rs),
            unparseable=sum(r.unparseable for r in rs),
            stale_backlog=sum(r.stale_backlog for r in rs),
        )


def report_all(con: Connection, settings: Settings, end: datetime, days: int) -> AllDlqsReport:
    """Each DLQ's own report, one section each."""
    order = summarize_all(con, settings, end)
    sections = [DlqSection(s.name, reports.build(con, s.topic, end, days)) for s in order]
    return AllDlqsReport(end, days, sections)


@dataclass(frozen=True)
class DailyRow:
    summary: DlqSummary
    day: review.DailyReview


@dataclass(frozen=True)
class WeeklyRow:
    summary: DlqSummary
    week: review.WeeklyCleanup


def daily_all(con: Connection, settings: Settings, now: datetime) -> list[DailyRow]:
    """Each DLQ's daily review, by its own rules (bursts), most urgent DLQ first."""
    return [
        DailyRow(s, review.daily(con, settings.for_dlq(s.name), now))
        for s in summarize_all(con, settings, now)
    ]


def weekly_all(con: Connection, settings: Settings, now: datetime) -> list[WeeklyRow]:
    """Each DLQ's weekly cleanup figures, most urgent DLQ first."""
    return [
        WeeklyRow(s, review.weekly(con, settings.for_dlq(s.name), now))
        for s in summarize_all(con, settings, now)
    ]

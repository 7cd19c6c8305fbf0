"""Every configured DLQ at a glance, most urgent first: what `dlq dlqs` prints (and what an
"All DLQs" page will show), each DLQ judged by its own severity bands and alert rules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from dashboard.adapters.db import Connection
from dashboard.settings import Settings
from dashboard.triage import alerts, overview, severity
from dashboard.triage.overview import backlog_and_arrivals, count_between


@dataclass(frozen=True)
class SeverityNow:
    """The runbook's severity as of a moment: growth, size, and the worse of the two."""

    growth: severity.Severity
    size: severity.Severity
    current: severity.Severity


def severity_now(con: Connection, settings: Settings, as_of: datetime) -> SeverityNow:
    """Growth over the last 10 minutes and the rule's window, size from the backlog."""
    backlog = overview.dlq_size(con, settings.dlq_topic).backlog
    return severity_of(growth_now(con, settings, as_of), backlog, settings)


def growth_now(con: Connection, settings: Settings, as_of: datetime) -> severity.Severity:
    """The growth severity: records over the last 10 minutes and over the rule's window."""
    topic = settings.dlq_topic
    window = settings.rules.rate_window_minutes
    last_10 = count_between(con, topic, as_of - timedelta(minutes=10), as_of)
    last_window = count_between(con, topic, as_of - timedelta(minutes=window), as_of)
    return severity.classify_rate(last_10, last_window / window, settings.severity, window)


def severity_of(growth: severity.Severity, backlog: int, settings: Settings) -> SeverityNow:
    """The severity from the growth's and the backlog's (a page that has the size already
    need not count it again)."""
    size = severity.classify_size(backlog, settings.severity)
    return SeverityNow(growth, size, severity.overall(growth, size))


@dataclass(frozen=True)
class DlqSummary:
    name: str
    topic: str
    format: str
    replay_target: str
    in_topic: int
    backlog: int
    entered_last_hour: int
    severity: severity.Level
    firing: tuple[str, ...]  # names of the alerts firing now
    pending: tuple[str, ...]
    discovered: bool = False  # found by the `discover` pattern, not configured

    @property
    def alerts_counted(self) -> str:
        """ "2 FIRING, 1 pending", or "-": short enough for a table's column."""
        parts = [f"{len(self.firing)} FIRING"] if self.firing else []
        parts += [f"{len(self.pending)} pending"] if self.pending else []
        return ", ".join(parts) or "-"

    @property
    def alerts_named(self) -> str:
        """ "FIRING A, B; pending C", or "" when none is."""
        parts = [f"FIRING {', '.join(self.firing)}"] if self.firing else []
        parts += [f"pending {', '.join(self.pending)}"] if self.pending else []
        return "; ".join(parts)

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "topic": self.topic,
            "format": self.format,
            "replay_target": self.replay_target,
            "in_topic": self.in_topic,
            "backlog": self.backlog,
            "entered_last_hour": self.entered_last_hour,
            "severity": self.severity.label,
            "firing": list(self.firing),
            "pending": list(self.pending),
            "discovered": self.discovered,
        }


def snapshot_topics(con: Connection) -> list[str]:
    """Every topic the snapshot has read from."""
    rows = con.execute(
        "SELECT topic FROM ingest_positions UNION SELECT topic FROM ingest_runs ORDER BY 1"
    ).fetchall()
    return [str(r[0]) for r in rows]


def with_snapshot_dlqs(con: Connection, settings: Settings) -> Settings:
    """`settings` with the DLQs the ingest found by `discover` (read into the snapshot, not
    configured), so the dashboard and the CLI show them until they are configured."""
    return settings.with_discovered(snapshot_topics(con)) if settings.discover else settings


def summarize_all(con: Connection, settings: Settings, as_of: datetime) -> list[DlqSummary]:
    """One row per configured DLQ: most severe first, then the most firing alerts, then the
    largest backlog."""
    rows = []
    day = as_of - timedelta(hours=24)
    for dlq in settings.dlq_list:
        one = settings.for_dlq(dlq.name)
        size = overview.dlq_size(con, dlq.topic)
        backlog, per_minute = backlog_and_arrivals(con, dlq.topic, day, as_of, 1)
        statuses = alerts.evaluate_all(
            one.alerts, per_minute, backlog, one.rules.rate_window_minutes, as_of - day
        )
        rows.append(
            DlqSummary(
                name=dlq.name,
                topic=dlq.topic,
                format=dlq.format,
                replay_target=dlq.replay_target,
                in_topic=size.in_topic,
                backlog=size.backlog,
                entered_last_hour=count_between(con, dlq.topic, as_of - timedelta(hours=1), as_of),
                severity=severity_now(con, one, as_of).current.level,
                firing=tuple(s.rule.name for s in statuses if s.state == "firing"),
                pending=tuple(s.rule.name for s in statuses if s.state == "pending"),
                discovered=dlq.discovered,
            )
        )
    return sorted(rows, key=lambda r: (-r.severity, -len(r.firing), -r.backlog, r.name))

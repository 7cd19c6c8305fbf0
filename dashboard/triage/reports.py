"""The DLQ report (runbook: "Generate DLQ report" in the weekly cleanup): one set of numbers
for a period, compared with the period before, rendered by `dashboard.exports.report_formats` as
Markdown, HTML, JSON and CSV, so every format holds the same numbers."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Final

from dashboard.adapters.db import Connection
from dashboard.text.urls import mask_text, mask_url
from dashboard.triage.dimensions import NO_TEXT_LABEL
from dashboard.triage.filters import IN_BACKLOG
from dashboard.triage.messages import count
from dashboard.triage.patterns import top_values
from dashboard.triage.states import StateCounts, count_states

TOP: Final = 10
STALE_AFTER: Final = timedelta(days=7)
MAIN_CATEGORIES: Final = ("permanent", "transient")


@dataclass(frozen=True)
class Count:
    label: str
    count: int
    previous: int  # in the period before, of the same length

    @property
    def change(self) -> int:
        return self.count - self.previous


@dataclass(frozen=True)
class ActionCount:
    action: str
    actor: str
    count: int


@dataclass(frozen=True)
class DlqReport:
    topic: str
    generated_at: datetime
    start: datetime
    end: datetime
    total: int
    previous_total: int
    unparseable: int
    categories: list[Count]  # permanent, transient, then the rest, then "(none)"
    top_domains: list[Count]
    top_urls: list[Count]  # scheme, host and path: the query (and its credentials) dropped
    top_signatures: list[Count]
    replayed: int
    resolved: int
    previous_replayed: int
    previous_resolved: int
    actions: list[ActionCount]
    stale_backlog: int  # in the backlog, arrived more than 7 days before `end`
    stale_by_signature: list[Count] = field(default_factory=list)
    states: StateCounts = field(default_factory=StateCounts)  # the snapshot's, when generated

    @property
    def days(self) -> float:
        return (self.end - self.start).total_seconds() / 86400


def build(con: Connection, topic: str, end: datetime, days: int) -> DlqReport:
    start = end - timedelta(days=days)
    before = start - timedelta(days=days)
    period = {"topic": topic, "start": start, "end": end, "before": before}

    totals = con.execute(
        """
        SELECT count(*) FILTER (WHERE kafka_timestamp >= $start),
               count(*) FILTER (WHERE kafka_timestamp < $start),
               count(*) FILTER (WHERE kafka_timestamp >= $start AND parse_error IS NOT NULL)
        FROM records WHERE topic = $topic AND kafka_timestamp >= $before
          AND kafka_timestamp < $end
        """,
        period,
    ).fetchone()
    total, previous_total, unparseable = (int(v) for v in totals) if totals else (0, 0, 0)

    def grouped(
        expression: str, limit: int | None = TOP, none_label: str = "(none)"
    ) -> list[Count]:
        rows = con.execute(
            f"""
            SELECT {expression} AS label,
                   count(*) FILTER (WHERE kafka_timestamp >= $start) AS n,
                   count(*) FILTER (WHERE kafka_timestamp < $start) AS before_n
            FROM records WHERE topic = $topic AND kafka_timestamp >= $before
              AND kafka_timestamp < $end
            GROUP BY label HAVING n > 0 ORDER BY n DESC, label NULLS LAST
            {f"LIMIT {int(limit)}" if limit else ""}
            """,
            period,
        ).fetchall()
        return [
            # Labels are record text (signatures, domains): masked as any view of it is.
            Count(mask_text(str(label)) if label is not None else none_label, int(n), int(b))
            for label, n, b in rows
        ]

    categories = _category_order(grouped("error_category", limit=None))
    actions = con.execute(
        """
        SELECT CASE WHEN action LIKE 'replay%' THEN 'replayed' ELSE 'resolved' END AS what,
               actor, count(*)
        FROM audit_log
        WHERE result = 'success' AND action IN ('replay', 'replay-with-new-url', 'resolve')
          AND topic = $topic AND logged_at >= $start AND logged_at < $end
        GROUP BY ALL ORDER BY 3 DESC, 1, 2
        """,
        {"topic": topic, "start": start, "end": end},
    ).fetchall()
    previous_actions = dict(
        con.execute(
            """
        SELECT CASE WHEN action LIKE 'replay%' THEN 'replayed' ELSE 'resolved' END, count(*)
        FROM audit_log
        WHERE result = 'success' AND action IN ('replay', 'replay-with-new-url', 'resolve')
          AND topic = $topic AND logged_at >= $before AND logged_at < $start
        GROUP BY 1
        """,
            {"topic": topic, "start": start, "before": before},
        ).fetchall()
    )
    action_counts = [ActionCount(a, actor, int(n)) for a, actor, n in actions]

    # The weekly cleanup's records: in the backlog, in the DLQ over 7 days.
    stale_before = end - STALE_AFTER
    stale_selection = replace(IN_BACKLOG, until=stale_before)
    stale = count(con, topic, stale_selection)
    stale_groups = top_values(con, topic, stale_selection, "error_signature", TOP)
    return DlqReport(
        topic=topic,
        generated_at=datetime.now(end.tzinfo),
        start=start,
        end=end,
        total=total,
        previous_total=previous_total,
        unparseable=unparseable,
        categories=categories,
        top_domains=grouped('"domain"'),
        top_urls=[Count(mask_url(c.label), c.count, c.previous) for c in grouped("url_folder")],
        top_signatures=grouped("error_signature", none_label=NO_TEXT_LABEL),
        replayed=sum(a.count for a in action_counts if a.action == "replayed"),
        resolved=sum(a.count for a in action_counts if a.action == "resolved"),
        previous_replayed=int(previous_actions.get("replayed", 0)),
        previous_resolved=int(previous_actions.get("resolved", 0)),
        actions=action_counts,
        stale_backlog=stale,
        stale_by_signature=[
            Count(mask_text(s) if s else NO_TEXT_LABEL, n, 0) for s, n in stale_groups
        ],
        states=count_states(con, topic),
    )


def _category_order(counts: list[Count]) -> list[Count]:
    """Permanent and transient first (the runbook's two), then the rest, then none."""
    main = [c for c in counts if c.label in MAIN_CATEGORIES]
    main.sort(key=lambda c: MAIN_CATEGORIES.index(c.label))
    rest = [c for c in counts if c.label not in MAIN_CATEGORIES and c.label != "(none)"]
    none = [c for c in counts if c.label == "(none)"]
    return main + rest + none

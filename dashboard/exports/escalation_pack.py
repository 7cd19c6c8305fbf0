"""The escalation pack: what the runbook tells people to send to L3, on one screen and as a
file (one self-contained HTML file, or Markdown with its PNG charts beside it in a zip).

Runbook, "Escalation Information to Provide": DLQ message count and growth rate; common
error patterns; a sample message's details; recent configuration or deployment changes; the
dashboard's charts; the actions already attempted. The title and headings are the runbook's
wording ([pack] in dashboard/triage/runbook.toml).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Final

import plotly.graph_objects as go

from dashboard.actions.audit import CHANGING_ACTIONS, AuditEntry, AuditFilter, query
from dashboard.adapters.db import Connection
from dashboard.exports.charts import ChartSource, growth_figure
from dashboard.exports.report_formats import embedded_png, page
from dashboard.settings import Settings
from dashboard.text.safe_text import html_text, markdown_inline
from dashboard.triage import alerts, escalation, overview, runbook
from dashboard.triage.dimensions import NO_TEXT_LABEL, NONE_LABEL
from dashboard.triage.filters import IN_BACKLOG
from dashboard.triage.messages import record_detail, search
from dashboard.triage.patterns import top_values
from dashboard.triage.severity import Severity, classify_rate, classify_size, overall, rate_bands
from dashboard.triage.states import (
    BACKLOG,
    BACKLOG_STATES,
    choices_condition,
    counts_line,
    label,
    records_with_state_sql,
)
from dashboard.triage.views import Section, view_sections

GROWTH_HOURS: Final = 24
GROWTH_BUCKET_MINUTES: Final = 10
CHART_SIZE: Final = (1000, 340)
ACTIONS_SHOWN: Final = 15


@dataclass(frozen=True)
class EscalationPack:
    topic: str
    as_of: datetime
    severity: Severity
    growth_severity: Severity
    size_severity: Severity
    per_10min: int
    per_min: float
    size: overview.DlqSize
    alert_states: list[alerts.AlertStatus]
    criteria: list[escalation.Criterion]
    top_signatures: list[tuple[str, int]]
    top_domains: list[tuple[str, int]]
    sample_ref: str | None
    sample: list[Section]
    actions: list[AuditEntry]
    growth: list[overview.Bucket]
    notes: str = ""


def build(con: Connection, settings: Settings, as_of: datetime, notes: str = "") -> EscalationPack:
    topic = settings.dlq_topic
    window = settings.rules.rate_window_minutes
    per_10min = overview.count_between(con, topic, as_of - timedelta(minutes=10), as_of)
    per_window = overview.count_between(con, topic, as_of - timedelta(minutes=window), as_of)
    growth_severity = classify_rate(per_10min, per_window / window, settings.severity)
    size = overview.dlq_size(con, topic)
    size_severity = classify_size(size.backlog, settings.severity)
    day = as_of - timedelta(hours=24)
    statuses = alerts.evaluate_all(
        settings.alerts,
        overview.arrivals(con, topic, day, as_of, 1),
        overview.backlog_history(con, topic, day, as_of, 1),
        window,
    )
    top = [
        (s or NO_TEXT_LABEL, n) for s, n in top_values(con, topic, IN_BACKLOG, "error_signature", 5)
    ]
    domains = [(d or NONE_LABEL, n) for d, n in top_values(con, topic, IN_BACKLOG, "domain", 5)]
    sample_ref, sample = None, []
    signature = _sample_signature(con, topic, as_of)
    if signature is not None:
        flt = replace(IN_BACKLOG, signature=signature)
        newest = search(con, topic, flt, "time", True, 1, 1).rows
        if newest:
            row = newest[0]
            detail = record_detail(con, row.topic, row.partition, row.offset)
            if detail is not None:
                sample_ref, sample = row.coordinates, view_sections(detail)
    attempted = [
        e
        for e in query(
            con,
            AuditFilter(actions=CHANGING_ACTIONS),
            200,
        )
        if e.topic in (None, topic)
    ][:ACTIONS_SHOWN]
    return EscalationPack(
        topic=topic,
        as_of=as_of,
        severity=overall(growth_severity, size_severity),
        growth_severity=growth_severity,
        size_severity=size_severity,
        per_10min=per_10min,
        per_min=per_window / window,
        size=size,
        alert_states=statuses,
        criteria=escalation.check(con, settings, as_of),
        top_signatures=top,
        top_domains=domains,
        sample_ref=sample_ref,
        sample=sample,
        actions=attempted,
        growth=overview.arrivals(
            con, topic, as_of - timedelta(hours=GROWTH_HOURS), as_of, GROWTH_BUCKET_MINUTES
        ),
        notes=notes,
    )


def _sample_signature(con: Connection, topic: str, as_of: datetime) -> str | None:
    """The error the sample record shows: what fails most in the last hour (what L3 is
    called about), else most in the backlog; an error with text beats none."""
    row = con.execute(
        f"""SELECT error_signature FROM {records_with_state_sql()} r
            WHERE topic = ? AND {choices_condition((BACKLOG,))}
              AND error_signature IS NOT NULL
            GROUP BY 1
            ORDER BY count(*) FILTER (WHERE kafka_timestamp >= ? AND kafka_timestamp < ?) DESC,
                     count(*) DESC, 1
            LIMIT 1""",
        [topic, as_of - timedelta(hours=1), as_of],
    ).fetchone()
    return None if row is None else str(row[0])


def figures(pack: EscalationPack, settings: Settings) -> dict[str, go.Figure]:
    figure = growth_figure(
        pack.growth,
        rate_bands(settings.severity, GROWTH_BUCKET_MINUTES),
        GROWTH_BUCKET_MINUTES,
        ChartSource(pack.topic, pack.as_of),
        height=CHART_SIZE[1],
    )
    return {"growth": figure}


def _alert_line(status: alerts.AlertStatus) -> str:
    moment = status.firing_since if status.state == "firing" else status.active_since
    since = f" since {moment:%Y-%m-%d %H:%M} UTC" if moment else ""
    return f"{status.rule.name}: {status.state}{since} ({status.condition})"


def _action_line(entry: AuditEntry) -> str:
    where = f" {entry.topic}:{entry.partition}:{entry.offset}" if entry.topic else ""
    why = f" - {entry.reason}" if entry.reason else ""
    error = f" ({entry.error})" if entry.error else ""
    return (
        f"{entry.logged_at:%Y-%m-%d %H:%M} {entry.actor} {entry.action}{where}: "
        f"{entry.result}{error}{why}"
    )


def to_markdown(pack: EscalationPack, image_names: Mapping[str, str] | None = None) -> str:
    s, h = pack.severity, runbook.RUNBOOK.pack
    lines = [
        f"# {markdown_inline(h.title)}: {markdown_inline(pack.topic)}",
        "",
        f"As of {pack.as_of:%Y-%m-%d %H:%M} UTC. **{s.level.label}**: {s.action} "
        f"(expected response {s.response_time}).",
        "",
        f"## {markdown_inline(h.count_and_growth)}",
        "",
        f"- Records in the topic: {pack.size.in_topic:,}; {counts_line(pack.size.states)}",
        f"- Growth: {pack.per_10min:,} records in the last 10 minutes, {pack.per_min:,.1f}/min "
        f"over the alert window ({markdown_inline(pack.growth_severity.reason)})",
        *[f"- {markdown_inline(_alert_line(a))}" for a in pack.alert_states],
        "",
    ]
    for key, name in (image_names or {}).items():
        lines += [f"![{markdown_inline(key)}]({name})", ""]
    lines += [
        f"## {markdown_inline(h.common_patterns)}",
        "",
        "| error signature | in the backlog |",
        "|---|---:|",
    ]
    lines += [f"| {markdown_inline(sig)} | {n:,} |" for sig, n in pack.top_signatures]
    lines += ["", "| domain | in the backlog |", "|---|---:|"]
    lines += [f"| {markdown_inline(d)} | {n:,} |" for d, n in pack.top_domains]
    lines += ["", f"## {markdown_inline(h.criteria)}", ""]
    for c in pack.criteria:
        mark = {True: "MET", False: "not met", None: "check by hand"}[c.met]
        lines.append(f"- {mark}: {markdown_inline(c.title)} ({markdown_inline(c.summary)})")
    lines += ["", f"## {markdown_inline(h.sample)} {markdown_inline(pack.sample_ref or '(none)')}"]
    lines.append("")
    for section in pack.sample:
        lines += [f"**{markdown_inline(section.title)}**", ""]
        lines += [f"- {markdown_inline(k)}: {markdown_inline(v)}" for k, v in section.rows]
        lines.append("")
    lines += [
        f"## {markdown_inline(h.changes)}",
        "",
        markdown_inline(pack.notes) if pack.notes.strip() else "(none given)",
        "",
        f"## {markdown_inline(h.actions)}",
        "",
    ]
    lines += [f"- {markdown_inline(_action_line(e))}" for e in pack.actions] or ["- none"]
    lines.append("")
    return "\n".join(lines)


def to_html(pack: EscalationPack, images: Mapping[str, bytes] | None = None) -> str:
    s, h = pack.severity, runbook.RUNBOOK.pack

    def rows(items: list[tuple[str, str]]) -> str:
        return "".join(f"<tr><th>{html_text(k)}</th><td>{html_text(v)}</td></tr>" for k, v in items)

    parts = [
        f"<h1>{html_text(h.title)}: {html_text(pack.topic)}</h1>",
        f"<p>As of {pack.as_of:%Y-%m-%d %H:%M} UTC</p>",
        f'<p class="severity {s.level.label.lower()}">{html_text(s.level.label)}: '
        f"{html_text(s.action)} (expected response {html_text(s.response_time)})</p>",
        f"<h2>{html_text(h.count_and_growth)}</h2><table>",
        rows(
            [
                ("Records in the topic", f"{pack.size.in_topic:,}"),
                *[(label(w), f"{pack.size.states.of(w):,}") for w in (BACKLOG, *BACKLOG_STATES)],
                ("Last 10 minutes", f"{pack.per_10min:,} records"),
                ("Rate over the alert window", f"{pack.per_min:,.1f} records/min"),
                ("Growth", pack.growth_severity.reason),
                ("Size", pack.size_severity.reason),
                *[(a.rule.name, _alert_line(a).split(": ", 1)[1]) for a in pack.alert_states],
            ]
        ),
        "</table>",
    ]
    parts += [embedded_png(key, data) for key, data in (images or {}).items()]
    parts.append(
        f"<h2>{html_text(h.common_patterns)}</h2>"
        "<table><tr><th>error signature</th><th>in the backlog</th></tr>"
    )
    parts += [f"<tr><td>{html_text(sig)}</td><td>{n:,}</td></tr>" for sig, n in pack.top_signatures]
    parts.append("</table><table><tr><th>domain</th><th>in the backlog</th></tr>")
    parts += [f"<tr><td>{html_text(d)}</td><td>{n:,}</td></tr>" for d, n in pack.top_domains]
    parts.append(f"</table><h2>{html_text(h.criteria)}</h2><ul>")
    for c in pack.criteria:
        mark = {True: "MET", False: "not met", None: "check by hand"}[c.met]
        parts.append(
            f"<li><strong>{mark}</strong>: {html_text(c.title)} ({html_text(c.summary)})</li>"
        )
    parts.append(f"</ul><h2>{html_text(h.sample)} {html_text(pack.sample_ref or '(none)')}</h2>")
    for section in pack.sample:
        parts.append(f"<h3>{html_text(section.title)}</h3><table>{rows(section.rows)}</table>")
    parts.append(f"<h2>{html_text(h.changes)}</h2>")
    parts.append(f'<div class="note">{html_text(pack.notes) or "(none given)"}</div>')
    parts.append(f"<h2>{html_text(h.actions)}</h2><ul>")
    parts += [f"<li>{html_text(_action_line(e))}</li>" for e in pack.actions] or ["<li>none</li>"]
    parts.append("</ul>")
    return page(f"{h.title} {pack.topic}", "\n".join(parts))


def markdown_zip(pack: EscalationPack, images: Mapping[str, bytes]) -> bytes:
    """escalation.md with its charts beside it, as one zip to download."""
    names = {key: f"{key}.png" for key in images}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("escalation.md", to_markdown(pack, names))
        for key, data in images.items():
            archive.writestr(names[key], data)
    return buffer.getvalue()

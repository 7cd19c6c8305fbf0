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
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

import plotly.graph_objects as go

from dashboard.actions.audit import CHANGING_ACTIONS, AuditEntry, AuditFilter, query
from dashboard.actions.bulk_summary import ActionSummary, summarise
from dashboard.adapters.db import Connection
from dashboard.exports.charts import ChartSource, growth_figure
from dashboard.exports.report_formats import embedded_png, page
from dashboard.settings import Settings
from dashboard.text.moments import shown_end
from dashboard.text.safe_text import html_text, markdown_inline
from dashboard.text.urls import mask_text
from dashboard.triage import alerts, escalation, overview, runbook
from dashboard.triage.dimensions import NO_TEXT_LABEL, NONE_LABEL
from dashboard.triage.filters import RecordFilter
from dashboard.triage.messages import record_detail, search
from dashboard.triage.patterns import Burst, top_values
from dashboard.triage.severity import Severity, classify_rate, classify_size, overall, rate_bands
from dashboard.triage.states import (
    BACKLOG,
    BACKLOG_STATES,
    counts_line,
    label,
)
from dashboard.triage.views import Section, view_sections

GROWTH_HOURS: Final = 24
GROWTH_BUCKET_MINUTES: Final = 10
CHART_SIZE: Final = (1000, 340)
# Audit entries read for the window's actions, and per-record lines in the appendix: a bulk
# of thousands is one summary line; the appendix names the first records and counts the rest.
AUDIT_READ: Final = 20_000
APPENDIX_SHOWN: Final = 500


@dataclass(frozen=True)
class EscalationPack:
    topic: str
    as_of: datetime
    window: escalation.IncidentWindow  # what the incident sections cover
    severity: Severity
    growth_severity: Severity
    size_severity: Severity
    per_10min: int
    per_min: float
    size: overview.DlqSize
    alert_states: list[alerts.AlertStatus]
    criteria: list[escalation.Criterion]
    bursts: list[Burst]  # systematic bursts in the window, whatever became of their records
    window_records: int
    top_signatures: list[tuple[str, int]]  # in the window, every state
    top_domains: list[tuple[str, int]]
    sample_ref: str | None
    sample: list[Section]
    actions: list[ActionSummary]  # one per bulk or single action in the window, newest first
    action_records: list[AuditEntry]  # the per-record entries behind them (the appendix)
    growth: list[overview.Bucket]
    notes: str = ""


def build(
    con: Connection,
    settings: Settings,
    as_of: datetime,
    notes: str = "",
    since: datetime | None = None,
) -> EscalationPack:
    """The pack as of `as_of`; its incident sections cover `since` (default: the incident's
    start, escalation.incident_window) until `as_of`."""
    topic = settings.dlq_topic
    window_minutes = settings.rules.rate_window_minutes
    per_10min = overview.count_between(con, topic, as_of - timedelta(minutes=10), as_of)
    per_window = overview.count_between(
        con, topic, as_of - timedelta(minutes=window_minutes), as_of
    )
    growth_severity = classify_rate(
        per_10min, per_window / window_minutes, settings.severity, window_minutes
    )
    size = overview.dlq_size(con, topic)
    size_severity = classify_size(size.backlog, settings.severity)
    statuses = escalation.alert_states(con, settings, as_of)
    window, window_bursts = escalation.window_and_bursts(con, settings, as_of, statuses, since)
    scope = RecordFilter(since=window.start, until=window.end)
    signatures = top_values(con, topic, scope, "error_signature", 5)
    sample_ref, sample = _sample(con, topic, scope, signatures)
    summaries, records = summarise(
        e
        for e in query(con, AuditFilter(actions=CHANGING_ACTIONS, since=window.start), AUDIT_READ)
        if e.topic in (None, topic)
    )
    return EscalationPack(
        topic=topic,
        as_of=as_of,
        window=window,
        severity=overall(growth_severity, size_severity),
        growth_severity=growth_severity,
        size_severity=size_severity,
        per_10min=per_10min,
        per_min=per_window / window_minutes,
        size=size,
        alert_states=statuses,
        criteria=escalation.check(con, settings, as_of),
        bursts=window_bursts,
        window_records=overview.count_between(con, topic, window.start, window.end),
        top_signatures=[(mask_text(s) if s else NO_TEXT_LABEL, n) for s, n in signatures],
        top_domains=[(d or NONE_LABEL, n) for d, n in top_values(con, topic, scope, "domain", 5)],
        sample_ref=sample_ref,
        sample=sample,
        actions=summaries,
        action_records=records,
        growth=overview.arrivals(
            con, topic, as_of - timedelta(hours=GROWTH_HOURS), as_of, GROWTH_BUCKET_MINUTES
        ),
        notes=mask_text(notes),  # typed by an operator: may hold a pasted presigned URL
    )


def _sample(
    con: Connection, topic: str, scope: RecordFilter, signatures: list[tuple[str | None, int]]
) -> tuple[str | None, list[Section]]:
    """The newest record of the window's top signature (one with error text beats none),
    whatever its state: the incident's example, even once replayed or resolved."""
    with_text = [s for s, _ in signatures if s is not None]
    if not with_text:
        return None, []
    flt = RecordFilter(since=scope.since, until=scope.until, signature=with_text[0])
    newest = search(con, topic, flt, "time", True, 1, 1).rows
    if not newest:
        return None, []
    row = newest[0]
    detail = record_detail(con, row.topic, row.partition, row.offset)
    return (row.coordinates, view_sections(detail)) if detail is not None else (None, [])


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
    since = status.since_text
    return f"{status.rule.name}: {status.state}{' ' + since if since else ''} ({status.condition})"


def _window_line(pack: EscalationPack) -> str:
    w = pack.window
    return (
        f"{w.start:%Y-%m-%d %H:%M} to {shown_end(w.end):%Y-%m-%d %H:%M} UTC ({w.why}): "
        f"{pack.window_records:,} records entered the DLQ"
    )


def _burst_line(b: Burst) -> str:
    where = f" from {b.domain}" if b.domain else ""
    return (
        f"{b.label}{where}: {b.total:,} records {b.first_seen:%Y-%m-%d %H:%M} to "
        f"{b.last_seen:%H:%M} UTC, peak {b.peak:,} in one window at {b.peak_at:%H:%M}"
    )


def _record_line(entry: AuditEntry) -> str:
    bulk = f" bulk {entry.bulk_id}" if entry.bulk_id else ""
    error = f" ({mask_text(entry.error)})" if entry.error else ""
    return (
        f"{entry.logged_at:%Y-%m-%d %H:%M} {entry.actor} {entry.action} "
        f"{entry.topic}:{entry.partition}:{entry.offset}{bulk}: {entry.result}{error}"
    )


def _appendix(pack: EscalationPack) -> list[str]:
    lines = [_record_line(e) for e in pack.action_records[:APPENDIX_SHOWN]]
    more = len(pack.action_records) - APPENDIX_SHOWN
    return lines + ([f"... and {more:,} more (the audit has them all)"] if more > 0 else [])


def to_markdown(pack: EscalationPack, image_names: Mapping[str, str] | None = None) -> str:
    s, h = pack.severity, runbook.RUNBOOK.pack
    md = markdown_inline
    lines = [
        f"# {md(h.title)}: {md(pack.topic)}",
        "",
        f"As of {shown_end(pack.as_of):%Y-%m-%d %H:%M} UTC. **{s.level.label}**: {s.action} "
        f"(expected response {s.response_time}).",
        "",
        f"Incident window: {md(_window_line(pack))}.",
        "",
        f"## {md(h.count_and_growth)}",
        "",
        f"- Records in the topic: {pack.size.in_topic:,}; {counts_line(pack.size.states)}",
        f"- Growth: {pack.per_10min:,} record{'' if pack.per_10min == 1 else 's'} in the last "
        f"10 minutes, {pack.per_min:,.1f}/min "
        f"over the alert window ({md(pack.growth_severity.reason)})",
        *[f"- {md(_alert_line(a))}" for a in pack.alert_states],
        "",
    ]
    for key, name in (image_names or {}).items():
        lines += [f"![{md(key)}]({name})", ""]
    lines += [f"## {md(h.common_patterns)}", "", "Systematic bursts in the window:", ""]
    lines += [f"- {md(_burst_line(b))}" for b in pack.bursts] or ["- none"]
    lines += ["", "| error signature | records in the window |", "|---|---:|"]
    lines += [f"| {md(sig)} | {n:,} |" for sig, n in pack.top_signatures]
    lines += ["", "| domain | records in the window |", "|---|---:|"]
    lines += [f"| {md(d)} | {n:,} |" for d, n in pack.top_domains]
    lines += ["", f"## {md(h.criteria)}", ""]
    for c in pack.criteria:
        mark = {True: "MET", False: "not met", None: "check by hand"}[c.met]
        lines.append(f"- {mark}: {md(c.title)} ({md(c.summary)})")
    lines += ["", f"## {md(h.sample)} {md(pack.sample_ref or '(none)')}", ""]
    for section in pack.sample:
        lines += [f"**{md(section.title)}**", ""]
        lines += [f"- {md(k)}: {md(v)}" for k, v in section.rows]
        lines.append("")
    lines += [
        f"## {md(h.changes)}",
        "",
        md(pack.notes) if pack.notes.strip() else "(none given)",
        "",
        f"## {md(h.actions)}",
        "",
    ]
    lines += [f"- {md(a.line)}" for a in pack.actions] or ["- none in the window"]
    if pack.action_records:
        lines += ["", "## Appendix: every record acted on", ""]
        lines += [f"- {md(line)}" for line in _appendix(pack)]
    lines.append("")
    return "\n".join(lines)


def to_html(pack: EscalationPack, images: Mapping[str, bytes] | None = None) -> str:
    return page(f"{runbook.RUNBOOK.pack.title} {pack.topic}", html_body(pack, images))


def html_body(pack: EscalationPack, images: Mapping[str, bytes] | None = None) -> str:
    """The pack's HTML, headed by one <h1>, to put in a page (alone, or among others)."""
    s, h = pack.severity, runbook.RUNBOOK.pack

    def rows(items: list[tuple[str, str]]) -> str:
        return "".join(f"<tr><th>{html_text(k)}</th><td>{html_text(v)}</td></tr>" for k, v in items)

    def items(lines: list[str], empty: str) -> str:
        return "<ul>" + ("".join(f"<li>{html_text(x)}</li>" for x in lines) or empty) + "</ul>"

    def counts(title: str, pairs: list[tuple[str, int]]) -> str:
        body = "".join(f"<tr><td>{html_text(k)}</td><td>{n:,}</td></tr>" for k, n in pairs)
        return f"<table><tr><th>{title}</th><th>records in the window</th></tr>{body}</table>"

    parts = [
        f"<h1>{html_text(h.title)}: {html_text(pack.topic)}</h1>",
        f"<p>As of {shown_end(pack.as_of):%Y-%m-%d %H:%M} UTC</p>",
        f'<p class="severity {s.level.label.lower()}">{html_text(s.level.label)}: '
        f"{html_text(s.action)} (expected response {html_text(s.response_time)})</p>",
        f"<p>Incident window: {html_text(_window_line(pack))}.</p>",
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
    parts.append(f"<h2>{html_text(h.common_patterns)}</h2><p>Systematic bursts in the window:</p>")
    parts.append(items([_burst_line(b) for b in pack.bursts], "<li>none</li>"))
    parts.append(counts("error signature", pack.top_signatures))
    parts.append(counts("domain", pack.top_domains))
    parts.append(f"<h2>{html_text(h.criteria)}</h2><ul>")
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
    parts.append(f"<h2>{html_text(h.actions)}</h2>")
    parts.append(items([a.line for a in pack.actions], "<li>none in the window</li>"))
    if pack.action_records:
        parts.append("<h2>Appendix: every record acted on</h2>")
        parts.append(items(_appendix(pack), ""))
    return "\n".join(parts)


def markdown_zip(pack: EscalationPack, images: Mapping[str, bytes]) -> bytes:
    """escalation.md with its charts beside it, as one zip to download."""
    names = {key: f"{key}.png" for key in images}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("escalation.md", to_markdown(pack, names))
        for key, data in images.items():
            archive.writestr(names[key], data)
    return buffer.getvalue()

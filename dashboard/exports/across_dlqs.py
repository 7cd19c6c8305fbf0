"""The report and the escalation pack across every DLQ, as one file each: each DLQ's own
report or pack (rendered by report_formats and escalation_pack), one section per DLQ headed
by its name and topic, in the All DLQs page's order (most urgent first)."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime

import plotly.graph_objects as go

from dashboard.adapters.db import Connection
from dashboard.exports import escalation_pack, report_formats
from dashboard.exports.escalation_pack import EscalationPack
from dashboard.settings import Settings
from dashboard.text.safe_text import csv_cell, html_text, markdown_inline
from dashboard.triage import runbook
from dashboard.triage.across_dlqs import AllDlqsReport
from dashboard.triage.dlq_summary import summarize_all
from dashboard.triage.severity import Level

ByDlq = Mapping[str, Mapping[str, bytes]]  # a DLQ's name -> its charts' PNGs by chart key
ByName = Mapping[str, Mapping[str, str]]  # a DLQ's name -> chart key -> image file name


def _heading(name: str, topic: str) -> str:
    return name if name == topic else f"{name} ({topic})"


def _markdown_section(markdown: str, name: str, topic: str) -> list[str]:
    """A one-DLQ document as a section: its title replaced by the DLQ's, headings one deeper."""
    body = markdown.split("\n")[1:]
    lines = [f"## {markdown_inline(_heading(name, topic))}"]
    # Record text is escaped (markdown_inline) and tables start with "|": a "#" at a line's
    # start is always a heading of the document.
    return lines + [f"#{line}" if line.startswith("#") else line for line in body]


def _html_section(html: str, name: str, topic: str) -> str:
    """The same for HTML: record text is escaped, so every <hN> is the document's heading."""
    body = html.split("\n", 1)[1] if "\n" in html else ""
    for level in (3, 2, 1):
        body = body.replace(f"<h{level}>", f"<h{level + 1}>")
        body = body.replace(f"</h{level}>", f"</h{level + 1}>")
    return f"<h2>{html_text(_heading(name, topic))}</h2>\n{body}"


def _when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def report_markdown(report: AllDlqsReport) -> str:
    lines = [
        "# DLQ report: all DLQs",
        "",
        f"{report.days} days to {_when(report.end)}, every DLQ, most urgent first. "
        f"All DLQs: {report.totals.line}.",
        "",
    ]
    for s in report.sections:
        lines += _markdown_section(report_formats.to_markdown(s.report), s.name, s.report.topic)
    return "\n".join(lines)


def report_json(report: AllDlqsReport) -> str:
    data = {
        "end": report.end.isoformat(),
        "days": report.days,
        "totals": asdict(report.totals),
        "dlqs": [
            {"name": s.name, "report": json.loads(report_formats.to_json(s.report))}
            for s in report.sections
        ],
    }
    return json.dumps(data, indent=2, ensure_ascii=False)


def report_csv(report: AllDlqsReport) -> str:
    """Each DLQ's CSV rows with the DLQ's name first, then the totals (dlq "all")."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["dlq", "section", "label", "count", "previous_period", "change"])
    for s in report.sections:
        rows = list(csv.reader(io.StringIO(report_formats.to_csv(s.report))))[1:]
        writer.writerows([csv_cell(s.name), *row] for row in rows)
    t = report.totals
    for label, n, previous in (
        ("records", t.total, t.previous_total),
        ("replayed", t.replayed, None),
        ("resolved", t.resolved, None),
        ("unparseable records", t.unparseable, None),
        ("backlog older than 7 days", t.stale_backlog, None),
    ):
        change = "" if previous is None else n - previous
        writer.writerow(["all", "totals", label, n, "" if previous is None else previous, change])
    return out.getvalue()


def report_figures(report: AllDlqsReport) -> dict[str, dict[str, go.Figure]]:
    return {s.name: report_formats.figures(s.report) for s in report.sections}


def report_html(report: AllDlqsReport, images: ByDlq | None = None) -> str:
    parts = [
        "<h1>DLQ report: all DLQs</h1>",
        f"<p>{report.days} days to {_when(report.end)}, every DLQ, most urgent first. "
        f"All DLQs: {html_text(report.totals.line)}.</p>",
    ]
    for s in report.sections:
        body = report_formats.html_body(s.report, (images or {}).get(s.name))
        parts.append(_html_section(body, s.name, s.report.topic))
    return report_formats.page("DLQ report all DLQs", "\n".join(parts))


@dataclass(frozen=True)
class NamedPack:
    name: str
    pack: EscalationPack


def packs(
    con: Connection,
    settings: Settings,
    as_of: datetime,
    notes: str = "",
    since: datetime | None = None,
) -> list[NamedPack]:
    """The pack of every DLQ at Warning or worse (of every DLQ when none is), most urgent
    first: what L3 needs when several DLQs fill at once, in one file."""
    order = summarize_all(con, settings, as_of)
    urgent = [s for s in order if s.severity >= Level.WARNING] or order
    return [
        NamedPack(s.name, escalation_pack.build(con, settings.for_dlq(s.name), as_of, notes, since))
        for s in urgent
    ]


def pack_figures(named: list[NamedPack], settings: Settings) -> dict[str, dict[str, go.Figure]]:
    """Each DLQ's charts, against its own severity bands."""
    return {p.name: escalation_pack.figures(p.pack, settings.for_dlq(p.name)) for p in named}


def _packs_intro(named: list[NamedPack]) -> str:
    return f"{len(named)} DLQ{'s' if len(named) != 1 else ''}: " + ", ".join(
        f"{p.name} ({p.pack.severity.level.label})" for p in named
    )


def packs_markdown(named: list[NamedPack], image_names: ByName | None = None) -> str:
    title = runbook.RUNBOOK.pack.title
    lines = [f"# {markdown_inline(title)}: all DLQs", "", markdown_inline(_packs_intro(named)), ""]
    for p in named:
        md = escalation_pack.to_markdown(p.pack, (image_names or {}).get(p.name))
        lines += _markdown_section(md, p.name, p.pack.topic)
    return "\n".join(lines)


def packs_html(named: list[NamedPack], images: ByDlq | None = None) -> str:
    title = runbook.RUNBOOK.pack.title
    parts = [f"<h1>{html_text(title)}: all DLQs</h1>", f"<p>{html_text(_packs_intro(named))}</p>"]
    for p in named:
        body = escalation_pack.html_body(p.pack, (images or {}).get(p.name))
        parts.append(_html_section(body, p.name, p.pack.topic))
    return report_formats.page(f"{title} all DLQs", "\n".join(parts))


def packs_zip(named: list[NamedPack], images: ByDlq) -> bytes:
    """escalation.md with every DLQ's charts beside it, as one zip to download."""
    names = {
        dlq: {key: f"{re.sub(r'[^A-Za-z0-9._-]', '_', dlq)}-{key}.png" for key in pngs}
        for dlq, pngs in images.items()
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("escalation.md", packs_markdown(named, names))
        for dlq, pngs in images.items():
            for key, data in pngs.items():
                archive.writestr(names[dlq][key], data)
    return buffer.getvalue()

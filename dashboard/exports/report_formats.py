"""The DLQ report as Markdown, HTML (self-contained, charts as embedded PNGs), JSON and CSV.
Every format renders the same `DlqReport`, so they hold the same numbers; record content
(domains, URLs, signatures) is escaped for each format and URLs are masked."""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import asdict
from datetime import datetime
from typing import Any

import plotly.graph_objects as go

from dashboard.exports.charts import ChartSource, group_figure
from dashboard.text.moments import shown_end
from dashboard.text.safe_text import csv_cell, html_text, markdown_inline
from dashboard.triage.reports import Count, DlqReport
from dashboard.triage.states import RESOLVED, counts_line, lower_label

CHART_SIZE = (900, 380)


def _when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def _change(count: int, previous: int) -> str:
    delta = count - previous
    if previous == 0:
        return "new" if count else "0"
    return f"{delta:+,} ({delta / previous:+.0%})"


def _states_line(report: DlqReport) -> str:
    """Where the snapshot's records stand, in the states' words."""
    resolved = f"{lower_label(RESOLVED)} {report.states.resolved:,}"
    return f"{_when(report.generated_at)}): {counts_line(report.states)}; {resolved}"


def _sections(report: DlqReport) -> Iterator[tuple[str, list[Count]]]:
    yield "Error categories", report.categories
    yield "Top failure domains", report.top_domains
    yield "Top failure URL folders (file names, ids and query strings dropped)", report.top_urls
    yield "Top error signatures", report.top_signatures


def to_json(report: DlqReport) -> str:
    data = asdict(report)
    data["days"] = report.days
    data["states"] = report.states.as_dict()  # keyed by the words URLs and options use
    return json.dumps(
        data,
        default=lambda v: v.isoformat() if isinstance(v, datetime) else str(v),
        indent=2,
        ensure_ascii=False,
    )


def to_csv(report: DlqReport) -> str:
    """One row per figure: section, label, count, previous period, change."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["section", "label", "count", "previous_period", "change"])

    def row(section: str, label: str, count: int, previous: int | str = "") -> None:
        change = count - previous if isinstance(previous, int) else ""
        writer.writerow([csv_cell(section), csv_cell(label), count, previous, change])

    # The period row carries its length in days in the count column, so a spreadsheet
    # that sums the count column per section never mixes it with record counts.
    writer.writerow(
        [
            "period",
            f"{report.start.isoformat()} to {report.end.isoformat()}",
            f"{report.days:g} days",
            "",
            "",
        ]
    )
    row("totals", "records", report.total, report.previous_total)
    row("totals", "unparseable records", report.unparseable)
    row("totals", "backlog older than 7 days", report.stale_backlog)
    row("actions", "replayed", report.replayed, report.previous_replayed)
    row("actions", "resolved", report.resolved, report.previous_resolved)
    for title, counts in _sections(report):
        for c in counts:
            row(title, c.label, c.count, c.previous)
    for a in report.actions:
        row("actions by actor", f"{a.action} by {a.actor}", a.count)
    for c in report.stale_by_signature:
        row("backlog older than 7 days, by signature", c.label, c.count)
    for word, n in report.states.as_dict().items():
        row("now, by state", lower_label(word), n)
    return out.getvalue()


def to_markdown(report: DlqReport, image_names: Mapping[str, str] | None = None) -> str:
    """Markdown; `image_names` (chart key -> file name) links PNGs saved beside it."""
    lines = [
        f"# DLQ report: {markdown_inline(report.topic)}",
        "",
        f"{_when(report.start)} to {_when(shown_end(report.end))} ({report.days:g} days), "
        f"compared with the {report.days:g} days before. Generated {_when(report.generated_at)}.",
        "",
        "| | this period | previous period | change |",
        "|---|---:|---:|---:|",
        f"| Records entering the DLQ | {report.total:,} | {report.previous_total:,} | "
        f"{_change(report.total, report.previous_total)} |",
        f"| Replayed | {report.replayed:,} | {report.previous_replayed:,} | "
        f"{_change(report.replayed, report.previous_replayed)} |",
        f"| Resolved | {report.resolved:,} | {report.previous_resolved:,} | "
        f"{_change(report.resolved, report.previous_resolved)} |",
        "",
        f"Now ({_states_line(report)}. Unparseable records in the period: "
        f"{report.unparseable:,}. Backlog older than 7 days: **{report.stale_backlog:,}**.",
        "",
    ]
    for key, name in (image_names or {}).items():
        lines += [f"![{markdown_inline(key)}]({name})", ""]
    for title, counts in _sections(report):
        lines += [
            f"## {title}",
            "",
            "| | records | share | previous | change |",
            "|---|---:|---:|---:|---:|",
        ]
        for c in counts:
            share = c.count / report.total if report.total else 0
            lines.append(
                f"| {markdown_inline(c.label)} | {c.count:,} | {share:.1%} | "
                f"{c.previous:,} | {_change(c.count, c.previous)} |"
            )
        lines.append("")
    lines += ["## Actions taken", "", "| action | by | records |", "|---|---|---:|"]
    lines += [f"| {a.action} | {markdown_inline(a.actor)} | {a.count:,} |" for a in report.actions]
    if not report.actions:
        lines.append("| none | | |")
    lines += [
        "",
        "## Backlog older than 7 days, by error signature",
        "",
        "| error signature | records |",
        "|---|---:|",
    ]
    lines += [f"| {markdown_inline(c.label)} | {c.count:,} |" for c in report.stale_by_signature]
    lines.append("")
    return "\n".join(lines)


def figures(report: DlqReport) -> dict[str, go.Figure]:
    """The report's charts, as the HTML and Markdown exports embed them."""
    source = ChartSource(report.topic, report.end)
    return {
        "categories": group_figure(
            [c.label for c in report.categories],
            [c.count for c in report.categories],
            "Records by error category",
            source,
            height=CHART_SIZE[1],
        ),
        "signatures": group_figure(
            [c.label for c in report.top_signatures],
            [c.count for c in report.top_signatures],
            "Top error signatures",
            source,
            height=CHART_SIZE[1],
            label_width=45,  # the chart is half a page wide; the full text is in the table
        ),
    }


def to_html(report: DlqReport, images: Mapping[str, bytes] | None = None) -> str:
    """One self-contained HTML file: styles inline, charts as data: PNG images."""
    return page(f"DLQ report {report.topic}", html_body(report, images))


def html_body(report: DlqReport, images: Mapping[str, bytes] | None = None) -> str:
    """The report's HTML, headed by one <h1>, to put in a page (alone, or among others)."""

    def table(headers: list[str], rows: list[list[Any]]) -> str:
        head = "".join(f"<th>{html_text(h)}</th>" for h in headers)
        body = "".join(
            "<tr>" + "".join(f"<td>{html_text(v)}</td>" for v in row) + "</tr>" for row in rows
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    parts = [
        f"<h1>DLQ report: {html_text(report.topic)}</h1>",
        f"<p>{_when(report.start)} to {_when(shown_end(report.end))} ({report.days:g} days), "
        f"compared with the {report.days:g} days before. Generated "
        f"{_when(report.generated_at)}.</p>",
        table(
            ["", "this period", "previous period", "change"],
            [
                [
                    "Records entering the DLQ",
                    f"{report.total:,}",
                    f"{report.previous_total:,}",
                    _change(report.total, report.previous_total),
                ],
                [
                    "Replayed",
                    f"{report.replayed:,}",
                    f"{report.previous_replayed:,}",
                    _change(report.replayed, report.previous_replayed),
                ],
                [
                    "Resolved",
                    f"{report.resolved:,}",
                    f"{report.previous_resolved:,}",
                    _change(report.resolved, report.previous_resolved),
                ],
            ],
        ),
        f"<p>Now ({html_text(_states_line(report))}. Unparseable records in the period: "
        f"{report.unparseable:,}. Backlog older than 7 days: "
        f"<strong>{report.stale_backlog:,}</strong>.</p>",
    ]
    parts += [embedded_png(key, data) for key, data in (images or {}).items()]
    for title, counts in _sections(report):
        parts.append(f"<h2>{html_text(title)}</h2>")
        parts.append(
            table(
                ["", "records", "share", "previous", "change"],
                [
                    [
                        c.label,
                        f"{c.count:,}",
                        f"{c.count / report.total:.1%}" if report.total else "-",
                        f"{c.previous:,}",
                        _change(c.count, c.previous),
                    ]
                    for c in counts
                ],
            )
        )
    parts.append("<h2>Actions taken</h2>")
    parts.append(
        table(
            ["action", "by", "records"],
            [[a.action, a.actor, f"{a.count:,}"] for a in report.actions] or [["none", "", ""]],
        )
    )
    parts.append("<h2>Backlog older than 7 days, by error signature</h2>")
    parts.append(
        table(
            ["error signature", "records"],
            [[c.label, f"{c.count:,}"] for c in report.stale_by_signature],
        )
    )
    return "\n".join(parts)


STYLE = """
body { font-family: Helvetica, Arial, sans-serif; margin: 24px auto; max-width: 1100px;
       color: #1f2328; }
h1 { font-size: 24px; } h2 { font-size: 18px; margin-top: 28px; }
table { border-collapse: collapse; margin: 8px 0 16px; width: 100%; }
th, td { border: 1px solid #d0d7de; padding: 4px 8px; text-align: left; font-size: 13px;
         vertical-align: top; word-break: break-word; }
th { background: #f6f8fa; }
img { max-width: 100%; border: 1px solid #eaeef2; margin: 8px 0; }
.note { white-space: pre-wrap; background: #fff8c5; padding: 8px; border: 1px solid #d4a72c; }
.severity { padding: 8px 12px; border-radius: 6px; font-weight: bold; }
.critical { background: #ffebe9; } .warning { background: #fff8c5; }
.normal { background: #dafbe1; }
"""


def embedded_png(name: str, data: bytes) -> str:
    """An <img> that carries its PNG inside the file (a data: URL, allowed by the CSP)."""
    encoded = base64.b64encode(data).decode()
    return f'<img alt="{html_text(name)}" src="data:image/png;base64,{encoded}">'


def page(title: str, body: str) -> str:
    # No script, no external resource: the file shows the same anywhere, offline.
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "img-src data:; style-src 'unsafe-inline'\">"
        f"<title>{html_text(title)}</title><style>{STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )

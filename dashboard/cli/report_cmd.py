"""`dlq report`: the DLQ over the last N days, as Markdown, HTML, JSON or CSV."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from dashboard.adapters.db import Database
from dashboard.cli import arguments
from dashboard.cli.context import settings_from
from dashboard.cli.output import err
from dashboard.cli.refresh import add_refresh_options, refresh_unless_asked_not_to
from dashboard.exports import images, report_formats
from dashboard.triage import reports


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    report = commands.add_parser("report", help="the DLQ report for the last N days")
    report.add_argument(
        "--days",
        type=arguments.whole(1, arguments.MAX_DAYS),
        default=7,
        help="the period (default 7 days)",
    )
    report.add_argument("--format", choices=["md", "html", "json", "csv"], default="md")
    report.add_argument(
        "--output", type=arguments.output_file, help="write to this file (default: stdout)"
    )
    report.add_argument("--no-charts", action="store_true", help="HTML without chart images")
    add_refresh_options(report)
    report.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.days <= 0:
        err("dlq report: --days must be positive")
        return 2
    settings = settings_from(args)
    refresh_unless_asked_not_to(settings, args)
    with Database.of(settings).read() as con:
        report = reports.build(con, settings.dlq_topic, datetime.now(UTC), args.days)
    if args.format == "md":
        text = report_formats.to_markdown(report)
    elif args.format == "json":
        text = report_formats.to_json(report)
    elif args.format == "csv":
        text = report_formats.to_csv(report)
    else:
        pngs: dict[str, bytes] = {}
        if not args.no_charts:
            try:
                pngs = images.named_pngs(report_formats.figures(report), *report_formats.CHART_SIZE)
            except images.ImagesUnavailable as exc:
                err(f"warning: {exc}; the HTML has no charts")
        text = report_formats.to_html(report, pngs)
    if args.output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        args.output.write_text(text, encoding="utf-8")
        err(f"wrote {args.output}")
    return 0

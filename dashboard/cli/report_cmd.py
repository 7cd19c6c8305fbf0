"""`dlq report`: the DLQ over the last N days, as Markdown, HTML, JSON or CSV."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from dashboard.adapters.db import Database
from dashboard.cli import arguments
from dashboard.cli.context import all_dlqs_settings, settings_from
from dashboard.cli.output import err
from dashboard.cli.refresh import add_refresh_options, refresh_unless_asked_not_to
from dashboard.exports import across_dlqs, images, report_formats
from dashboard.settings import Settings
from dashboard.triage import reports
from dashboard.triage.across_dlqs import report_all


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
    report.add_argument(
        "--all-dlqs",
        action="store_true",
        help="one report with a section per configured DLQ (most urgent first), not only --dlq",
    )
    add_refresh_options(report)
    report.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.days <= 0:
        err("dlq report: --days must be positive")
        return 2
    settings = settings_from(args)
    refresh_unless_asked_not_to(settings, args)
    if args.all_dlqs:
        return _write(args, _all_dlqs_text(all_dlqs_settings(args), args))
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
    return _write(args, text)


def _all_dlqs_text(settings: Settings, args: argparse.Namespace) -> str:
    with Database.of(settings).read() as con:
        whole = report_all(con, settings, datetime.now(UTC), args.days)
    if args.format == "md":
        return across_dlqs.report_markdown(whole)
    if args.format == "json":
        return across_dlqs.report_json(whole)
    if args.format == "csv":
        return across_dlqs.report_csv(whole)
    pngs: dict[str, dict[str, bytes]] = {}
    if not args.no_charts:
        try:
            pngs = {
                name: images.named_pngs(figures, *report_formats.CHART_SIZE)
                for name, figures in across_dlqs.report_figures(whole).items()
            }
        except images.ImagesUnavailable as exc:
            err(f"warning: {exc}; the HTML has no charts")
    return across_dlqs.report_html(whole, pngs)


def _write(args: argparse.Namespace, text: str) -> int:
    if args.output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        args.output.write_text(text, encoding="utf-8")
        err(f"wrote {args.output}")
    return 0

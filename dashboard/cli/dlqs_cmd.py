"""`dlq dlqs`: every configured DLQ, most urgent first (name, topic, format, replay target,
backlog, severity, alerts)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from dashboard.adapters.db import Database
from dashboard.cli.context import settings_from
from dashboard.cli.output import print_json, printable, table
from dashboard.cli.refresh import add_refresh_options, refresh_unless_asked_not_to
from dashboard.triage.dlq_summary import summarize_all


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dlqs = commands.add_parser(
        "dlqs", help="every configured DLQ with its backlog and severity, most urgent first"
    )
    dlqs.add_argument("--format", choices=["table", "json"], default="table")
    add_refresh_options(dlqs)
    dlqs.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    refresh_unless_asked_not_to(settings, args)
    with Database.of(settings).read() as con:
        rows = summarize_all(con, settings, datetime.now(UTC))
    if args.format == "json":
        print_json([r.as_dict() for r in rows])
        return 0
    print(
        table(
            ["DLQ", "Topic", "Format", "Replays to", "Backlog", "Last hour", "Severity", "Alerts"],
            [20, 30, 18, 26, 9, 9, 9],
            [
                [
                    printable(r.name) + (" (discovered)" if r.discovered else ""),
                    printable(r.topic),
                    r.format,
                    printable(r.replay_target),
                    f"{r.backlog:,}",
                    f"{r.entered_last_hour:,}",
                    r.severity.label,
                    ", ".join(
                        [*(f"{a} firing" for a in r.firing), *(f"{a} pending" for a in r.pending)]
                    )
                    or "-",
                ]
                for r in rows
            ],
        )
    )
    return 0

"""`dlq demo`: fill the DLQ topic with a realistic mix of failures."""

from __future__ import annotations

import argparse

from dashboard.cli.context import settings_from
from dashboard.cli.output import err
from dashboard.devtools import demo_data


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = commands.add_parser("demo", help="produce demo DLQ records into the DLQ topic")
    demo.add_argument("--count", type=_positive, default=3000, help="records (default 3000)")
    demo.add_argument(
        "--days",
        type=float,
        default=14.0,
        help="spread timestamps over the past D days (default 14)",
    )
    demo.add_argument(
        "--partitions",
        type=_positive,
        default=6,
        help="partitions when the topic is created (default 6)",
    )
    demo.add_argument("--seed", type=int, default=None, help="repeatable output")
    demo.add_argument(
        "--if-empty",
        action="store_true",
        help="do nothing when the DLQ topic already holds records",
    )
    demo.set_defaults(run=run)


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive integer")
    return value


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    if args.if_empty:
        held = demo_data.records_in_topic(settings)
        if held:
            err(f"{settings.dlq_topic} already holds {held:,} records; no demo data added")
            return 0
    summary = demo_data.produce(settings, args.count, args.days, args.partitions, args.seed)
    made = "created" if summary.created_topic else "existing"
    err(
        f"produced {summary.records:,} demo records into {made} topic {summary.topic} "
        f"({summary.partitions} partitions) at {settings.bootstrap_servers}"
    )
    return 0

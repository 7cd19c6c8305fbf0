"""`dlq demo`: fill the DLQ topic with a realistic mix of failures."""

from __future__ import annotations

import argparse

from dashboard import demo_data
from dashboard.cli.context import settings_from
from dashboard.cli.output import err


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = commands.add_parser("demo", help="produce demo DLQ records into the DLQ topic")
    demo.add_argument("--count", type=_positive, default=3000, help="records (default 3000)")
    demo.add_argument("--days", type=float, default=14.0,
                      help="spread timestamps over the past D days (default 14)")
    demo.add_argument("--partitions", type=_positive, default=6,
                      help="partitions when the topic is created (default 6)")
    demo.add_argument("--seed", type=int, default=None, help="repeatable output")
    demo.set_defaults(run=run)


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive integer")
    return value


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    summary = demo_data.produce(settings, args.count, args.days, args.partitions, args.seed)
    made = "created" if summary.created_topic else "existing"
    err(f"produced {summary.records:,} demo records into {made} topic {summary.topic} "
        f"({summary.partitions} partitions) at {settings.bootstrap_servers}")
    return 0

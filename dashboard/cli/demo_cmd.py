"""`dlq demo`: fill the DLQ topic with a realistic mix of failures; with --live, keep
adding a trickle and recurring systematic bursts until stopped."""

from __future__ import annotations

import argparse
import os
import signal
import threading
from types import FrameType

from dashboard.cli.context import settings_from
from dashboard.cli.output import err
from dashboard.devtools import demo_data, demo_live


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
    live = demo.add_argument_group("live (--live)")
    live.add_argument(
        "--live",
        action="store_true",
        help="then keep producing: a trickle and a recurring systematic burst, until "
        "Ctrl-C, SIGTERM or the process that started it ends",
    )
    plan = demo_live.LivePlan()
    for flag, kind, default, what in (
        ("--rate", float, plan.per_minute, "trickle records per minute"),
        ("--burst-every", float, plan.burst_every_minutes, "minutes between bursts"),
        ("--burst-size", int, plan.burst_size, "records per burst (0: no bursts)"),
        ("--burst-minutes", float, plan.burst_minutes, "minutes each burst lasts"),
    ):
        live.add_argument(flag, type=kind, default=default, help=f"{what} (default {default:g})")
    demo.set_defaults(run=run)


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive integer")
    return value


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    held = demo_data.records_in_topic(settings) if args.if_empty else 0
    if held:
        err(f"{settings.dlq_topic} already holds {held:,} records; no demo data added")
    else:
        summary = demo_data.produce(settings, args.count, args.days, args.partitions, args.seed)
        made = "created" if summary.created_topic else "existing"
        err(
            f"produced {summary.records:,} demo records into {made} topic {summary.topic} "
            f"({summary.partitions} partitions) at {settings.bootstrap_servers}"
        )
    if not args.live:
        return 0
    if args.rate < 0 or args.burst_every <= 0 or args.burst_size < 0 or args.burst_minutes <= 0:
        err("dlq demo: --rate and --burst-size must be >= 0, --burst-every and --burst-minutes > 0")
        return 2
    plan = demo_live.LivePlan(args.rate, args.burst_every, args.burst_size, args.burst_minutes)
    stop = threading.Event()

    def on_term(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_term)
    err(
        f"live: {plan.per_minute:g} records/min, a burst of {plan.burst_size:,} over "
        f"{plan.burst_minutes:g} min every {plan.burst_every_minutes:g} min (Ctrl-C stops)"
    )
    done = demo_live.run(
        plan,
        demo_live.kafka_sender(settings),
        sleep=stop.wait,  # a SIGTERM ends the wait at once
        alive=demo_live.parent_alive(os.getppid()),
        stop=stop,
        seed=args.seed,
    )
    err(
        f"live: stopped ({done.stopped_because}) after {done.trickle + done.burst:,} records "
        f"({done.burst:,} in bursts, {done.failed:,} not delivered)"
    )
    return 0

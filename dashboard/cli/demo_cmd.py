"""`dlq demo`: fill the DLQ topics with a realistic mix of failures (the xact download DLQ,
a ClaimX download DLQ and a generic envelope DLQ: see devtools/demo_dlqs.py; --only-xact
or --dlq NAME for one); with --live, keep adding a trickle and recurring systematic bursts
to the xact download DLQ until stopped."""

from __future__ import annotations

import argparse
import os
import signal
import threading
from types import FrameType

from dashboard.adapters.kafka import KafkaGateway
from dashboard.cli.context import all_dlqs_settings
from dashboard.cli.output import err
from dashboard.devtools import demo_data, demo_dlqs, demo_live
from dashboard.settings import DlqSettings, Settings


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = commands.add_parser(
        "demo",
        help="produce demo records into the xact download, ClaimX download and generic "
        "envelope DLQs (or the configured ones)",
    )
    demo.add_argument(
        "--count",
        type=_positive,
        default=3000,
        help="records in the xact download DLQ (default 3000); the others get a few hundred",
    )
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
        help="leave alone each DLQ topic that already holds records",
    )
    demo.add_argument(
        "--only-xact",
        action="store_true",
        help="fill only the first configured DLQ (the xact download DLQ by default), as "
        "before several DLQs",
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


def _chosen(settings: Settings, args: argparse.Namespace) -> list[DlqSettings]:
    if args.dlq is not None or args.only_xact:
        return [settings.dlq(args.dlq)]
    return demo_dlqs.demo_dlqs(settings)


def run(args: argparse.Namespace) -> int:
    everything = all_dlqs_settings(args)
    settings = everything.for_dlq(args.dlq)
    kafka = KafkaGateway(settings)
    chosen = _chosen(everything, args)
    for dlq in chosen:
        held = demo_data.records_in(kafka, dlq.topic) if args.if_empty else 0
        if held:
            err(f"{dlq.topic} already holds {held:,} records; no demo data added")
            continue
        if dlq.format not in demo_dlqs.FILLABLE:
            err(f"{dlq.topic}: no demo records for the {dlq.format!r} format; skipped")
            continue
        count = demo_dlqs.share(dlq.format, args.count)
        summary = demo_dlqs.fill(
            everything,
            dlq,
            count,
            args.days,
            kafka=kafka,
            partitions=args.partitions,
            seed=args.seed,
        )
        made = "created" if summary.created_topic else "existing"
        err(
            f"produced {summary.records:,} demo records ({dlq.format}) into {made} topic "
            f"{summary.topic} ({summary.partitions} partitions) at {settings.bootstrap_servers}"
        )
    unread = [d.topic for d in chosen if everything.dlq_by_topic(d.topic) is None]
    if unread:
        err(
            f"the dashboard reads {', '.join(unread)} once the settings name them in [[dlqs]] "
            "(DLQ_CONFIG=scripts/demo.toml, as `make demo` does)"
        )
    if not args.live:
        return 0
    if everything.dlq(args.dlq).format != "xact-download":
        err("dlq demo --live: the live records are xact download records; name that DLQ")
        return 2
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

"""`dlq ingest`: snapshot new DLQ records into DuckDB, once or every N seconds."""

from __future__ import annotations

import argparse
import signal
import threading
import time
from types import FrameType

from dashboard.adapters.db import DatabaseBusy
from dashboard.adapters.kafka import BrokerUnreachable, TopicMissing
from dashboard.cli.context import all_dlqs_settings, settings_from
from dashboard.cli.metrics_cmd import PORT, add_address_argument, serve
from dashboard.cli.output import err, print_json
from dashboard.settings import Settings
from ingest.job import IngestError, IngestSummary, Progress, ingest_once
from ingest.process_memory import tune_for_ingest


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ingest = commands.add_parser("ingest", help="copy new DLQ records into the DuckDB snapshot")
    ingest.add_argument(
        "--follow", type=float, metavar="SECONDS", help="keep running, ingesting every SECONDS"
    )
    ingest.add_argument(
        "--format",
        choices=["text", "json"],
        default="text",
        help="summary format (progress always goes to stderr)",
    )
    ingest.add_argument("--quiet", action="store_true", help="no progress lines")
    ingest.add_argument(
        "--metrics-port",
        type=PORT,
        metavar="PORT",
        help="with --follow: serve Prometheus metrics on this port (default: off)",
    )
    add_address_argument(ingest, "--metrics-address")
    ingest.set_defaults(run=run)


def report_progress(progress: Progress) -> None:
    err(
        f"ingest: {progress.records:,} records read ({progress.rate:,.0f}/s), "
        f"{progress.behind:,} behind"
    )


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    # This process only ingests, for as long as the backlog takes: see the module.
    tune_for_ingest()
    if args.follow is None:
        if args.metrics_port is not None:
            err("dlq ingest: --metrics-port needs --follow (a one-shot run ends at once)")
            return 2
        summary = _once(settings, args, None)
        _print_summary(summary, args.format)
        return 0
    if args.follow <= 0:
        err("dlq ingest: --follow needs a positive number of seconds")
        return 2
    if args.metrics_port is not None:
        serve(all_dlqs_settings(args), args.metrics_address, args.metrics_port)
    return _follow(settings, args)


def _once(
    settings: Settings, args: argparse.Namespace, stop: threading.Event | None
) -> IngestSummary:
    return ingest_once(
        settings,
        progress=None if args.quiet else report_progress,
        progress_every=2.0,
        stop=stop,
    )


def _print_summary(summary: IngestSummary, fmt: str) -> None:
    for warning in summary.warnings:
        err(f"warning: {warning}")
    if fmt == "json":
        print_json(summary.as_dict())
    else:
        print(summary.line())


def _follow(settings: Settings, args: argparse.Namespace) -> int:
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        err(f"ingest: {signal.Signals(signum).name} received, finishing the current batch")
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    while not stop.is_set():
        began = time.monotonic()
        try:
            _print_summary(_once(settings, args, stop), args.format)
        except (BrokerUnreachable, TopicMissing, DatabaseBusy, IngestError) as exc:
            # A follower outlives outages: say so and try again next interval.
            err(f"ingest: {exc}; retrying in {args.follow:g}s")
        stop.wait(max(0.0, args.follow - (time.monotonic() - began)))
    return 0

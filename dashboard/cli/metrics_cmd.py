"""`dlq metrics`: serve the DLQ's Prometheus metrics from the snapshot, for when the ingest
follower runs elsewhere (`dlq ingest --follow --metrics-port` serves them itself), or print
the alert rules for your settings."""

from __future__ import annotations

import argparse
import signal
import threading
from types import FrameType

from prometheus_client import start_http_server

from dashboard.cli.arguments import whole
from dashboard.cli.context import all_dlqs_settings
from dashboard.cli.output import err
from dashboard.exports.alert_rules import rules_yaml
from dashboard.exports.metrics import registry_for
from dashboard.settings import Settings

DEFAULT_PORT = 9464
DEFAULT_ADDRESS = "127.0.0.1"
# A TCP port to listen on: 0 would pick a random one, which nothing could scrape.
PORT = whole(1, 65_535)


class MetricsUnavailable(Exception):
    """The metrics server could not listen where it was told to."""


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    metrics = commands.add_parser(
        "metrics",
        help="serve Prometheus metrics read from the snapshot, or print the alert rules",
    )
    metrics.add_argument(
        "--port",
        type=PORT,
        default=DEFAULT_PORT,
        help=f"HTTP port (default {DEFAULT_PORT})",
    )
    add_address_argument(metrics, "--address")
    metrics.add_argument(
        "--rules",
        action="store_true",
        help="print the Prometheus alert rules for these settings and exit",
    )
    metrics.set_defaults(run=run)


def add_address_argument(parser: argparse.ArgumentParser, flag: str) -> None:
    parser.add_argument(
        flag,
        default=DEFAULT_ADDRESS,
        metavar="HOST",
        help=f"address the metrics server listens on (default {DEFAULT_ADDRESS}; "
        "0.0.0.0 in a container)",
    )


def serve(settings: Settings, address: str, port: int) -> None:
    """Serve /metrics in a background thread; every scrape reads the snapshot. A port that
    cannot be had (in use, not allowed, an address not of this host) is a MetricsUnavailable
    naming the address, not the socket library's bare words."""
    host = f"[{address}]" if ":" in address else address
    try:
        start_http_server(port, addr=address, registry=registry_for(settings))
    except OSError as exc:
        why = exc.strerror or str(exc)
        raise MetricsUnavailable(f"cannot serve metrics on {host}:{port}: {why}") from None
    err(f"metrics: http://{host}:{port}/metrics")


def run(args: argparse.Namespace) -> int:
    settings = all_dlqs_settings(args)  # every DLQ's metrics and rules
    if args.rules:
        print(rules_yaml(settings), end="")
        return 0
    serve(settings, args.address, args.port)
    stop = threading.Event()

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    stop.wait()
    return 0

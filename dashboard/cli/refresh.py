"""Commands that read the snapshot bring it up to date from Kafka first, within a time limit;
when Kafka cannot be read they go on with the snapshot as it was, and say so."""

from __future__ import annotations

import argparse

from dashboard.cli import arguments
from dashboard.cli.output import err
from dashboard.settings import Settings
from ingest.refresh import refresh_within


def add_refresh_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout",
        type=arguments.whole(0, 24 * 3_600_000),
        default=5000,
        help="milliseconds the refresh from Kafka may take (default: 5000)",
    )
    parser.add_argument(
        "--no-refresh",
        action="store_true",
        help="use the snapshot as it is, without reading Kafka first",
    )


def refresh_unless_asked_not_to(settings: Settings, args: argparse.Namespace) -> None:
    if not args.no_refresh:
        refresh(settings, args.timeout)


def refresh(settings: Settings, timeout_ms: int) -> None:
    """Incremental ingest bounded by `timeout_ms`; on failure the snapshot is used as is."""
    done = refresh_within(settings, timeout_ms / 1000)
    if done.summary is None:
        err(f"warning: could not refresh the snapshot ({done.failure}); showing it as it was")
    elif done.summary.behind:
        err(
            f"warning: the refresh stopped after {timeout_ms} ms, {done.summary.behind:,} records "
            "short of the end; raise --timeout or run `dlq ingest`"
        )

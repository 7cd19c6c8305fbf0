"""`dlq list`: the runbook's list, from the snapshot (refreshed first)."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from dashboard.adapters.db import Database, DatabaseBusy
from dashboard.adapters.kafka import BrokerUnreachable, KafkaGateway, TopicMissing
from dashboard.cli.context import settings_from
from dashboard.cli.output import err, print_json, printable, rule, table
from dashboard.settings import Settings
from dashboard.text.urls import mask_text, mask_url, shorten
from dashboard.triage.records import RecordRow, list_records, snapshot_info
from ingest.job import IngestError, ingest_once


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    listing = commands.add_parser("list", help="list unresolved DLQ records (runbook: list)")
    listing.add_argument(
        "--limit", type=int, default=100, help="maximum records to show (default: 100)"
    )
    listing.add_argument(
        "--timeout",
        type=int,
        default=5000,
        help="milliseconds the refresh from Kafka may take (default: 5000)",
    )
    listing.add_argument(
        "--no-refresh",
        action="store_true",
        help="show the snapshot as it is, without reading Kafka first",
    )
    listing.add_argument(
        "--all",
        action="store_true",
        help="every record of the snapshot: resolved, gone, unparseable too",
    )
    listing.add_argument("--newest", action="store_true", help="newest first")
    listing.add_argument("--format", choices=["table", "json"], default="table")
    listing.add_argument(
        "--show-secrets",
        action="store_true",
        help="show URL credentials (X-Amz-Signature, sig, ...) unmasked",
    )
    listing.set_defaults(run=run)


def refresh(settings: Settings, timeout_ms: int) -> None:
    """Incremental ingest bounded by `timeout_ms`; on failure the snapshot is used as is."""
    seconds = timeout_ms / 1000
    try:
        summary = ingest_once(
            settings,
            gateway=KafkaGateway(settings, timeout=min(seconds, 10.0)),
            deadline=time.monotonic() + seconds,
        )
    except (BrokerUnreachable, TopicMissing, DatabaseBusy, IngestError) as exc:
        err(f"warning: could not refresh the snapshot ({exc}); showing it as it was")
        return
    if summary.behind:
        err(
            f"warning: the refresh stopped after {timeout_ms} ms, {summary.behind:,} records "
            "short of the end; raise --timeout or run `dlq ingest`"
        )


def run(args: argparse.Namespace) -> int:
    if args.limit <= 0:
        err("dlq list: --limit must be positive")
        return 2
    settings = settings_from(args)
    if not args.no_refresh:
        refresh(settings, args.timeout)
    db = Database.of(settings)
    with db.read() as con:
        page = list_records(
            con,
            settings.dlq_topic,
            limit=args.limit,
            include_all=args.all,
            newest_first=args.newest,
        )
        info = snapshot_info(con, settings.dlq_topic)
    show: Callable[[str], str] = (lambda url: url) if args.show_secrets else mask_url
    if args.format == "json":
        items = []
        for record in page.records:
            item = record.as_dict()
            if record.attachment_url is not None:
                item["attachment_url"] = show(record.attachment_url)
            if record.error_message is not None and not args.show_secrets:
                item["error_message"] = mask_text(record.error_message)
            items.append(item)
        print_json(items)
    else:
        print(_render_table(page.records, page.total, args.all, show))
        if page.unparseable_hidden:
            print(
                f"(+ {page.unparseable_hidden:,} unparseable records not listed; "
                "`dlq list --all` shows them)"
            )
    if info.last_ingest_at is not None:
        err(f"snapshot of {settings.dlq_topic} as of {info.last_ingest_at:%Y-%m-%d %H:%M:%S} UTC")
    return 0


def _render_table(
    records: list[RecordRow], total: int, every: bool, show: Callable[[str], str]
) -> str:
    what = "records in the snapshot" if every else "unresolved"
    rows = [
        [
            str(r.partition),
            str(r.offset),
            shorten(printable(r.trace_id), 20),
            printable(r.retry_count),
            shorten(printable(r.error_category), 15),
            shorten(
                printable(show(r.attachment_url))
                if r.attachment_url
                else f"({r.parse_error or 'no URL'})",
                60,
            ),
        ]
        for r in records
    ]
    header = [
        rule(),
        f"DLQ Messages ({len(records):,} shown, {total:,} {what})",
        rule(),
        table(
            ["Part", "Offset", "Trace ID", "Retry Count", "Error Category", "URL"],
            [4, 8, 20, 12, 15],
            rows,
        ),
    ]
    return "\n".join(header)

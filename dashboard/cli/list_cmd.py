"""`dlq list`: the runbook's list, from the snapshot (refreshed first)."""

from __future__ import annotations

import argparse
import textwrap
from collections.abc import Callable
from datetime import UTC, datetime

from dashboard.adapters.db import Database
from dashboard.cli import arguments
from dashboard.cli.context import settings_from
from dashboard.cli.output import err, print_json, printable, rule, table
from dashboard.cli.refresh import add_refresh_options, refresh_unless_asked_not_to
from dashboard.settings import Settings
from dashboard.text.limits import CELL_CHARS
from dashboard.text.moments import short_age
from dashboard.text.urls import mask_text, mask_url, shorten
from dashboard.triage.records import RecordPage, RecordRow, list_records, snapshot_info
from dashboard.triage.states import (
    BACKLOG,
    RESOLVED,
    STATES,
    StateCounts,
    count_states,
    counts_line,
    help_text,
    lower_label,
)


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    listing = commands.add_parser(
        "list",
        help="list the backlog's records, with its count by state (runbook: list)",
        description="\n".join(
            [
                "The backlog (records in Kafka and not resolved), oldest first, headed by",
                "its count by state:",
                # One paragraph per state: each help text is sentences of its own.
                *(
                    textwrap.fill(
                        f"{lower_label(w)}: {help_text(w)}",
                        width=78,
                        initial_indent="  ",
                        subsequent_indent="    ",
                    )
                    for w in (BACKLOG, *STATES)
                ),
            ]
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    listing.add_argument(
        "--limit",
        type=arguments.whole(1),
        default=100,
        help="maximum records to show (default: 100)",
    )
    add_refresh_options(listing)
    listing.add_argument(
        "--all",
        action="store_true",
        help="every record of the snapshot: resolved, gone, unparseable too",
    )
    listing.add_argument("--newest", action="store_true", help="newest first")
    listing.add_argument("--format", choices=["table", "json"], default="table")
    listing.add_argument(
        "--all-dlqs", action="store_true", help="every configured DLQ in turn, not only --dlq"
    )
    listing.add_argument(
        "--show-secrets",
        action="store_true",
        help="show URL credentials (X-Amz-Signature, sig, ...) unmasked",
    )
    listing.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.limit <= 0:
        err("dlq list: --limit must be positive")
        return 2
    settings = settings_from(args)
    refresh_unless_asked_not_to(settings, args)
    if not args.all_dlqs:
        listing = _listing(settings, args)
        if args.format == "json":
            print_json(listing)
        return 0
    # Every DLQ in turn, in the configured order, each headed by its name.
    listings = []
    for dlq in settings.dlq_list:
        if args.format == "table":
            print(f"\n# {dlq.name} ({dlq.topic})")
        listings.append({"dlq": dlq.name, **_listing(settings.for_dlq(dlq.name), args)})
    if args.format == "json":
        print_json(listings)
    return 0


def _listing(settings: Settings, args: argparse.Namespace) -> dict[str, object]:
    """The list of one DLQ: printed as a table now, or returned for the JSON output."""
    with Database.of(settings).read() as con:
        page = list_records(
            con,
            settings.dlq_topic,
            limit=args.limit,
            include_all=args.all,
            newest_first=args.newest,
        )
        counts = count_states(con, settings.dlq_topic)
        info = snapshot_info(con, settings.dlq_topic)
    now = datetime.now(UTC)
    show: Callable[[str], str] = (lambda url: url) if args.show_secrets else mask_url
    error_text: Callable[[str], str] = (lambda text: text) if args.show_secrets else mask_text
    items = []
    if args.format == "json":
        for record in page.records:
            item = record.as_dict()
            item["age_seconds"] = _age(record, now)
            if record.attachment_url is not None:
                item["attachment_url"] = show(record.attachment_url)
            if record.error_message is not None:
                item["error_message"] = error_text(record.error_message)
            items.append(item)
    else:
        print(_render_table(page, counts, args.all, show, error_text, now))
        if page.unparseable_hidden:
            print(
                f"(+ {page.unparseable_hidden:,} unparseable records not listed; "
                "`dlq list --all` shows them)"
            )
    if info.last_ingest_at is not None:
        err(f"snapshot of {settings.dlq_topic} as of {info.last_ingest_at:%Y-%m-%d %H:%M:%S} UTC")
    return {
        "topic": settings.dlq_topic,
        "as_of": info.last_ingest_at,
        "counts": counts.as_dict(),
        "listed": "every record" if args.all else BACKLOG,
        "matching": page.total,
        "unparseable_not_listed": page.unparseable_hidden,
        "records": items,
    }


def _age(record: RecordRow, now: datetime) -> int | None:
    return None if record.timestamp is None else int((now - record.timestamp).total_seconds())


def _render_table(
    page: RecordPage,
    counts: StateCounts,
    every: bool,
    show: Callable[[str], str],
    error_text: Callable[[str], str],
    now: datetime,
) -> str:
    what = "records in the snapshot" if every else f"in the {BACKLOG}"
    rows = [
        [
            str(r.partition),
            str(r.offset),
            r.state_label,
            "-" if r.timestamp is None else short_age(now - r.timestamp),
            shorten(printable(r.trace_id), 20),
            printable(r.retry_count),
            shorten(printable(r.error_category), 12),
            shorten(
                printable(error_text(r.error_message[:CELL_CHARS])) if r.error_message else "-", 40
            ),
            shorten(
                printable(show(r.attachment_url[:CELL_CHARS]))
                if r.attachment_url
                else f"({r.parse_error or 'no URL'})",
                60,
            ),
        ]
        for r in page.records
    ]
    resolved = f"{lower_label(RESOLVED)} (still in Kafka) {counts.resolved:,}"
    header = [
        rule(),
        # With unparseable records left out, the total is of the readable ones (noted below).
        f"DLQ Messages ({len(page.records):,} shown of {page.total:,} "
        f"{'readable records ' if page.unparseable_hidden else ''}{what})",
        f"{counts_line(counts)}; {resolved}",
        rule(),
        table(
            ["Part", "Offset", "State", "Age", "Trace ID", "Retry", "Category", "Error", "URL"],
            [4, 8, 18, 10, 20, 5, 12, 40],
            rows,
        ),
    ]
    return "\n".join(header)

"""`dlq audit list|verify|resend`: read the audit trail, check its hash chain and its copies,
copy to the audit topic what it missed while Kafka was down."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dashboard.actions import audit, identity
from dashboard.actions.audit_resend import resend_missing
from dashboard.actions.audit_verify import verify_all
from dashboard.adapters.db import Database
from dashboard.cli import arguments
from dashboard.cli.context import MOMENT_HELP, settings_from
from dashboard.cli.output import err, print_json, printable, table
from dashboard.text.moments import argparse_moment, reversed_window


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("audit", help="read or verify the audit trail")
    verbs = parser.add_subparsers(dest="audit_action", required=True)
    listing = verbs.add_parser("list", help="audit entries, newest first")
    listing.add_argument("--actor", default="")
    listing.add_argument("--action", action="append", default=[], choices=audit.ACTIONS)
    listing.add_argument(
        "--since", type=argparse_moment(), help=f"logged at or after: {MOMENT_HELP}"
    )
    listing.add_argument(
        "--until",
        type=argparse_moment(as_upper_bound=True),
        help="logged before (a date: through it)",
    )
    listing.add_argument("--trace", default="")
    listing.add_argument("--bulk", default="", help="bulk id")
    listing.add_argument("--limit", type=arguments.whole(1), default=100)
    listing.add_argument("--format", choices=["table", "json", "csv"], default="table")
    listing.add_argument(
        "--all-dlqs",
        action="store_true",
        help="entries of every DLQ's records, not only --dlq's (entries of no record, such as "
        "a bulk action's summary, are shown either way)",
    )
    verify = verbs.add_parser(
        "verify",
        help="check the hash chain and that the database, the log file and the audit topic "
        "hold the same entries",
    )
    verify.add_argument("--file", help="the JSON-lines log to check (default: the setting)")
    resend = verbs.add_parser(
        "resend",
        help="copy to the audit topic the entries it lacks (Kafka was down when they were "
        "written) that the database and the log file hold alike; audited",
    )
    resend.add_argument("--reason", required=True, help="why (a ticket or a note); audited")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    db = Database.of(settings)
    if args.audit_action == "resend":
        resent = resend_missing(settings, identity.resolve(settings), args.reason)
        if not resent.ids:
            print("the audit topic lacks no entry: nothing to resend")
            return 0
        ids = resent.ids
        named = f"entry {ids[0]}" if len(ids) == 1 else f"{len(ids)} entries ({ids[0]}-{ids[-1]})"
        for line in resent.missing:
            err(f"dlq: {line}")
        if resent.missing:
            return 1
        print(f"resent {named} to the audit topic {settings.audit_topic_name}")
        return 0
    if args.audit_action == "verify":
        path = None if args.file is None else Path(args.file)
        if path is not None and not path.exists():
            err(f"no log file at {path}")
            return 1
        check = verify_all(settings, path)
        for line in check.lines:
            print(printable(line))
        return 0 if check.ok else 1

    if (why := reversed_window(args.since, args.until)) is not None:
        err(f"dlq audit list: refused. {why}: no entry can match.")
        return 2
    flt = audit.AuditFilter(
        actor=args.actor,
        actions=tuple(args.action),
        since=args.since,
        until=args.until,
        trace_id=args.trace,
        bulk_id=args.bulk,
        topics=() if args.all_dlqs else (settings.dlq_topic,),
    )
    with db.read() as con:
        entries = audit.query(con, flt, args.limit)
    if args.format == "json":
        print_json([e.as_json() for e in entries])
    elif args.format == "csv":
        sys.stdout.write(audit.to_csv(entries))
    else:
        rows = [
            [
                str(e.audit_id),
                f"{e.logged_at:%Y-%m-%d %H:%M:%S}",
                printable(e.actor),
                e.action,
                e.result,
                printable(f"{e.topic}:{e.partition}:{e.offset}" if e.topic else "-"),
                printable(e.error or e.reason or ""),
            ]
            for e in entries
        ]
        print(
            table(
                ["Id", "At (UTC)", "Actor", "Action", "Result", "Record", "Reason/error"],
                [6, 19, 12, 19, 8, 28],
                rows,
            )
        )
    return 0

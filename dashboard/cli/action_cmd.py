"""`dlq replay` and `dlq resolve`: the runbook's commands, with the dashboard's guards.

Records are named exactly (topic:partition:offset), by trace id (one that matches several
records acts on none and lists them), or selected with the Messages page's filters. Every
action needs a reason; it is previewed, then confirmed interactively or with --yes (over
`actions.confirm_count_above` records, --yes also needs --count N, the number of records).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType

from dashboard.actions import identity
from dashboard.actions.interrupted import settle_before_preview
from dashboard.actions.preview import (
    count_confirmed,
    count_to_confirm,
    preview,
    replay_destination,
)
from dashboard.actions.review_offsets import sync_review_group
from dashboard.actions.run import execute
from dashboard.actions.selection import find, matching, ready_to_resolve
from dashboard.actions.values import ItemResult, Preview, Progress, RecordRef, Report, Request
from dashboard.adapters.db import Database
from dashboard.cli import arguments
from dashboard.cli.context import settings_from
from dashboard.cli.output import err, print_json, printable
from dashboard.cli.refresh import add_refresh_options, refresh_unless_asked_not_to
from dashboard.settings import Settings
from dashboard.triage.filters import RecordFilter

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    replay = commands.add_parser(
        "replay", help="send records' original tasks back to the pending topic (runbook: replay)"
    )
    _common(replay)
    replay.add_argument("--new-url", help="replay one record with this URL instead (pattern 1)")
    replay.add_argument("--new-file-type", help="with --new-url: a different file_type")
    replay.add_argument("--new-blob-path", help="with --new-url: a different blob_path")
    replay.add_argument(
        "--override", action="store_true", help="replay records already replayed or resolved"
    )
    replay.set_defaults(run=run, action="replay")

    resolve = commands.add_parser(
        "resolve",
        help="mark records resolved; commits the review group's offset where "
        "contiguous (runbook: resolve)",
    )
    _common(resolve)
    resolve.add_argument(
        "--ready",
        action="store_true",
        help="every record whose replay the results topic reports succeeded",
    )
    resolve.add_argument(
        "--sync-offsets",
        action="store_true",
        help="only move the review group's offsets as far as resolved "
        "records allow (after a failed commit)",
    )
    resolve.set_defaults(run=run, action="resolve", override=False)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("records", nargs="*", help="trace ids or topic:partition:offset")
    parser.add_argument("--reason", default="", help="ticket or note (required)")
    parser.add_argument("--yes", action="store_true", help="skip the interactive confirmation")
    parser.add_argument(
        "--count",
        type=arguments.whole(0),
        help="the number of records expected: refused if the selection holds another "
        "(with --yes, needed over actions.confirm_count_above)",
    )
    parser.add_argument("--dry-run", action="store_true", help="check and audit, change nothing")
    parser.add_argument(
        "--rate",
        type=arguments.rate,
        help="records per second (default: the actions.max_records_per_second "
        "setting); 0 = unthrottled",
    )
    add_refresh_options(parser)
    parser.add_argument("--format", choices=["text", "json"], default="text")
    RecordFilter.add_arguments(parser.add_argument_group("bulk filters (the Messages page's)"))


def run(args: argparse.Namespace) -> int:
    if arguments.malformed_refs(args.action, args.records):
        return EXIT_USAGE
    flt = RecordFilter.from_args(args)
    if (contradiction := flt.contradiction()) is not None:
        # Refused, not "nothing to do": the bounds were most likely given the wrong way round.
        err(f"dlq {args.action}: refused. {contradiction}: no record can match.")
        return EXIT_USAGE
    settings = settings_from(args)
    who = identity.resolve(settings)
    if not who.can_act:
        err(f"dlq {args.action}: refused. {who.why_not}")
        return EXIT_REFUSED
    if args.action == "resolve" and args.sync_offsets:
        moved = sync_review_group(settings)
        err(
            "review group offsets: "
            + (", ".join(f"p{p}->{o}" for p, o in moved.items()) or "nothing to move")
        )
        return EXIT_OK
    if not args.reason.strip():
        err(f"dlq {args.action}: refused. --reason is required (a ticket or a note)")
        return EXIT_REFUSED
    refresh_unless_asked_not_to(settings, args)

    selection, refs = _select(settings, args, flt)
    if refs is None:
        return EXIT_REFUSED
    rate = settings.actions.max_records_per_second if args.rate is None else (args.rate or None)
    request = Request(
        action=args.action,
        refs=refs,
        identity=who,
        reason=args.reason,
        override=args.override,
        dry_run=args.dry_run,
        rate=rate,
        new_url=getattr(args, "new_url", None),
        new_file_type=getattr(args, "new_file_type", None),
        new_blob_path=getattr(args, "new_blob_path", None),
        selection=selection,
    )
    for missing in settle_before_preview(settings):
        err(f"settling an interrupted action: {missing}")
    with Database.of(settings).read() as con:
        plan = preview(con, args.action, refs, request.override, settings)
    _print_preview(settings, plan, request)
    if args.count is not None and args.count != plan.eligible:
        # A count stated is checked whatever the size (a dry run's too): the selection is
        # not what whoever wrote the command expected.
        err(
            f"refused: --count {args.count:,} given, but {plan.eligible:,} "
            f"record{'s' if plan.eligible != 1 else ''} would be acted on; nothing was changed"
        )
        return EXIT_REFUSED
    if plan.eligible == 0:
        err("nothing to do")
        if args.format == "json":
            # A script reads the same report whether or not anything was left to do.
            _print_report(_nothing_done(request, plan), args.format)
        return EXIT_REFUSED if plan.refused else EXIT_OK
    if not args.dry_run and not _confirmed(settings, args, plan):
        return EXIT_REFUSED

    cancel = threading.Event()
    previous = signal.signal(signal.SIGINT, _cancel_on(cancel))
    try:
        report = execute(
            settings, request, cancel=cancel, progress=_progress if len(refs) > 1 else None
        )
    finally:
        signal.signal(signal.SIGINT, previous)
    _print_report(report, args.format)
    clean = not report.error and report.count("failure") == 0 and report.count("refused") == 0
    return EXIT_OK if clean and not report.cancelled and not report.commit_error else EXIT_REFUSED


def _select(
    settings: Settings, args: argparse.Namespace, flt: RecordFilter
) -> tuple[str | None, list[RecordRef] | None]:
    with Database.of(settings).read() as con:
        if getattr(args, "ready", False):
            return "replay succeeded, ready to resolve", ready_to_resolve(con, settings.dlq_topic)
        if args.records and not flt.is_empty():
            err("name records or give filters, not both")
            return None, None
        if not args.records:
            if flt.is_empty():
                err("name the records (trace ids or topic:partition:offset) or give filters")
                return None, None
            return flt.describe(), matching(con, settings.dlq_topic, flt)
        found = find(con, settings.dlq_topic, args.records)
    if found.unknown:
        err("not in the snapshot: " + ", ".join(printable(n) for n in found.unknown))
    for ambiguous in found.ambiguous:
        err(
            f"trace id {printable(ambiguous.name)} matches {len(ambiguous.refs)} records and "
            "acts on none of them; name one:"
        )
        for line in ambiguous.lines():
            err(f"  {printable(line)}")
    if found.unknown or found.ambiguous:
        return None, None
    return None, found.refs


def _print_preview(settings: Settings, plan: Preview, request: Request) -> None:
    verb = "Replay" if request.action == "replay" else "Resolve"
    target = (
        f" {replay_destination(settings, plan.origins)}"
        if request.action == "replay"
        else f" (review group {settings.review_group})"
    )
    dry = " (dry run)" if request.dry_run else ""
    err(
        f"{verb} {plan.eligible:,} record{'s' if plan.eligible != 1 else ''}{target}{dry}, "
        f"reason: {printable(request.reason)}"
    )
    if request.new_url:
        err(f"  with the new URL {printable(request.new_url)}")
    if request.rate:
        err(f"  at most {request.rate:g} records/s")
    for title, groups in (
        ("category", plan.by_category),
        ("signature", plan.by_signature),
        ("domain", plan.by_domain),
    ):
        if plan.eligible > 1 and groups:
            err(f"  by {title}: " + "; ".join(f"{printable(k)} ({n})" for k, n in groups[:5]))
    for sample in plan.samples[:5]:
        err(
            f"  e.g. {sample.ref}  {printable(sample.trace_id)}  {printable(sample.error_category)}"
        )
    if plan.refused:
        err(f"  refused {len(plan.refused):,}:")
        for ref, why in plan.refused[:10]:
            err(f"    {ref}: {why}")


def _confirmed(settings: Settings, args: argparse.Namespace, plan: Preview) -> bool:
    if args.yes:
        if not count_confirmed(settings, plan, args.count):
            err(
                f"refused: {plan.eligible:,} records is over "
                f"{settings.actions.confirm_count_above}; with --yes also pass "
                f"--count {plan.eligible} to confirm the number"
            )
            return False
        return True
    if not sys.stdin.isatty():
        err("refused: confirmation needed; run interactively or pass --yes")
        return False
    expected = count_to_confirm(settings, plan)
    if expected is not None:
        answer = input(f"Type the number of records ({expected}) to confirm: ")
        return count_confirmed(settings, plan, answer)
    return input("Proceed? [y/N] ").strip().lower() in ("y", "yes")


def _cancel_on(cancel: threading.Event) -> Callable[[int, FrameType | None], None]:
    def handler(_signum: int, _frame: FrameType | None) -> None:
        err("cancelling: finishing what is in flight, recording what was done")
        cancel.set()

    return handler


def _progress(progress: Progress) -> None:
    err(
        f"{progress.done:,}/{progress.total:,} done: {progress.succeeded:,} {progress.word}, "
        f"{progress.failed:,} failed, {progress.refused:,} refused"
    )


def _nothing_done(request: Request, plan: Preview) -> Report:
    """The report of a request the preview left nothing to do: every record refused, why."""
    refused = [ItemResult(ref, None, "refused", error=why) for ref, why in plan.refused]
    return Report(request, bulk_id=None, results=refused)


def _print_report(report: Report, fmt: str) -> None:
    if fmt == "json":
        print_json(
            {
                "bulk_id": report.bulk_id,
                "summary": report.summary(),
                "cancelled": report.cancelled,
                "committed": report.committed,
                "commit_error": report.commit_error,
                "error": report.error,
                "results": [
                    {
                        "record": str(r.ref),
                        "trace_id": r.trace_id,
                        "result": r.result,
                        "error": r.error,
                        **{k: v for k, v in r.detail.items() if k != "task"},
                    }
                    for r in report.results
                ],
            }
        )
        return
    for r in report.results:
        if r.result in ("failure", "refused"):
            err(f"  {r.ref}: {r.result}: {r.error}")
    print(report.summary())

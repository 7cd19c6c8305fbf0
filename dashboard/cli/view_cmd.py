"""`dlq view`: one record, as the runbook's `view` shows it."""

from __future__ import annotations

import argparse

from dashboard.actions import identity
from dashboard.actions.audit_entries import audit_look
from dashboard.actions.selection import find
from dashboard.adapters.db import Database
from dashboard.cli import arguments
from dashboard.cli.context import settings_from
from dashboard.cli.output import err, print_json, printable
from dashboard.cli.refresh import add_refresh_options, refresh_unless_asked_not_to
from dashboard.text.limits import FIELD_CHARS
from dashboard.triage import views
from dashboard.triage.messages import record_detail

EXIT_REFUSED = 1


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    view = commands.add_parser("view", help="show one DLQ record in full (runbook: view)")
    view.add_argument("record", help="trace id, or topic:partition:offset")
    add_refresh_options(view)
    view.add_argument("--format", choices=["text", "json"], default="text")
    view.add_argument("--show-secrets", action="store_true", help="URL credentials unmasked")
    view.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if arguments.malformed_refs("view", [args.record]):
        return 2
    settings = settings_from(args)
    refresh_unless_asked_not_to(settings, args)
    with Database.of(settings).read() as con:
        found = find(con, settings.dlq_topic, [args.record])
        if found.ambiguous:
            choice = found.ambiguous[0]
            err(
                f"trace id {choice.name} matches {len(choice.refs)} records; name one as "
                "topic:partition:offset:"
            )
            for line in choice.lines():
                err(f"  {printable(line)}")
            return EXIT_REFUSED
        if not found.refs:
            err(f"no record {args.record} in the snapshot of {settings.dlq_topic}")
            return EXIT_REFUSED
        ref = found.refs[0]
        detail = record_detail(con, ref.topic, ref.partition, ref.offset)
    assert detail is not None
    who = identity.resolve(settings)
    for missing in audit_look(settings, who, "view", ref, detail.columns.get("trace_id")):
        err(f"this view is not fully audited: {missing}")
    # JSON is for programs: every field whole. Text is for a terminal: each field cut.
    limit = None if args.format == "json" else FIELD_CHARS
    sections = views.view_sections(detail, args.show_secrets, limit)
    raw = views.raw_value(detail, args.show_secrets, limit)
    if args.format == "json":
        print_json(
            {
                "record": str(ref),
                "sections": {s.title: dict(s.rows) for s in sections},
                "history": [h.coordinates for h in detail.history],
                "value": raw,
            }
        )
        return 0
    print(f"DLQ record {printable(str(ref))}")
    for section in sections:
        print(f"\n{section.title}:")
        for label, value in section.rows:
            print(f"  {label + ':':<20} {printable(value)}")
    if detail.history:
        print(f"\nHistory: {len(detail.history)} other record(s) with this trace id")
        for h in detail.history:
            print(
                f"  {h.coordinates}  {h.timestamp:%Y-%m-%d %H:%M:%S} UTC  {h.state}"
                if h.timestamp
                else f"  {h.coordinates}  {h.state}"
            )
    print("\nRaw value:")
    print(printable(raw))
    if detail.value_text is not None and len(detail.value_text) > FIELD_CHARS:
        print(f"(the whole value: dlq view {printable(str(ref))} --format json)")
    return 0

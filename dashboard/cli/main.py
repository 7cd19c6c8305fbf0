"""`dlq`: entry point. Exit codes: 0 done, 1 refused or failed, 2 usage or bad settings."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from dashboard.actions.values import Refused
from dashboard.adapters.db import (
    DatabaseBusy,
    DatabaseError,
    SnapshotMissing,
    SnapshotUnreadable,
    first_line,
)
from dashboard.adapters.kafka import (
    LIBRDKAFKA_LOGGER,
    BrokerUnreachable,
    KafkaException,
    RepeatFilter,
    TopicMissing,
)
from dashboard.cli import (
    action_cmd,
    arguments,
    audit_cmd,
    broker_cmd,
    demo_cmd,
    dlqs_cmd,
    ingest_cmd,
    list_cmd,
    metrics_cmd,
    report_cmd,
    view_cmd,
)
from dashboard.cli.output import err
from dashboard.devtools.broker.launcher import BrokerError
from dashboard.settings import SettingsError
from ingest.job import IngestError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = arguments.Parser(
        prog="dlq",
        description="Triage the download pipeline's Kafka dead-letter queue.",
    )
    parser.add_argument(
        "--config",
        type=Path,
        metavar="PATH",
        help="settings file (default: $DLQ_CONFIG, else ./dlq.toml when present)",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="also show the Kafka client's own log lines"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (broker_cmd, demo_cmd, dlqs_cmd, ingest_cmd, list_cmd, metrics_cmd, view_cmd):
        module.add_parser(commands)
    action_cmd.add_parsers(commands)
    audit_cmd.add_parser(commands)
    report_cmd.add_parser(commands)
    _add_dlq_option(parser, top=True)
    return parser


def _add_dlq_option(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """`--dlq NAME` before or after any command (`dlq --dlq x list`, `dlq list --dlq x`)."""
    parser.add_argument(
        "--dlq",
        metavar="NAME",
        # Only the top level sets the default: a command's own --dlq, when given, wins.
        default=None if top else argparse.SUPPRESS,
        help="the DLQ to work on, by its name in the settings (default: the first)",
    )
    for action in parser._actions:  # argparse keeps its sub-parsers only here
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _add_dlq_option(sub, top=False)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        # argparse would print the top-level usage; the command's own usage says what it takes.
        _command_parser(parser, args).error(f"unrecognized arguments: {' '.join(unknown)}")
    command = _command_parser(parser, args)
    if (name := arguments.undecodable(command, args)) is not None:
        err(f"{command.prog}: {name} is not valid UTF-8 text; nothing was done")
        return EXIT_USAGE
    _configure_logging(args.verbose)
    try:
        code: int = args.run(args)
    except SettingsError as exc:
        err(f"dlq: bad setting: {exc}")
        return EXIT_USAGE
    except Refused as exc:
        err(f"dlq: refused. {exc}")
        return EXIT_FAILED
    except (
        BrokerUnreachable,
        TopicMissing,
        SnapshotMissing,
        SnapshotUnreadable,
        DatabaseBusy,
        BrokerError,
        IngestError,
        KafkaException,
        metrics_cmd.MetricsUnavailable,
    ) as exc:
        err(f"dlq: {exc}")
        return EXIT_FAILED
    except DatabaseError as exc:
        # Nothing was changed: the write's transaction was rolled back.
        err(f"dlq: the snapshot could not be read or written, nothing changed: {first_line(exc)}")
        return EXIT_FAILED
    except KeyboardInterrupt:
        err("dlq: interrupted")
        return 130
    except BrokenPipeError:
        # The reader went away (`dlq view ... | head`): stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        err(f"dlq: {exc.strerror or first_line(exc)}{where}")
        return EXIT_FAILED
    return code


def _command_parser(
    parser: argparse.ArgumentParser, args: argparse.Namespace
) -> argparse.ArgumentParser:
    """The innermost sub-command's parser that `args` went through (`dlq audit list`: list's)."""
    while True:
        chosen = None
        for action in parser._actions:  # argparse keeps its sub-parsers only here
            if isinstance(action, argparse._SubParsersAction) and action.dest:
                chosen = action.choices.get(getattr(args, action.dest, None) or "")
        if chosen is None:
            return parser
        parser = chosen


def _configure_logging(verbose: bool) -> None:
    # Failures reach the operator as one clear line from the command itself; librdkafka's
    # connection retries ("Connect to ipv4#... failed") only show with --verbose.
    logging.basicConfig(format="%(name)s: %(message)s", level=logging.WARNING)
    LIBRDKAFKA_LOGGER.setLevel(logging.DEBUG if verbose else logging.CRITICAL + 1)
    if verbose:  # every line asked for, repeats too
        for repeats in [f for f in LIBRDKAFKA_LOGGER.filters if isinstance(f, RepeatFilter)]:
            LIBRDKAFKA_LOGGER.removeFilter(repeats)


if __name__ == "__main__":
    sys.exit(main())

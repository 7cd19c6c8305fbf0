"""Option values checked where they are read, so a bad one is one line and exit 2 (never a
traceback from deep inside a query, a date or a file write)."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import NoReturn

from dashboard.actions.values import RecordRef

INT64_MAX = 2**63 - 1
# A period of days must still be a date when counted back from now.
MAX_DAYS = 36_500


class Parser(argparse.ArgumentParser):
    """argparse, but a bad option value is one line naming it (no usage block): the usage
    stays for unknown options and missing arguments, where it is what helps."""

    def error(self, message: str) -> NoReturn:
        if message.startswith("argument ") and ("invalid" in message or ": must" in message):
            self.exit(2, f"{self.prog}: {message}\n")
        super().error(message)


def whole(low: int, high: int = INT64_MAX) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, not {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low:,} to {high:,}, not {text}")
        return value

    parse.__name__ = "whole number"
    return parse


def rate(text: str) -> float:
    """Records per second: a finite number, 0 or more (0: unthrottled)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, not {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number, 0 or more, not {text}")
    return value


def output_file(text: str) -> Path:
    """A file to write: not a folder, in a folder that exists."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"must be a file, and {text} is a folder")
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"must be in a folder that exists ({path.parent})")
    return path


def malformed_refs(command: str, names: Iterable[str]) -> bool:
    """Say so (and return True) when a name is empty, or looks like topic:partition:offset
    but is not one (trace ids hold no colon; partitions and offsets are whole numbers, 0 or
    more)."""
    bad = [n for n in names if not n.strip() or (":" in n and RecordRef.parse(n) is None)]
    for name in bad:
        if not name.strip():
            print(
                f"dlq {command}: an empty record name: give a trace id or topic:partition:offset",
                file=sys.stderr,
            )
            continue
        print(
            f"dlq {command}: {name!r} is not topic:partition:offset "
            "(a partition and an offset are whole numbers, 0 or more, as Kafka has them: "
            f"a partition below {2**31:,}, an offset below {2**63:,})",
            file=sys.stderr,
        )
    return bool(bad)


def undecodable(parser: argparse.ArgumentParser, args: argparse.Namespace) -> str | None:
    """The first option (or argument) whose text is not UTF-8, named as it was given, or
    None. Python hands such bytes over as lone surrogates, which no query, audit entry or
    Kafka header can take: refused before anything is read or sent, never part-way through
    an action (a replay sent, then its audit failing)."""
    names = {
        action.dest: (
            action.option_strings[0] if action.option_strings else f"the {action.dest} argument"
        )
        for action in parser._actions
    }
    for dest, value in vars(args).items():
        texts = value if isinstance(value, list | tuple) else [value]
        for text in texts:
            if isinstance(text, str) and not _is_utf8(text):
                return names.get(dest, dest)
    return None


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True

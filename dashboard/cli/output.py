"""Terminal output: tables, JSON, and text that is safe to print.

Record content is untrusted. A DLQ value can hold terminal escape sequences, so every string
that came from a record goes through `printable()` before it reaches the terminal.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, TextIO

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(value: object) -> str:
    """`value` as one line of text with control characters shown as \\xNN."""
    if value is None:
        return "-"
    text = str(value).replace("\n", "\\n").replace("\t", " ")
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}", text)


def json_default(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="backslashreplace")
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def print_json(data: Any, out: TextIO | None = None) -> None:
    # ensure_ascii keeps escape characters from record content escaped in the output too.
    json.dump(data, out or sys.stdout, default=json_default, indent=2, ensure_ascii=True)
    (out or sys.stdout).write("\n")


def table(headers: Sequence[str], widths: Sequence[int], rows: Sequence[Sequence[str]]) -> str:
    """Fixed-width columns as in the runbook's `list` output; the last column is free."""

    def line(cells: Sequence[str]) -> str:
        parts = [cell.ljust(width) for cell, width in zip(cells[:-1], widths, strict=False)]
        return " ".join([*parts, cells[-1]]).rstrip()

    return "\n".join([line(headers), "-" * 80, *(line(r) for r in rows)])


def rule(char: str = "=") -> str:
    return char * 80


def err(message: str) -> None:
    print(message, file=sys.stderr, flush=True)

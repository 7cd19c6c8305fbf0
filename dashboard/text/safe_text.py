"""Record content is untrusted: ways to put it into markdown, CSV and HTML as plain text."""

from __future__ import annotations

import html
import re
from datetime import datetime
from typing import Final

_MARKDOWN_SPECIAL: Final = frozenset("\\`*_{}[]()#+-.!|<>~$:&\"'=")
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")


def markdown_text(text: str) -> str:
    """`text` for a place that renders markdown (a report, a Streamlit label): every markdown
    and Streamlit directive character escaped and line breaks flattened, so it can only ever
    show as the text it is."""
    flat = text.replace("\r", " ").replace("\n", " ")
    return "".join("\\" + c if c in _MARKDOWN_SPECIAL else c for c in flat)


# Inline markup that can start anywhere in a line: code, HTML and autolinks, links and images
# (their "(" only counts after "]"), table cells, strikethrough.
_INLINE_MARKUP: Final = frozenset("`<[]|~")
_ASCII_PUNCTUATION: Final = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
# A line that starts like this is a heading, quote, list item or rule.
_BLOCK_START: Final = re.compile(r"^(?:#{1,6}(?=\s|$)|>|[-+*](?=\s|$))|^(\d{1,9})(?=[.)](?:\s|$))")


def markdown_inline(text: str) -> str:
    """`text` for a Markdown document read by people too, and pasted into chats: only what
    would render as markup is escaped (links, images, HTML, code, emphasis, table cells, a
    block marker at its start), so "evt_abc_1 (404)" stays as it is."""
    flat = text.replace("\r", " ").replace("\n", " ")
    out: list[str] = []
    for i, c in enumerate(flat):
        before = flat[i - 1] if i else " "
        after = flat[i + 1] if i + 1 < len(flat) else " "
        if c in _INLINE_MARKUP or (c == "\\" and after in _ASCII_PUNCTUATION):
            out.append("\\" + c)
        elif c == "*" and not (before.isspace() and after.isspace()):
            out.append("\\*")  # "*" opens or closes emphasis, even inside a word
        elif c == "_" and not (before.isalnum() and after.isalnum()):
            out.append("\\_")  # "_" inside a word never does (snake_case stays readable)
        else:
            out.append(c)
    escaped = "".join(out)
    # A list number keeps its digits and escapes its "." or ")"; other markers are escaped.
    return _BLOCK_START.sub(
        lambda m: m.group(0) + "\\" if m.group(1) else "\\" + m.group(0), escaped, count=1
    )


_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def csv_cell(value: object) -> str:
    """A CSV cell that a spreadsheet will not run as a formula (leading = + - @ tab CR) and
    a terminal will not obey: control characters (escape sequences, line breaks) are shown
    as \\xNN, as the table and JSON formats show them."""
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    text = "'" + text if text.startswith(_FORMULA_START) else text
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}", text)


def html_text(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)

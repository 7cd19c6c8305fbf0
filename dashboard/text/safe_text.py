"""Record content is untrusted: ways to put it into markdown, CSV and HTML as plain text."""

from __future__ import annotations

import html
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


_MARKUP: Final = frozenset("\\`*_[]()<>!|#~")


def markdown_inline(text: str) -> str:
    """`text` for a Markdown document read by people too: only the characters that could make
    markup (links, images, HTML, emphasis, code, table cells) are escaped."""
    flat = text.replace("\r", " ").replace("\n", " ")
    return "".join("\\" + c if c in _MARKUP else c for c in flat)


def csv_cell(value: object) -> str:
    """A CSV cell that a spreadsheet will not run as a formula (leading = + - @ tab CR)."""
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def html_text(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)

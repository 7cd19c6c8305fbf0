"""How much of one field is rendered. A record can hold megabytes of text; a page, a table
cell or a terminal shows a bounded part of each field, saying how much it left out (the whole
value stays downloadable on the record's page and complete in `dlq view --format json`).

Cutting before masking is safe: a cut can only remove a credential's end, never the name in
front of the part that is kept, so what is kept is masked as the whole would be."""

from __future__ import annotations

from typing import Final

FIELD_CHARS: Final = 10_000  # one field of a record's page or `dlq view`
CELL_CHARS: Final = 1_000  # one cell of a table of records


def capped(text: str, limit: int | None) -> str:
    """`text` cut to `limit` characters (None: whole), saying how many were left out."""
    if limit is None or len(text) <= limit:
        return text
    return f"{text[:limit]} … [{len(text) - limit:,} more characters not shown]"

"""The parse's SQL macros (macros.sql) written into the queries that call them.

DuckDB plans a prepared statement once and runs it again without binding it anew only while
the statement reads no catalog entry; a temporary macro is one, and so is a registered view
(`ingest.parse.BatchParser`). So the parse's queries are run with every macro call replaced
by the macro's body, its parameters by the call's arguments: what DuckDB itself does when it
binds a macro, done once, in text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

# One token of SQL text: a string constant, a quoted name, a comment, a name, a space, or any
# other character.
_TOKEN = re.compile(
    r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|[A-Za-z_][A-Za-z0-9_]*|\s+|.""", re.S
)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DEFINITION = re.compile(
    r"CREATE OR REPLACE TEMP MACRO (\w+)\(([^)]*)\) AS(.*)", re.S | re.IGNORECASE
)
_OPENING = {"(": ")", "[": "]", "{": "}"}


@dataclass(frozen=True)
class Macro:
    parameters: tuple[str, ...]
    body: tuple[str, ...]  # tokens, comments dropped


def tokens(text: str) -> list[str]:
    found = _TOKEN.findall(text)
    if "".join(found) != text:
        raise ValueError("SQL text the macro expansion cannot read (an unclosed quote?)")
    return found


def macros_of(text: str) -> dict[str, Macro]:
    """The macros a script of CREATE OR REPLACE TEMP MACRO statements defines, by name."""
    found: dict[str, Macro] = {}
    for statement in _statements(tokens(text)):
        source = "".join(token for token in statement if not token.startswith("--")).strip()
        if not source:
            continue
        match = _DEFINITION.fullmatch(source)
        if match is None:
            raise ValueError(f"not a macro definition: {source[:80]!r}")
        name, parameters, body = match.groups()
        found[name.lower()] = Macro(
            tuple(p.strip() for p in parameters.split(",") if p.strip()),
            tuple(t for t in tokens(body.strip()) if not t.startswith("--")),
        )
    return found


def expanded(text: str, macros: Mapping[str, Macro]) -> str:
    """`text` with every call of one of `macros` replaced by its body, recursively."""
    return "".join(_expand(tokens(text), macros, depth=0))


def _statements(items: list[str]) -> Iterator[list[str]]:
    current: list[str] = []
    for item in items:
        if item == ";":
            yield current
            current = []
        else:
            current.append(item)
    yield current


def _expand(items: list[str], macros: Mapping[str, Macro], depth: int) -> list[str]:
    if depth > 20:
        raise ValueError("macros call each other without end")
    out: list[str] = []
    i = 0
    while i < len(items):
        token = items[i]
        macro = macros.get(token.lower()) if _NAME.fullmatch(token) else None
        opening = _next_code(items, i + 1)
        # A call: the name, then an opening parenthesis; not a qualified name's last part.
        if macro is None or opening is None or items[opening] != "(" or _after_dot(out):
            out.append(token)
            i += 1
            continue
        arguments, i = _arguments(items, opening)
        if len(arguments) != len(macro.parameters):
            raise ValueError(f"{token} takes {len(macro.parameters)} arguments")
        given = {
            name.lower(): ["(", *_expand(argument, macros, depth), ")"]
            for name, argument in zip(macro.parameters, arguments, strict=True)
        }
        body: list[str] = ["("]
        for part in macro.body:
            body += given.get(part.lower(), [part]) if _NAME.fullmatch(part) else [part]
        out += _expand([*body, ")"], macros, depth + 1)
    return out


def _next_code(items: list[str], start: int) -> int | None:
    for j in range(start, len(items)):
        if not items[j].isspace() and not items[j].startswith("--"):
            return j
    return None


def _after_dot(out: list[str]) -> bool:
    for item in reversed(out):
        if not item.isspace():
            return item == "."
    return False


def _arguments(items: list[str], opening: int) -> tuple[list[list[str]], int]:
    """The arguments of the call whose parenthesis opens at `opening` (tokens each, split at
    the commas outside any bracket), and the index after its closing parenthesis."""
    arguments: list[list[str]] = [[]]
    closing: list[str] = [")"]
    i = opening + 1
    while i < len(items):
        item = items[i]
        if item in _OPENING:
            closing.append(_OPENING[item])
        elif item == closing[-1]:
            closing.pop()
            if not closing:
                return ([] if arguments == [[]] else arguments), i + 1
        elif item == "," and len(closing) == 1:
            arguments.append([])
            i += 1
            continue
        arguments[-1].append(item)
        i += 1
    raise ValueError("a macro call without its closing parenthesis")

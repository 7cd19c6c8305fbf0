"""The runbook's wording as data: `runbook.toml` beside this module, or a team's own copy
named by DLQ_RUNBOOK. Checked when loaded; a wrong file stops the program with one line
naming the file and the key.

Only texts live in the file. What finds the records (the text rules and the burst scan in
`dashboard.triage.patterns`) stays in code, so the file must name exactly the patterns the
code knows.
"""

from __future__ import annotations

import os
import string
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Final

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

SHIPPED: Final = Path(__file__).with_name("runbook.toml")
ENVIRONMENT_VARIABLE: Final = "DLQ_RUNBOOK"

# The patterns the code recognises (text rules for 1-4, the burst scan for 5).
PATTERN_KEYS: Final = (
    "expired_url",
    "file_type",
    "network_timeout",
    "onelake_upload",
    "systematic",
)

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class RunbookError(ValueError):
    """The runbook file cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class RunbookPattern:
    key: str
    number: int
    short: str
    title: str
    symptoms: str
    root_cause: str
    resolution: tuple[str, ...]
    prevention: tuple[str, ...]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class _PatternEntry(_Strict):
    key: str
    number: int = Field(ge=1)
    short: Text
    title: Text
    symptoms: Text
    root_cause: Text
    resolution: list[Text] = Field(min_length=1)
    prevention: list[Text] = Field(min_length=1)


class EscalationTexts(_Strict):
    """The criteria's titles ("Escalate to L3 Engineering if"), in the runbook's order."""

    growth: Text  # {limit}: [escalation] growth_above_per_min
    same_error: Text  # {limit}: [escalation] same_error_above
    unknown: Text
    replay_failures: Text
    business_critical: Text
    business_critical_summary: Text

    @field_validator("growth", "same_error")
    @classmethod
    def _only_limit(cls, text: str) -> str:
        names = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
        if names - {"limit"}:
            raise ValueError("the only placeholder is {limit} (write {{ and }} for literal braces)")
        return text


class PackHeadings(_Strict):
    """The escalation pack's title and headings ("Escalation Information to Provide")."""

    title: Text
    count_and_growth: Text
    common_patterns: Text
    criteria: Text
    sample: Text
    changes: Text
    actions: Text


class _RunbookFile(_Strict):
    patterns: list[_PatternEntry]
    escalation: EscalationTexts
    pack: PackHeadings

    @field_validator("patterns")
    @classmethod
    def _known_patterns(cls, entries: list[_PatternEntry]) -> list[_PatternEntry]:
        keys = [e.key for e in entries]
        if sorted(keys) != sorted(PATTERN_KEYS):
            raise ValueError(
                f"the patterns must be exactly {', '.join(PATTERN_KEYS)} (each once); "
                f"found {', '.join(keys) or 'none'}"
            )
        numbers = [e.number for e in entries]
        if len(set(numbers)) != len(numbers):
            raise ValueError(f"two patterns share a number: {numbers}")
        return entries


@dataclass(frozen=True)
class Runbook:
    patterns: dict[str, RunbookPattern]  # by key, in the file's order
    escalation: EscalationTexts
    pack: PackHeadings


def load(path: Path) -> Runbook:
    """The runbook in `path`, checked; RunbookError names the file and the key if not."""
    try:
        with path.open("rb") as handle:
            raw = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise RunbookError(f"runbook {path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise RunbookError(f"runbook {path} cannot be read: {exc.strerror}") from None
    try:
        parsed = _RunbookFile.model_validate(raw)
    except ValidationError as exc:
        raise RunbookError(f"runbook {path}: {_describe(exc, raw)}") from None
    return Runbook(
        patterns={
            e.key: RunbookPattern(
                e.key,
                e.number,
                e.short,
                e.title,
                e.symptoms,
                e.root_cause,
                tuple(e.resolution),
                tuple(e.prevention),
            )
            for e in parsed.patterns
        },
        escalation=parsed.escalation,
        pack=parsed.pack,
    )


def configured_path(environ: Mapping[str, str] = os.environ) -> Path:
    """The team's runbook named by DLQ_RUNBOOK, else the one shipped with the package."""
    named = environ.get(ENVIRONMENT_VARIABLE, "").strip()
    return Path(named) if named else SHIPPED


def _describe(exc: ValidationError, raw: Mapping[str, Any]) -> str:
    first = exc.errors()[0]
    key = _dotted(first["loc"], raw)
    message = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
    more = exc.error_count() - 1
    extra = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"{key}: {message}{extra}"


def _dotted(loc: Sequence[str | int], raw: Mapping[str, Any]) -> str:
    """`patterns[file_type].resolution` for the pattern keyed file_type, `patterns[#3]`
    (counted from 1) for one without a key."""
    parts: list[str] = []
    for i, part in enumerate(loc):
        if isinstance(part, int):
            entry = _at(raw, loc[:i])
            entry = entry[part] if isinstance(entry, list) and part < len(entry) else None
            named = entry.get("key") if isinstance(entry, dict) else None
            parts[-1] += f"[{named}]" if isinstance(named, str) else f"[#{part + 1}]"
        else:
            parts.append(str(part))
    return ".".join(parts) or "(the file)"


def _at(raw: Mapping[str, Any], loc: Sequence[str | int]) -> object:
    node: object = raw
    for part in loc:
        if isinstance(part, int) and isinstance(node, list) and part < len(node):
            node = node[part]
        elif isinstance(part, str) and isinstance(node, dict):
            node = node.get(part)
        else:
            return None
    return node


RUNBOOK: Final = load(configured_path())

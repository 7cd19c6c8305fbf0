"""Which records: the one selection model of the Messages page, the Patterns page, the reviews,
the reports and the CLI's bulk filters, and the one place it becomes SQL.

The same filter comes from a URL's query parameters (`from_params`), the Messages page's
widgets, whose keys are those parameters (`from_widgets`), or the CLI's options
(`add_arguments`, `from_args`), and goes back to query parameters with `to_params`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

from dashboard.text.moments import (
    argparse_day,
    argparse_moment,
    parse_moment,
    reversed_window,
    since_text,
    until_text,
)
from dashboard.triage.dimensions import DAY_SQL, EVENT_SQL, HOUR_SQL, NO_TEXT_LABEL, NONE_LABEL
from dashboard.triage.states import (
    ALIASES,
    BACKLOG,
    OPEN,
    STATE_CHOICES,
    canonical,
    choices_condition,
)

Params = dict[str, str | list[str]]
# One DLQ's topic, or several (the pages' "all DLQs" choice).
Topics = str | tuple[str, ...]


@dataclass(frozen=True)
class RecordFilter:
    """Every field narrows the selection; empty fields do not.

    Time bounds: `since` is inclusive and `until` exclusive (`since <= kafka_timestamp <
    until`). A date without a time, from a URL, a widget or the CLI, means that whole day in
    UTC: as `since` its first instant, as `until` the first instant of the day after, so a
    day given as "until" is included. A time of day given as "until" is itself excluded.
    """

    trace: str = ""  # substring of the trace id
    url: str = ""  # substring of the attachment URL
    domain: str = ""  # substring of the domain
    domain_is: str = ""  # the exact domain ("(none)": records without one), as a burst has it
    error: str = ""  # substring of the error text
    signature: str = ""  # exact error signature (from a pattern group)
    category: tuple[str, ...] = ()  # "(none)" selects records without a category
    retry_count: tuple[int, ...] = ()
    event: str = ""  # "type / subtype" as the Patterns page groups it
    file_type: str = ""
    partition: int | None = None
    offset_from: int | None = None
    offset_to: int | None = None
    since: datetime | None = None  # arrived at or after
    until: datetime | None = None  # arrived before
    hour: int | None = None  # hour of day, UTC
    day: str = ""  # YYYY-MM-DD, UTC
    header_key: str = ""
    header_value: str = ""
    states: tuple[str, ...] = ()  # any of STATE_CHOICES (earlier words too); empty = all

    def __post_init__(self) -> None:
        if self.states:
            # Earlier versions' words become today's, so every URL and option says them.
            object.__setattr__(self, "states", canonical(self.states))
            choices_condition(self.states)  # refuses an unknown state here, not at the query

    @property
    def searches_text(self) -> bool:
        """Whether it looks for text inside every record (trace ids, URLs, domains, error
        text, headers): a condition that costs more per record than reading columns."""
        return any(
            value.strip()
            for value in (
                self.trace,
                self.url,
                self.domain,
                self.error,
                self.header_key,
                self.header_value,
            )
        )

    # -- built from ---------------------------------------------------------------------

    @classmethod
    def from_params(cls, params: Mapping[str, str | list[str]]) -> RecordFilter:
        """From a URL's query parameters (repeated parameters as lists)."""
        return cls._parsed(params)

    @classmethod
    def from_widgets(cls, values: Mapping[str, object]) -> RecordFilter:
        """From the widgets keyed by their query parameter (text, lists, numbers, dates)."""
        return cls._parsed(values)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> RecordFilter:
        """From the options `add_arguments` declared."""
        return cls._parsed({o.param: getattr(args, o.dest) for o in _OPTIONS})

    @staticmethod
    def add_arguments(group: argparse._ActionsContainer) -> None:
        """Declare the CLI's filter options, one for each field."""
        for o in _OPTIONS:
            group.add_argument(o.flag, help=o.help, **o.cli)

    @classmethod
    def _parsed(cls, values: Mapping[str, Any]) -> RecordFilter:
        return cls(**{o.name: o.parse(values.get(o.param)) for o in _OPTIONS})

    # -- turned into ----------------------------------------------------------------------

    def to_params(self) -> Params:
        """The query parameters `from_params` reads back into this filter."""
        params: Params = {}
        for o in _OPTIONS:
            text = o.unparse(getattr(self, o.name))
            if text:
                params[o.param] = text
        return params

    def is_empty(self) -> bool:
        return self == RecordFilter()

    def contradiction(self) -> str | None:
        """Why no record can match (a phrase), when its own bounds exclude each other (a
        window that ends before it starts, an offset range upside down); None otherwise.
        Said rather than answered with "no records": the bounds were most likely typed the
        wrong way round, and a bulk action would otherwise report "nothing to do"."""
        if (why := reversed_window(self.since, self.until)) is not None:
            return why
        if (
            self.offset_from is not None
            and self.offset_to is not None
            and self.offset_from > self.offset_to
        ):
            return f"Offset from {self.offset_from} is above offset to {self.offset_to}"
        return None

    def describe(self) -> str:
        """One line saying what the filter selects, for previews, audit reasons and titles."""
        parts = [
            f"{name}={','.join(value) if isinstance(value, list) else value}"
            for name, value in self.to_params().items()
        ]
        return " ".join(parts) if parts else "all records"

    def where(self, topic: Topics) -> tuple[str, dict[str, object]]:
        """SQL conditions on `records` (its kept state included), with parameters. `topic`:
        one topic or several."""
        clauses, params = _topic_clause(topic)

        def add(clause: str, **values: object) -> None:
            clauses.append(clause)
            params.update(values)

        def like(column: str, name: str, value: str) -> None:
            if value.strip():
                add(f"{column} ILIKE ${name} ESCAPE '\\'", **{name: _contains(value)})

        like("trace_id", "trace", self.trace)
        if self.url.strip():
            # A case-insensitive literal regular expression: RE2 scans the text as it is,
            # where ILIKE lower-cases every (long, presigned) URL first.
            add("regexp_matches(attachment_url, $url)", url="(?i)" + _literal(self.url.strip()))
        like('"domain"', "domain", self.domain)
        if self.domain_is == NONE_LABEL:
            add('"domain" IS NULL')
        elif self.domain_is:
            add('"domain" = $domain_is', domain_is=self.domain_is)
        like("error_message", "error", self.error)
        if self.signature == NO_TEXT_LABEL:
            add("error_signature IS NULL")
        elif self.signature:
            add("error_signature = $signature", signature=self.signature)
        if self.category:
            named = [c.lower() for c in self.category if c != NONE_LABEL]
            options = ["error_category IN (SELECT unnest($categories))"] if named else []
            if NONE_LABEL in self.category:
                options.append("error_category IS NULL")
            add("(" + " OR ".join(options) + ")", **({"categories": named} if named else {}))
        if self.retry_count:
            add("retry_count IN (SELECT unnest($retries))", retries=list(self.retry_count))
        if self.event:
            add(f"{EVENT_SQL} = $event", event=self.event)
        if self.file_type:
            add("file_type = $file_type", file_type=self.file_type.lower())
        if self.partition is not None:
            add('"partition" = $partition', partition=self.partition)
        if self.offset_from is not None:
            add('"offset" >= $offset_from', offset_from=self.offset_from)
        if self.offset_to is not None:
            add('"offset" <= $offset_to', offset_to=self.offset_to)
        if self.since is not None:
            add("kafka_timestamp >= $since", since=self.since)
        if self.until is not None:
            add("kafka_timestamp < $until", until=self.until)
        if self.hour is not None:
            add(f"{HOUR_SQL} = $hour", hour=self.hour)
        if self.day:
            add(f"{DAY_SQL} = $day", day=self.day)
        header = []
        if self.header_key.strip():
            header.append("contains(lower(h.key), $header_key)")
            params["header_key"] = self.header_key.strip().lower()
        if self.header_value.strip():
            # BLOB -> VARCHAR spells non-UTF-8 bytes as \xNN and never fails.
            header.append("contains(lower(CAST(h.value AS VARCHAR)), $header_value)")
            params["header_value"] = self.header_value.strip().lower()
        if header:
            # One filter per condition, the name's first: the value's cast and lowering then
            # run only on the headers whose name matched.
            kept = "headers"
            for condition in header:
                kept = f"list_filter({kept}, lambda h: {condition})"
            add(f"len({kept}) > 0")
        if self.states:
            add(choices_condition(self.states))
        return " AND ".join(clauses), params


def _topic_clause(topic: Topics) -> tuple[list[str], dict[str, object]]:
    if isinstance(topic, str):
        return ["topic = $topic"], {"topic": topic}
    if not topic:
        raise ValueError("no topic to select records from")
    return ["topic IN (SELECT unnest($topics))"], {"topics": list(topic)}


IN_BACKLOG: Final = RecordFilter(states=(BACKLOG,))
# Records nothing has been done to yet: what an incident's bulk action still has to act on.
OPEN_RECORDS: Final = RecordFilter(states=(OPEN,))


# -- one option per field: its query parameter, CLI option, parser and URL form ---------------


def _text(value: object) -> str:
    return "" if value is None else str(value).strip()


def _texts(value: object) -> tuple[str, ...]:
    if value is None or isinstance(value, str):
        items: list[object] = [value]
    else:
        items = list(value) if isinstance(value, Iterable) else [value]
    return tuple(t for t in (_text(v) for v in items) if t)


def _ints(value: object) -> tuple[int, ...]:
    return tuple(int(t) for t in _texts(value))


def _int(value: object) -> int | None:
    if isinstance(value, int | float):
        return int(value)  # a number input's value
    text = _text(value)
    return int(text) if text else None


def _moment(value: object, *, upper: bool) -> datetime | None:
    """A widget's date or datetime, a CLI option's datetime, or a URL's text (ISO, or a time
    ago such as `2h`); a date alone is its day's first instant, or the next day's if `upper`."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime.combine(value + timedelta(days=int(upper)), time.min, tzinfo=UTC)
    if isinstance(value, str) and value.strip():
        return parse_moment(value, datetime.now(UTC), as_upper_bound=upper)
    return None


def _since(value: object) -> datetime | None:
    return _moment(value, upper=False)


def _until(value: object) -> datetime | None:
    return _moment(value, upper=True)


def _plain(value: object) -> str | list[str]:
    if isinstance(value, tuple):
        return [str(v) for v in value]
    return "" if value is None else str(value)


@dataclass(frozen=True)
class _Option:
    name: str  # the RecordFilter field
    param: str  # its query parameter and widget key
    flag: str  # its CLI option
    help: str
    parse: Callable[[object], Any]
    unparse: Callable[[Any], str | list[str]]
    cli: Mapping[str, Any]  # add_argument's keywords beside the flag and help

    @property
    def dest(self) -> str:
        return self.flag.removeprefix("--").replace("-", "_")


def _option(name: str, help: str, parse: Callable[[object], Any], **kw: Any) -> _Option:
    param = kw.pop("param", name)
    flag = kw.pop("flag", "--" + param.replace("_", "-"))
    unparse = kw.pop("unparse", _plain)
    multiple = parse in (_texts, _ints)
    cli: dict[str, Any] = {"default": [] if multiple else None, **kw}
    if multiple:
        cli["action"] = "append"
    if parse in (_int, _ints):
        cli["type"] = int
    return _Option(name, param, flag, help, parse, unparse, cli)


_OPTIONS: Final = (
    _option("trace", "trace id contains", _text),
    _option("url", "URL contains", _text),
    _option("domain", "domain contains", _text),
    _option("domain_is", "domain (exact; (none): records without one)", _text),
    _option("error", "error text contains", _text),
    _option("signature", "error signature (exact)", _text),
    _option("category", "error category (repeatable; (none): no category)", _texts),
    _option("retry_count", "retry count (repeatable)", _ints),
    _option("event", "event type / subtype (exact)", _text),
    # --file-type would read as the replay's --new-file-type
    _option("file_type", "file type", _text, flag="--filter-file-type"),
    _option("partition", "partition", _int),
    _option("offset_from", "offset at least", _int),
    _option("offset_to", "offset at most", _int),
    _option(
        "since",
        "arrived at or after (a date: from its start, UTC)",
        _since,
        param="from",
        flag="--since",
        unparse=since_text,
        type=argparse_moment(),
    ),
    _option(
        "until",
        "arrived before (a date: through its end, UTC)",
        _until,
        unparse=until_text,
        type=argparse_moment(as_upper_bound=True),
    ),
    _option("hour", "hour of day (UTC)", _int),
    _option("day", "day (YYYY-MM-DD, UTC)", _text, type=argparse_day),
    _option("header_key", "header name contains", _text),
    _option("header_value", "header value contains", _text),
    _option(
        "states",
        f"state (repeatable): {', '.join(STATE_CHOICES)}",
        _texts,
        flag="--state",
        choices=(*STATE_CHOICES, *ALIASES),
        metavar="STATE",
    ),
)


def _contains(text: str) -> str:
    """A LIKE pattern matching `text` literally anywhere."""
    escaped = text.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return "%" + escaped + "%"


_RE2_SPECIAL: Final = frozenset("\\.+*?()|[]{}^$")


def _literal(text: str) -> str:
    """`text` as an RE2 pattern that matches it literally."""
    return "".join("\\" + c if c in _RE2_SPECIAL else c for c in text)

"""What every page shares: settings, cached snapshot queries, and how failures are shown."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal, NoReturn, TypeVar

import streamlit as st
from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

from dashboard.adapters.db import Database, DatabaseBusy, SnapshotMissing, one_read_connection
from dashboard.adapters.kafka.properties import check_properties
from dashboard.exports import images
from dashboard.exports.charts import PLOTLY_CONFIG
from dashboard.settings import Settings, SettingsError, load_settings
from dashboard.text.moments import NotAMoment, parse_day
from dashboard.text.safe_text import markdown_text
from dashboard.triage.dlq_summary import with_snapshot_dlqs
from dashboard.triage.filters import RecordFilter
from dashboard.triage.overview import Freshness, freshness
from dashboard.triage.states import STATE_CHOICES, canonical, label
from ingest.refresh import refresh_within
from pages.dlq_choice import ALL_DLQS, DlqScope, chosen_dlq, one_dlq_only

T = TypeVar("T")


@st.cache_resource
def _settings() -> Settings:
    settings = load_settings()
    check_properties(settings.kafka)
    return settings


def _route_through_entry_point(entry_point: bool) -> None:
    """Pages run only under streamlit_app.py's st.navigation."""
    # This patch cannot go while pages/ sits beside the entry point: Streamlit 1.67 sets
    # PagesManager.uses_pages_directory from that folder's existence before any script runs,
    # so a server's first request to /<page> runs that page alone in legacy mode (no router,
    # no page config); only a call to st.navigation clears the flag, and the router is not
    # called on that run. A page run alone therefore clears it and reruns on the same URL.
    # In that mode a URL finds its page by the file's name, so each page file is named like
    # its url_path (pages/daily-review.py for /daily-review): a file that is not gets the
    # entry point run instead, under a "Page not found" popup.
    from streamlit.runtime.pages_manager import PagesManager

    first_run = not st.session_state.get("_dlq_routed", False)
    st.session_state["_dlq_routed"] = True
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        if not entry_point and first_run:
            st.rerun()


def all_settings(entry_point: bool = False) -> Settings:
    """The whole configuration, every DLQ in it (the entry point, the All DLQs page)."""
    _route_through_entry_point(entry_point)
    try:
        settings = _settings()
    except SettingsError as exc:
        st.error(f"Bad setting: {exc}", icon=":material/settings:")
        st.stop()
    if not settings.discover:
        return settings
    try:  # the DLQs `discover` found, as the snapshot holds them
        found: Settings = _cached_call(
            snapshot_version(settings),
            settings,
            "with_snapshot_dlqs",
            (settings,),
            with_snapshot_dlqs,
        )
    except (SnapshotMissing, DatabaseBusy):
        return settings  # the pages say what is wrong with the snapshot
    return found


def app_settings(entry_point: bool = False) -> Settings:
    """The settings narrowed to the chosen DLQ, for a page that shows one DLQ at a time:
    every one-DLQ page works on it unchanged. With "All DLQs" chosen, such a page says so
    and stops."""
    settings = all_settings(entry_point)
    if entry_point:
        return settings
    choice = chosen_dlq(settings)
    if choice == ALL_DLQS:
        one_dlq_only()
    return settings.for_dlq(choice)


def dlq_scope() -> DlqScope:
    """For a page that works on one DLQ or across every DLQ (every page but Overview)."""
    every = all_settings()
    choice = chosen_dlq(every)
    one = every.for_dlq(None if choice == ALL_DLQS else choice)
    return DlqScope(one, every, choice)


def drop_unusable_numbers(
    names: tuple[str, ...], ranges: Mapping[str, tuple[int, int]] | None = None
) -> None:
    """A shared URL may carry a number no filter can take ("1e309", "inf", "-3", 2**70, an
    hour of 25): that filter is ignored and the page says so, rather than failing on it or
    letting its widget drop it without a word. `ranges`: a name's lowest and highest."""
    for name in names:
        raw = st.query_params.get(name)
        if raw is None:
            continue
        low, high = (ranges or {}).get(name, (0, 2**63 - 1))
        try:
            usable = low <= int(raw) <= high
        except ValueError:
            usable = False
        if not usable:
            del st.query_params[name]
            _forget_initial_param(name)
            wanted = "0 or more" if high == 2**63 - 1 and low == 0 else f"from {low} to {high}"
            st.caption(
                f"The {name} filter in the URL ({plain(raw[:40])}) is not a whole number "
                f"{wanted}; it is ignored."
            )


def drop_unusable_days(names: tuple[str, ...]) -> None:
    """A day in a shared URL that is no day ("2026-13-45", "yesterday") would select
    nothing, read as "no such failures": it is ignored and the page says so."""
    for name in names:
        raw = st.query_params.get(name)
        if raw is None or not raw.strip():
            continue
        try:
            parse_day(raw)
        except NotAMoment as exc:
            del st.query_params[name]
            _forget_initial_param(name)
            st.caption(f"The {name} filter in the URL: {plain(str(exc)[:120])}; it is ignored.")


def link_moments(names: tuple[str, ...]) -> dict[str, tuple[str, datetime]]:
    """The URL's time bounds (`from`, `until`) that hold a time of day or a time ago (an
    alert's link says `from=10m`), which a date widget bound to the URL cannot take (whole
    days only) and would drop: the page leaves such a widget unbound, so the URL keeps the
    value, and applies the moment itself. A value that is no time is left to the widgets."""
    found: dict[str, tuple[str, datetime]] = {}
    for name in names:
        raw = st.query_params.get(name)
        if raw is None or re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw.strip()):
            continue
        try:
            parsed = RecordFilter.from_params({name: raw})
        except ValueError:
            continue
        moment = parsed.since if name == "from" else parsed.until
        if moment is not None:
            found[name] = (raw, moment)
    return found


def url_params(names: tuple[str, ...]) -> dict[str, list[str]]:
    """The values the URL gave these parameters, before the widgets bound to them read it
    (see `say_ignored_params`)."""
    return {name: st.query_params.get_all(name) for name in names if name in st.query_params}


def say_ignored_params(given: dict[str, list[str]]) -> None:
    """After the widgets bound to the URL have read it: name each value they could not take
    (a state misspelt in a shared link, a date that is not one), which Streamlit drops
    without a word, so the page would show more than the link meant."""
    for name, values in given.items():
        # Streamlit also drops a value equal to the widget's default from the URL: the
        # widget's own value says it was taken.
        kept = set(st.query_params.get_all(name)) | _as_texts(st.session_state.get(name))
        dropped = [v for v in values if v not in kept]
        if dropped:
            shown = ", ".join(plain(v[:40]) for v in dropped[:5])
            st.caption(
                f":material/warning: The {name} value{'s' if len(dropped) != 1 else ''} in the "
                f"URL ({shown}) {'are' if len(dropped) != 1 else 'is'} not one the page can "
                "take; ignored."
            )


def _as_texts(value: object) -> set[str]:
    """A widget's value as the URL spells it: "true", "50", "2026-11-30", each of a list."""
    if value is None:
        return set()
    if isinstance(value, list | tuple | set):
        return {text for item in value for text in _as_texts(item)}
    if isinstance(value, bool):
        return {str(value).lower()}
    return {str(value)}


def _initial_params() -> dict[str, list[str]] | None:
    # Streamlit 1.67 seeds a bound widget from the URL as the page first loaded, not from
    # st.query_params as this run left it: a value rewritten or dropped before a widget
    # reads it must be rewritten or dropped in that first-load copy too.
    ctx = get_script_run_ctx()
    state = getattr(getattr(ctx, "session_state", None), "_state", None)
    initial = getattr(getattr(state, "query_params", None), "_initial_query_params", None)
    return initial if isinstance(initial, dict) else None


def _forget_initial_param(name: str) -> None:
    # An integer number_input raises OverflowError on "inf" or "1e309" (only ValueError and
    # TypeError are caught there), so the first-load copy must lose the value too.
    initial = _initial_params()
    if initial is not None:
        initial.pop(name, None)


def _set_initial_param(name: str, values: list[str]) -> None:
    initial = _initial_params()
    if initial is not None and name in initial:
        initial[name] = values


def reads_of_this_run() -> AbstractContextManager[None]:
    """The script run's queries share one snapshot connection, opened by the first query
    the cache misses and closed when the run ends (or before an action writes)."""
    return one_read_connection()


def database(settings: Settings) -> Database:
    return Database.of(settings)


def snapshot_version(settings: Settings) -> tuple[int, ...]:
    """Changes whenever the snapshot file does: the cache key of every query."""
    parts: list[int] = []
    for path in (settings.db, settings.db.with_name(settings.db.name + ".wal")):
        try:
            stat = path.stat()
        except FileNotFoundError:
            parts.extend((0, 0))
        else:
            parts.extend((stat.st_mtime_ns, stat.st_size))
    return tuple(parts)


@st.cache_data(ttl=900, max_entries=512, show_spinner=False)
def _cached_call(
    version: tuple[int, ...],
    settings: Settings,
    fn_name: str,
    args: tuple[Any, ...],
    _fn: Callable[..., Any],  # not hashed: `fn_name` stands for it
) -> Any:
    with database(settings).read() as con:
        return _fn(con, *args)


def cached(settings: Settings, fn: Callable[..., T], *args: Any) -> T:
    """`fn(connection, *args)` on the snapshot, cached until the snapshot changes. Shows
    what is wrong instead of a traceback when there is no snapshot or it stays locked."""
    try:
        name = f"{fn.__module__}.{fn.__qualname__}"
        result: T = _cached_call(snapshot_version(settings), settings, name, args, fn)
    except SnapshotMissing:
        no_snapshot(settings)
    except DatabaseBusy as exc:
        st.warning(f"The snapshot is busy: {exc}. Reload in a moment.", icon=":material/lock:")
        st.stop()
    return result


def no_snapshot(settings: Settings) -> NoReturn:
    st.info(
        f"No snapshot yet at `{settings.db}`. Run `dlq ingest` (or `dlq ingest --follow 30`) "
        "to copy the DLQ topic into it.",
        icon=":material/hourglass_empty:",
    )
    st.stop()


def now_minute() -> datetime:
    """Now, to the minute: time-relative queries then share cache entries for a minute."""
    return datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)


def snapshot_freshness(settings: Settings) -> Freshness:
    stale_after = timedelta(seconds=settings.rules.stale_after_seconds)
    return cached(settings, freshness, settings.dlq_topic, now_minute(), stale_after)


def freshness_banner(settings: Settings, fresh: Freshness) -> None:
    """A visible warning when the snapshot is older than a few ingest intervals."""
    # Why: the ingest's own latest failure (Kafka not answering) when it has one; the
    # follower not running is only the guess when nothing failed.
    why = " Is `dlq ingest --follow` running?"
    if fresh.failure is not None and fresh.failing_since is not None:
        why = (
            f" Ingest has failed since {fresh.failing_since:%Y-%m-%d %H:%M} UTC: "
            f"{plain(fresh.failure)}"
        )
    if fresh.last_ingest_at is None:
        st.warning("Nothing has been ingested yet." + why, icon=":material/warning:")
    elif fresh.stale and fresh.age is not None:
        st.warning(
            f"The snapshot is {_age(fresh.age)} old (last successful ingest "
            f"{fresh.last_ingest_at:%Y-%m-%d %H:%M} UTC). Figures below are as of then." + why,
            icon=":material/history:",
        )


def as_of(fresh: Freshness) -> datetime:
    """The moment the page's figures describe: now, or the last ingest when the snapshot is
    stale (so "the last 10 minutes" are not read as an empty, quiet DLQ)."""
    now = now_minute()
    if fresh.stale and fresh.last_ingest_at is not None:
        return min(now, fresh.last_ingest_at)
    return now


def snapshot_as_of(settings: Settings) -> datetime:
    """The page's opening: warn when the snapshot is stale, and say what moment it shows."""
    fresh = snapshot_freshness(settings)
    freshness_banner(settings, fresh)
    return as_of(fresh)


def _age(age: timedelta) -> str:
    minutes = int(age.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} minutes"
    hours = minutes // 60
    return f"{hours} hours" if hours < 48 else f"{hours // 24} days"


TIME_COLUMN = st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss", timezone="UTC")


def long_text(
    label: str,
    width: Literal["small", "medium", "large"] | int = "medium",
    where: str = "the record's detail",
) -> Any:
    """A column of long text (errors, signatures, URLs): cut to `width` so the columns
    before and after it stay on screen; its header says where the full text is."""
    return st.column_config.TextColumn(
        label, width=width, help=f"Long values are cut here; the full text is in {where}."
    )


def plot(figure: Any, key: str, filename: str) -> None:
    """A plotly chart whose camera button downloads a PNG named after the view."""
    config = dict(PLOTLY_CONFIG)
    config["toImageButtonOptions"] = {**config["toImageButtonOptions"], "filename": filename}
    st.plotly_chart(figure, key=key, config=config)


# A state's label ("Replayed, waiting") -> its word ("replayed-waiting").
WORD_OF_LABEL: Final = {label(word): word for word in STATE_CHOICES}


def accept_earlier_state_words() -> None:
    """Rewrite a link's `states` as the pills bound to it read them, before they do: each
    word (earlier versions' "unresolved", "replayed" too) as its label ("Backlog",
    "Replayed, waiting"). Streamlit matches a bound widget's URL value against its options'
    formatted labels, while links (RecordFilter.to_params, the alert rules) carry the words:
    `states=backlog` was dropped without a word. A value that is neither stays, to be named
    as ignored."""
    given = st.query_params.get_all("states")
    words = canonical(WORD_OF_LABEL.get(value, value) for value in given)
    labels = [label(word) if word in STATE_CHOICES else word for word in words]
    if labels != given:
        st.query_params["states"] = labels
        _set_initial_param("states", labels)


def plain(text: str) -> str:
    """Record content for a place that renders markdown (labels, captions, alerts)."""
    return markdown_text(text)


# Someone waits on the page while it runs.
REFRESH_BUTTON_SECONDS = 15.0


def refresh_button(settings: Settings) -> None:
    """Copy what is new on the DLQ topic into the snapshot now, within a time limit."""
    if not st.button(
        "Refresh from Kafka",
        icon=":material/refresh:",
        help="Runs an incremental `dlq ingest` now.",
    ):
        return
    with st.spinner("Reading new DLQ records..."):
        done = refresh_within(settings, REFRESH_BUTTON_SECONDS)
    if done.summary is None:
        st.error(f"Could not refresh: {done.failure}", icon=":material/cloud_off:")
        return
    st.toast(done.summary.line())


def metric_with_change(
    where: Any, label: str, now: int, before: int, against: str, more_is_bad: bool = False
) -> None:
    """A count with its change against the previous period; no arrow when nothing changed."""
    change = now - before
    where.metric(
        label,
        f"{now:,}",
        delta=(f"{change:+,} {against}" if change else f"no change {against}").strip(),
        delta_color=("inverse" if more_is_bad else "normal") if change else "off",
        delta_arrow="auto" if change else "off",
    )


def chart_images(
    figures: dict[str, Any], width: int, height: int
) -> tuple[dict[str, bytes], str | None]:
    """Figures as PNGs for an export; without Chromium, no images and the reason why."""
    try:
        return images.named_pngs(figures, width, height), None
    except images.ImagesUnavailable as exc:
        return {}, f"The export has no charts: {exc}."


def sidebar_footer(settings: Settings, choice: str | None = None) -> None:
    with st.sidebar:
        if choice == ALL_DLQS:
            topics = ", ".join(f"`{d.topic}`" for d in settings.dlq_list)
            st.caption(f"Topics {topics} on `{settings.bootstrap_servers}`")
        else:
            topic = settings.for_dlq(choice).dlq_topic
            st.caption(f"Topic `{topic}` on `{settings.bootstrap_servers}`")
        st.caption(f"Snapshot `{settings.db}`")

"""Which DLQ a page shows: the sidebar's choice, kept in the URL as ?dlq=<name> (or ?dlq=all
for the pages that work across every DLQ)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, NoReturn

import streamlit as st

from dashboard.settings import EVERY_DLQ, Settings
from dashboard.text.safe_text import markdown_text
from dashboard.triage.filters import Topics

DLQ_PARAM: Final = "dlq"
ALL_DLQS: Final = EVERY_DLQ  # ?dlq=all: the pages that work across every DLQ do
_CHOICE: Final = "_dlq_choice"  # survives page switches, which drop the URL's parameters
_WIDGET: Final = "_dlq_selector"


def choose_dlq(settings: Settings) -> str | None:
    """The entry point's DLQ selector (only with several DLQs), and the choice it holds: a
    DLQ's name or ALL_DLQS. A link or a reload chooses through ?dlq=; a page switch keeps
    the session's choice. None (after one clear line) when the URL names no configured DLQ."""
    names = [d.name for d in settings.dlq_list]
    valid = [*names, ALL_DLQS]
    asked = st.query_params.get(DLQ_PARAM)
    known = asked is None or asked in valid
    choice = asked if asked is not None and known else st.session_state.get(_CHOICE)
    if choice not in valid:
        choice = names[0]
    if len(names) == 1:
        choice = names[0]  # "all" of one DLQ is that DLQ
    st.session_state[_CHOICE] = choice
    if len(names) > 1:
        st.session_state[_WIDGET] = choice
        st.sidebar.selectbox(
            "DLQ",
            valid,
            format_func=lambda n: "All DLQs" if n == ALL_DLQS else n,
            key=_WIDGET,
            on_change=_selector_changed,
            help="Kept in the URL (?dlq=), so a link or a reload opens the same DLQ. "
            "All DLQs: every page but Overview across every DLQ.",
        )
        if known and asked != choice:
            st.query_params[DLQ_PARAM] = choice
    if not known:
        st.error(
            f"No DLQ named {markdown_text(repr(str(asked)[:60]))} (from the URL's ?dlq=). "
            f"Configured: {', '.join(names)}; or `{ALL_DLQS}` for every DLQ.",
            icon=":material/error:",
        )
        return None
    return choice


def _selector_changed() -> None:
    choice = st.session_state[_WIDGET]
    st.session_state[_CHOICE] = choice
    st.query_params[DLQ_PARAM] = choice


def chosen_dlq(settings: Settings) -> str:
    """What the entry point's selector holds (the first DLQ before it ran)."""
    choice = st.session_state.get(_CHOICE)
    valid = [d.name for d in settings.dlq_list]
    if len(valid) > 1:
        valid.append(ALL_DLQS)
    return choice if choice in valid else valid[0]


def page_link(
    page: str,
    *,
    container: Any = None,
    query_params: dict[str, str] | None = None,
    **options: Any,
) -> None:
    """`st.page_link` (or `container.page_link`) that keeps the chosen DLQ in the link, so a
    link opened in a new tab shows the same DLQ as this one."""
    params = dict(query_params or {})
    choice = st.session_state.get(_CHOICE)
    if choice is not None and DLQ_PARAM not in params:
        params[DLQ_PARAM] = choice
    (container or st).page_link(page, query_params=params or None, **options)


def one_dlq_only() -> NoReturn:
    st.info(
        "This page shows one DLQ at a time: pick one in the sidebar's DLQ selector. "
        "Every DLQ at a glance is on the All DLQs page; the other pages work across all "
        "of them.",
        icon=":material/filter_alt:",
    )
    st.page_link("pages/all-dlqs.py", label="All DLQs", icon=":material/view_list:")
    st.stop()


@dataclass(frozen=True)
class DlqScope:
    """What a page that works across DLQs shows: one DLQ, or every DLQ."""

    settings: Settings  # the chosen DLQ's; across all, the first DLQ's
    every: Settings  # the whole configuration
    choice: str  # a DLQ's name or ALL_DLQS

    @property
    def across_all(self) -> bool:
        return self.choice == ALL_DLQS

    @property
    def topics(self) -> Topics:
        if self.across_all:
            return tuple(d.topic for d in self.every.dlq_list)
        return self.settings.dlq_topic

    @property
    def param(self) -> dict[str, str]:
        """The choice as a link's query parameter: a link opened in a new tab keeps it."""
        return {DLQ_PARAM: self.choice}

    @property
    def title(self) -> str:
        """The topic shown, or "all DLQs", for captions and chart subtitles."""
        return "all DLQs" if self.across_all else self.settings.dlq_topic

    def name_of(self, topic: str) -> str:
        dlq = self.every.dlq_by_topic(topic)
        return dlq.name if dlq is not None else topic

    def describe(self, topic: str) -> str:
        """Which DLQ a record comes from and where its replay goes, in one line."""
        dlq = self.every.dlq_by_topic(topic)
        if dlq is None:
            return f"Topic {markdown_text(topic)} is no configured DLQ's."
        return f"DLQ `{dlq.name}` ({dlq.format}), replays to `{dlq.replay_target}`."

    def settings_of(self, topic: str) -> Settings:
        """The settings of the DLQ a record comes from: its replay target, review group."""
        dlq = self.every.dlq_by_topic(topic)
        return self.every.for_dlq(dlq.name) if dlq is not None else self.settings

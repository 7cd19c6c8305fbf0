"""The Overview's first lines during an incident: what is happening, and one button that opens
the bulk replay of exactly the burst's records (its preview shown) in a dialog on this page."""

from __future__ import annotations

from datetime import datetime

import streamlit as st

from dashboard.actions.preview import preview
from dashboard.actions.selection import matching
from dashboard.actions.values import Request
from dashboard.settings import Settings
from dashboard.triage import incident, overview
from dashboard.triage.filters import RecordFilter
from dashboard.triage.incident import grown_note
from pages import actions_ui, ui
from pages.action_dialogs import PENDING, bulk_dialog

_SCOPE = "incident_scope"  # session-state key: the selection the dialog acts on


def incident_section(settings: Settings, as_of: datetime) -> None:
    """Nothing when no burst is active and no alert is pending or firing."""
    who = actions_ui.page_identity(settings)
    actions_ui.last_report()
    if st.session_state.get("bulk_job") is not None:
        actions_ui.bulk_progress()
    # The arrivals and backlog per minute are the Overview's own alert queries (same
    # arguments, so one cache entry serves both).
    start = as_of - incident.LOOKBACK
    topic = settings.dlq_topic
    backlog, per_minute = ui.cached(settings, overview.backlog_and_arrivals, topic, start, as_of, 1)
    found = incident.of(
        settings,
        as_of,
        ui.cached(settings, incident.open_bursts, settings, as_of),
        per_minute,
        backlog,
    )
    if found is None:
        return
    with st.container(border=True):
        st.error(f"**{ui.plain(found.headline)}**", icon=":material/bolt:")
        st.markdown("  \n".join(ui.plain(line) for line in found.details()))
        if found.burst is None or found.selection is None:
            st.caption("No systematic burst to act on: see Patterns for the biggest groups.")
            return
        if not who.can_act:
            st.caption(f":material/lock: {ui.plain(who.why_not or 'Read-only')}")
            return
        left, right = st.columns([2, 3])
        # Callbacks, not the buttons' return values: their arguments are the count and the
        # selection the operator saw when clicking, not those of the rerun the click causes
        # (a live burst grows in between).
        left.button(
            f"Bulk replay these {found.burst.total:,} records…",
            type="primary",
            icon=":material/replay:",
            key="incident_replay",
            help="Opens the replay of exactly these records with its preview: "
            + found.selection.describe(),
            on_click=_open,
            args=(settings, found.selection, found.burst.total),
        )
        for i, (other, selection) in enumerate(found.others):
            right.button(
                f"Bulk replay the {other.total:,} records: {other.label}…",
                type="tertiary",
                key=f"incident_other_{i}",
                help=selection.describe(),
                on_click=_open,
                args=(settings, selection, other.total),
            )
    if st.session_state.get(PENDING, {}).get("kind") == "incident":
        refs, plan, selection, shown = st.session_state[_SCOPE]
        request = Request(
            action="replay",
            refs=refs,
            identity=who,
            reason="",
            rate=settings.actions.max_records_per_second,
            selection=selection.describe(),
        )
        bulk_dialog(
            settings,
            request,
            plan,
            ask_reason=True,
            note=grown_note(shown, len(refs), selection.until),
        )


def _open(settings: Settings, selection: RecordFilter, shown: int) -> None:
    """The button's callback: the burst's records as they are now, previewed; `shown`, the
    count its label said."""
    with ui.database(settings).read() as con:
        refs = matching(con, settings.dlq_topic, selection)
        plan = preview(con, "replay", refs, settings=settings)
    st.session_state[_SCOPE] = (refs, plan, selection, shown)
    st.session_state[PENDING] = {"kind": "incident"}

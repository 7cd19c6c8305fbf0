"""The widgets around replay and resolve that pages place: identity, the record's action
buttons, the bulk panel and its progress, the ready-to-resolve banner, the last report.
The dialogs they open are in `pages.action_dialogs`.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard.actions import identity
from dashboard.actions.audit_entries import audit_look, audit_reveal
from dashboard.actions.identity import Identity
from dashboard.actions.interrupted import settle_before_preview
from dashboard.actions.preview import preview
from dashboard.actions.selection import matching, ready_to_resolve
from dashboard.actions.values import Action, RecordRef, Request
from dashboard.adapters.db import Database
from dashboard.settings import Settings
from dashboard.triage.filters import RecordFilter
from pages import dlq_choice, ui
from pages.action_dialogs import (
    PENDING,
    BulkJob,
    bulk_dialog,
    ready_dialog,
    show_preview,
    single_dialog,
)


def current_identity(settings: Settings) -> Identity:
    user = None
    try:
        info = st.user.to_dict()
        if info.get("is_logged_in"):
            user = (
                info.get("email")
                or info.get("preferred_username")
                or info.get("name")
                or info.get("sub")
            )
    except Exception:  # noqa: BLE001 (no login configured: st.user is empty or raises)
        user = None
    headers = dict(st.context.headers) if settings.actions.proxy_user_header else None
    return identity.resolve(settings, str(user) if user else None, headers, client_address())


def client_address() -> str | None:
    """The address the request came from: the TCP peer of the app's server (Streamlit shows
    a loopback peer as None)."""
    address = st.context.ip_address
    return "127.0.0.1" if address is None else address


def login_configured() -> bool:
    try:
        return "auth" in st.secrets
    except Exception:  # noqa: BLE001 (no secrets.toml at all)
        return False


def page_identity(settings: Settings) -> Identity:
    """Who is looking, and whether they may act, said in the sidebar of every page with
    records on it."""
    who = current_identity(settings)
    _identity_sidebar(who)
    return who


def _identity_sidebar(who: Identity) -> None:
    with st.sidebar:
        if who.can_act:
            st.caption(
                f":material/verified_user: Operator **{ui.plain(who.label)}** ({who.source})"
            )
        else:
            st.caption(f":material/visibility: {ui.plain(who.why_not or 'Read-only')}")
            if login_configured() and who.source != "oidc":
                st.button("Log in", on_click=st.login)


# -- single record ---------------------------------------------------------------------------


def record_actions(
    settings: Settings,
    who: Identity,
    ref: RecordRef,
    trace_id: str | None,
    state: str,
    url: str | None,
) -> None:
    """Replay / replay with a new URL / resolve buttons for the record shown."""
    if not who.can_act:
        st.caption(f":material/lock: {ui.plain(who.why_not or 'Read-only')}")
        return
    a, b, c = st.columns(3)
    if a.button("Replay…", icon=":material/replay:", disabled=state == "resolved"):
        st.session_state[PENDING] = {"kind": "replay", "ref": str(ref)}
    if b.button("Replay with new URL…", icon=":material/link:", disabled=state == "resolved"):
        st.session_state[PENDING] = {"kind": "replay-new-url", "ref": str(ref)}
    if c.button("Resolve…", icon=":material/task_alt:", disabled=state == "resolved"):
        st.session_state[PENDING] = {"kind": "resolve", "ref": str(ref)}
    pending = st.session_state.get(PENDING)
    if pending and pending.get("ref") == str(ref):
        single_dialog(settings, who, ref, trace_id, url, pending["kind"])


def last_report() -> None:
    text = st.session_state.pop("last_report", None)
    if text:
        troubled = any(word in text for word in ("failed", "refused", "stopped", "audit is"))
        (st.warning if troubled else st.success)(
            ui.plain(text.splitlines()[0])
            + "".join("  \n" + ui.plain(line) for line in text.splitlines()[1:])
        )


# -- bulk ------------------------------------------------------------------------------------


def bulk_panel(settings: Settings, who: Identity, flt: RecordFilter, total: int) -> None:
    """Act on everything the current filter matches: preview, dry run, rate, confirm."""
    job: BulkJob | None = st.session_state.get("bulk_job")
    if job is not None:
        bulk_progress()
        return
    if not who.can_act:
        return
    with st.expander(f"Act on all {total:,} matching records", icon=":material/bolt:"):
        if flt.is_empty():
            st.caption("Narrow the selection with the filters above first.")
            return
        a, b, c = st.columns([1, 1, 2])
        chosen = a.radio("Action", ["replay", "resolve"], horizontal=True, key="bulk_action")
        action: Action = "resolve" if chosen == "resolve" else "replay"
        limit = settings.actions.max_records_per_second
        rate = b.number_input(
            "Records per second",
            min_value=1.0,
            max_value=float(limit),
            value=float(limit),
            key="bulk_rate",
        )
        reason = c.text_input("Reason (ticket or note)", key="bulk_reason")
        d, e, f = st.columns(3)
        dry_run = d.checkbox("Dry run (check and audit, change nothing)", key="bulk_dry_run")
        override = e.checkbox(
            "Override: replay already replayed or resolved records",
            key="bulk_override",
            disabled=action != "replay",
        )
        if f.button("Preview", icon=":material/preview:"):
            for missing in settle_before_preview(settings):
                st.warning(f"Settling an interrupted action: {ui.plain(missing)}")
            with ui.database(settings).read() as con:
                refs = matching(con, settings.dlq_topic, flt)
                st.session_state["bulk_preview"] = (
                    refs,
                    preview(con, action, refs, override, settings),
                    action,
                    override,
                )
        stored = st.session_state.get("bulk_preview")
        if not stored or stored[2] != action or stored[3] != override:
            return
        refs, plan, _, _ = stored
        show_preview(plan)
        if plan.eligible and st.button("Run…", type="primary", disabled=not reason.strip()):
            st.session_state[PENDING] = {"kind": "bulk"}
        if st.session_state.get(PENDING, {}).get("kind") == "bulk":
            request = Request(
                action=action,
                refs=refs,
                identity=who,
                reason=reason,
                override=override,
                dry_run=dry_run,
                rate=rate,
                selection=flt.describe(),
            )
            bulk_dialog(settings, request, plan)


@st.fragment(run_every=1.0)
def bulk_progress() -> None:
    """The running (or finished) bulk action of this session: progress, cancel, report."""
    job: BulkJob | None = st.session_state.get("bulk_job")
    if job is None:
        return
    total = len(job.request.refs)
    done = job.progress.done if job.progress else 0
    st.progress(
        done / total if total else 1.0,
        text=f"{job.request.action}: {done:,} of {total:,}"
        + (
            f" ({job.progress.succeeded:,} {job.progress.word}, {job.progress.failed:,} failed, "
            f"{job.progress.refused:,} refused)"
            if job.progress
            else ""
        ),
    )
    if job.running:
        # This fragment reruns alone while the job runs: the rest of the page (the incident
        # and its button, the counts) keeps the records as they were before the action.
        job.page_stale = True
        if st.button("Cancel the bulk action", icon=":material/stop_circle:"):
            job.cancel.set()
        return
    if job.page_stale:
        job.page_stale = False
        st.rerun(scope="app")
    if job.error:
        st.error(f"The bulk action stopped: {ui.plain(job.error)}")
    elif job.report is not None:
        report_text = job.report.summary()
        troubled = (
            job.report.cancelled
            or job.report.error
            or job.report.stopped
            or job.report.audit_missing
            or job.report.count("failure")
        )
        (st.warning if troubled else st.success)(
            f"{ui.plain(report_text)} (bulk {job.report.bulk_id})"
        )
        failures = [r for r in job.report.results if r.result in ("failure", "refused")]
        if failures:
            st.dataframe(
                [
                    {"record": str(r.ref), "result": r.result, "why": r.error}
                    for r in failures[:1000]
                ],
                hide_index=True,
            )
    if st.button("Done", key="bulk_done"):
        st.session_state.pop("bulk_job", None)
        st.rerun(scope="app")


def ready_to_resolve_panel(settings: Settings, who: Identity) -> None:
    """When the results topic reports successful replays: one action resolves them all."""
    if not settings.results_topic:
        return
    with Database.of(settings).read() as con:
        ready = ready_to_resolve(con, settings.dlq_topic)
    if not ready:
        return
    st.success(
        f"{len(ready):,} replayed record{'s' if len(ready) != 1 else ''} succeeded "
        "according to the results topic: ready to resolve.",
        icon=":material/done_all:",
    )
    if who.can_act and st.button("Resolve them all…"):
        st.session_state[PENDING] = {"kind": "ready"}
    if st.session_state.get(PENDING, {}).get("kind") == "ready":
        ready_dialog(settings, who, ready)


def view_once(settings: Settings, who: Identity, ref: RecordRef, trace_id: str | None) -> None:
    """Audit a record view once per session (the runbook audits `view`)."""
    seen: set[str] = st.session_state.setdefault("viewed", set())
    if str(ref) in seen:
        return
    seen.add(str(ref))
    try:
        for missing in audit_look(settings, who, "view", ref, trace_id):
            st.caption(f"(this view is not fully audited: {ui.plain(missing)})")
    except Exception as exc:  # noqa: BLE001 (a busy file must not hide the record)
        st.caption(f"(this view could not be audited: {ui.plain(str(exc))})")


def reveal(
    settings: Settings, who: Identity, ref: RecordRef | None = None, trace_id: str | None = None
) -> bool:
    """Whether URL credentials may be shown unmasked, having audited it (once per session and
    record, or list): only an operator may, and only when that could be audited."""
    seen: set[str] = st.session_state.setdefault("revealed", set())
    key = str(ref) if ref else ""
    if key in seen:
        return True
    try:
        audit_reveal(settings, who, ref, trace_id)
    except PermissionError as exc:
        st.caption(f"URL credentials stay masked: {ui.plain(str(exc))}")
        return False
    except Exception as exc:  # noqa: BLE001 (what cannot be audited is not shown)
        st.caption(f"URL credentials stay masked: the audit could not record it ({exc}).")
        return False
    seen.add(key)
    return True


def outcome_note(columns: dict[str, Any], topic: str) -> None:
    """What became of the record's replay."""
    outcome = columns.get("replay_outcome")
    if not outcome:
        return
    when = columns.get("replayed_at")
    times = f" ({columns.get('replays')} replays)" if (columns.get("replays") or 0) > 1 else ""
    if outcome == "failed-again":
        again = f"{topic}:{columns.get('again_partition')}:{columns.get('again_offset')}"
        st.error(
            f"Replay failed: after the replay at {when:%Y-%m-%d %H:%M} UTC{times} its "
            f"trace id landed in the DLQ again as {again} (an escalation criterion)."
        )
        dlq_choice.page_link(
            "pages/messages.py", label=f"Open {again}", query_params={"record": again}
        )
    elif outcome == "succeeded":
        st.success(
            f"Replayed at {when:%Y-%m-%d %H:%M} UTC{times}; the results topic reports "
            "success: ready to resolve."
        )
    else:
        st.info(f"Replayed at {when:%Y-%m-%d %H:%M} UTC{times}; waiting for the outcome.")

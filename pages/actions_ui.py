"""The widgets around replay and resolve: identity, confirmation dialogs, bulk progress.

Dialogs open from a session-state flag (not from the button's own return value), so they
survive the reruns their widgets cause and can be driven by AppTest as well as a browser.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from dashboard.actions import identity
from dashboard.actions.audit_entries import audit_look
from dashboard.actions.identity import Identity
from dashboard.actions.preview import count_confirmed, count_to_confirm, preview
from dashboard.actions.run import execute
from dashboard.actions.selection import matching, ready_to_resolve
from dashboard.actions.values import (
    Action,
    Preview,
    Progress,
    RecordRef,
    Refused,
    Report,
    Request,
)
from dashboard.adapters.db import Database
from dashboard.settings import Settings
from dashboard.text.urls import mask_url
from dashboard.triage.messages import MessageFilter
from pages import ui

PENDING = "pending_action"  # session-state key of the dialog to show


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
    return identity.resolve(settings, str(user) if user else None, headers)


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
        _single_dialog(settings, who, ref, trace_id, url, pending["kind"])


def _dismissed() -> None:
    st.session_state.pop(PENDING, None)


@st.dialog("Confirm", width="large")
def _single_dialog(
    settings: Settings,
    who: Identity,
    ref: RecordRef,
    trace_id: str | None,
    url: str | None,
    kind: str,
) -> None:
    trace = ui.plain(trace_id or "(no trace id)")
    if kind == "resolve":
        st.markdown(
            f"**Resolve** record `{ref}` (trace id {trace}). It is marked resolved by "
            f"{ui.plain(who.label)}; the review group `{settings.review_group}`'s offset moves "
            "only across records that are all resolved. Nothing is sent to Kafka's pending "
            "topic; the record stays in Kafka until retention removes it."
        )
    else:
        st.markdown(
            f"**Replay** record `{ref}` (trace id {trace}): its original task goes to "
            f"`{settings.pending_topic}` with retry count 0, `replayed_from_dlq: true` and the "
            "DLQ partition and offset in its metadata, keyed by the trace id. The DLQ record "
            "stays until someone resolves it."
        )
    new_url = None
    if kind == "replay-new-url":
        st.caption(f"Current URL: {ui.plain(mask_url(url or '(none)'))}")
        new_url = st.text_input(
            "New URL", key="new_url", placeholder="https://... (a fresh presigned URL)"
        )
    reason = st.text_input("Reason (ticket or note)", key="action_reason")
    left, right = st.columns(2)
    label = "Resolve" if kind == "resolve" else "Replay"
    if left.button(
        label,
        type="primary",
        disabled=not reason.strip() or (kind == "replay-new-url" and not (new_url or "").strip()),
    ):
        request = Request(
            action="resolve" if kind == "resolve" else "replay",
            refs=[ref],
            identity=who,
            reason=reason,
            new_url=new_url or None,
        )
        _run_and_report(settings, request)
    if right.button("Cancel"):
        st.session_state.pop(PENDING, None)
        st.rerun()


def _run_and_report(settings: Settings, request: Request) -> None:
    try:
        report = execute(settings, request)
    except Refused as exc:
        st.error(f"Refused: {exc}")
        return
    except Exception as exc:  # noqa: BLE001 (Kafka or DuckDB trouble: say it, keep the page)
        st.error(f"Failed: {exc}")
        return
    st.session_state.pop(PENDING, None)
    st.session_state["last_report"] = report.summary() + "".join(
        f"\n- {r.ref}: {r.result}: {r.error}" for r in report.results if r.error
    )
    st.rerun()


def last_report() -> None:
    text = st.session_state.pop("last_report", None)
    if text:
        (st.warning if "failed" in text or "refused" in text else st.success)(
            ui.plain(text.splitlines()[0])
            + "".join("  \n" + ui.plain(line) for line in text.splitlines()[1:])
        )


# -- bulk ------------------------------------------------------------------------------------


@dataclass
class BulkJob:
    """A bulk action running on a thread of its own, so the page can show its progress and
    offer a cancel while it runs."""

    request: Request
    cancel: threading.Event = field(default_factory=threading.Event)
    progress: Progress | None = None
    report: Report | None = None
    error: str | None = None
    started: float = field(default_factory=time.monotonic)
    thread: threading.Thread | None = None

    def start(self, settings: Settings) -> None:
        def work() -> None:
            try:
                self.report = execute(
                    settings, self.request, cancel=self.cancel, progress=self._on_progress
                )
            except Exception as exc:  # noqa: BLE001 (reported on the page)
                self.error = str(exc)

        self.thread = threading.Thread(target=work, name="dlq-bulk-action", daemon=True)
        self.thread.start()

    def _on_progress(self, progress: Progress) -> None:
        self.progress = progress

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()


def bulk_panel(settings: Settings, who: Identity, flt: MessageFilter, total: int) -> None:
    """Act on everything the current filter matches: preview, dry run, rate, confirm."""
    job: BulkJob | None = st.session_state.get("bulk_job")
    if job is not None:
        _bulk_progress()
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
            with ui.database(settings).read() as con:
                refs = matching(con, settings.dlq_topic, flt)
                st.session_state["bulk_preview"] = (
                    refs,
                    preview(con, action, refs, override),
                    action,
                    override,
                )
        stored = st.session_state.get("bulk_preview")
        if not stored or stored[2] != action or stored[3] != override:
            return
        refs, plan, _, _ = stored
        _show_preview(plan)
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
            _bulk_dialog(settings, request, plan)


def _show_preview(plan: Preview) -> None:
    st.markdown(f"**{plan.eligible:,}** records would be acted on; {len(plan.refused):,} refused.")
    cols = st.columns(3)
    for col, (title, groups) in zip(
        cols,
        (
            ("Category", plan.by_category),
            ("Signature", plan.by_signature),
            ("Domain", plan.by_domain),
        ),
        strict=True,
    ):
        col.dataframe([{title: k, "records": n} for k, n in groups], hide_index=True)
    if plan.samples:
        st.dataframe(
            [
                {
                    "record": str(s.ref),
                    "trace id": s.trace_id,
                    "category": s.error_category,
                    "error signature": s.error_signature,
                }
                for s in plan.samples
            ],
            hide_index=True,
        )
    if plan.refused:
        with st.expander(f"{len(plan.refused):,} refused"):
            st.dataframe(
                [{"record": str(r), "why": why} for r, why in plan.refused[:500]], hide_index=True
            )


@st.dialog("Confirm bulk action", width="large", on_dismiss=_dismissed)
def _bulk_dialog(settings: Settings, request: Request, plan: Preview) -> None:
    verb = "Replay" if request.action == "replay" else "Resolve"
    where = (
        f"to `{settings.pending_topic}`"
        if request.action == "replay"
        else f"(review group `{settings.review_group}`)"
    )
    st.markdown(
        f"**{verb} {plan.eligible:,} records** {where}, at most {request.rate:g} per second"
        f"{', as a dry run' if request.dry_run else ''}. Reason: {ui.plain(request.reason)}. "
        "You can cancel while it runs; what is done by then stays done and is audited."
    )
    expected = count_to_confirm(settings, plan)
    typed = ""
    if expected is not None:
        typed = st.text_input(
            f"Type the number of records ({expected}) to confirm", key="bulk_typed_count"
        )
    left, right = st.columns(2)
    if left.button(
        f"{verb} {plan.eligible:,} records",
        type="primary",
        disabled=not count_confirmed(settings, plan, typed),
    ):
        job = BulkJob(request)
        job.start(settings)
        st.session_state["bulk_job"] = job
        st.session_state.pop(PENDING, None)
        st.session_state.pop("bulk_preview", None)
        st.rerun()
    if right.button("Cancel", key="bulk_dialog_cancel"):
        st.session_state.pop(PENDING, None)
        st.rerun()


@st.fragment(run_every=1.0)
def _bulk_progress() -> None:
    job: BulkJob | None = st.session_state.get("bulk_job")
    if job is None:
        return
    total = len(job.request.refs)
    done = job.progress.done if job.progress else 0
    st.progress(
        done / total if total else 1.0,
        text=f"{job.request.action}: {done:,} of {total:,}"
        + (
            f" ({job.progress.succeeded:,} ok, {job.progress.failed:,} failed, "
            f"{job.progress.refused:,} refused)"
            if job.progress
            else ""
        ),
    )
    if job.running:
        if st.button("Cancel the bulk action", icon=":material/stop_circle:"):
            job.cancel.set()
        return
    if job.error:
        st.error(f"The bulk action stopped: {ui.plain(job.error)}")
    elif job.report is not None:
        report_text = job.report.summary()
        (st.warning if job.report.cancelled or job.report.count("failure") else st.success)(
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
        _ready_dialog(settings, who, ready)


@st.dialog("Resolve the successful replays", on_dismiss=_dismissed)
def _ready_dialog(settings: Settings, who: Identity, ready: list[RecordRef]) -> None:
    st.markdown(f"**Resolve {len(ready):,} records** whose replay succeeded.")
    reason = st.text_input("Reason", value="replay succeeded (results topic)", key="ready_reason")
    if st.button("Resolve", type="primary", disabled=not reason.strip()):
        _run_and_report(
            settings,
            Request(
                action="resolve",
                refs=ready,
                identity=who,
                reason=reason,
                selection="ready to resolve",
            ),
        )


def view_once(settings: Settings, who: Identity, ref: RecordRef, trace_id: str | None) -> None:
    """Audit a record view once per session (the runbook audits `view`)."""
    seen: set[str] = st.session_state.setdefault("viewed", set())
    if str(ref) in seen:
        return
    seen.add(str(ref))
    try:
        audit_look(settings, who, "view", ref, trace_id)
    except Exception as exc:  # noqa: BLE001 (a busy file must not hide the record)
        st.caption(f"(this view could not be audited: {ui.plain(str(exc))})")


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
        st.page_link("pages/messages.py", label=f"Open {again}", query_params={"record": again})
    elif outcome == "succeeded":
        st.success(
            f"Replayed at {when:%Y-%m-%d %H:%M} UTC{times}; the results topic reports "
            "success: ready to resolve."
        )
    else:
        st.info(f"Replayed at {when:%Y-%m-%d %H:%M} UTC{times}; waiting for the outcome.")

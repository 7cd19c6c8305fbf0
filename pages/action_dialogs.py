"""The confirmation dialogs of replay and resolve, and the bulk job a confirmed bulk starts.

A dialog opens from a session-state flag (`PENDING`, not from the button's own return value),
so it survives the reruns its widgets cause and can be driven by AppTest as well as a browser.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace

import streamlit as st

from dashboard.actions.identity import Identity
from dashboard.actions.preview import (
    candidates,
    count_confirmed,
    count_to_confirm,
    replay_destination,
)
from dashboard.actions.replay_formats import replay_key_field
from dashboard.actions.run import execute
from dashboard.actions.values import Preview, Progress, RecordRef, Refused, Report, Request
from dashboard.adapters.kafka import ANSWER_TIMEOUT_SECONDS
from dashboard.settings import Settings
from dashboard.text.urls import mask_url
from pages import ui

PENDING = "pending_action"  # session-state key of the dialog to show


def dismissed() -> None:
    st.session_state.pop(PENDING, None)


@st.dialog("Confirm", width="large")
def single_dialog(
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
    elif (dlq := settings.dlq_by_topic(ref.topic)) is not None and dlq.replays_to_origin:
        with ui.database(settings).read() as con:
            origins = [c.origin_topic for c in candidates(con, [ref]) if c.origin_topic]
        st.markdown(
            f"**Replay** record `{ref}` (trace id {trace}): its message goes back "
            f"{replay_destination(settings, origins, code=True)} as it was, with the replay "
            "markers as extra headers. The DLQ record stays until someone resolves it."
        )
    else:
        keyed_by = replay_key_field(dlq.format if dlq is not None else "").replace("_", " ")
        st.markdown(
            f"**Replay** record `{ref}` (trace id {trace}): its original task goes to "
            f"`{settings.pending_topic}` with retry count 0, `replayed_from_dlq: true` and the "
            f"DLQ partition and offset in its metadata, keyed by the {keyed_by}. The DLQ "
            "record stays until someone resolves it."
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
        with st.spinner(
            f"{label} of {ref}: waiting for Kafka (at most {ANSWER_TIMEOUT_SECONDS:g} s)…"
        ):
            run_and_report(settings, request)
    if right.button("Cancel"):
        st.session_state.pop(PENDING, None)
        st.rerun()


def run_and_report(settings: Settings, request: Request) -> None:
    try:
        report = execute(settings, request)
    except Refused as exc:
        st.error(f"Refused: {exc}")
        return
    except Exception as exc:  # noqa: BLE001 (Kafka or DuckDB trouble: say it, keep the page)
        st.error(f"Failed: {exc}")
        return
    if report.error:
        # Nothing was done (Kafka not answering): said here, in the dialog the operator is
        # looking at, which stays open to try again or cancel.
        st.error(ui.plain(report.summary()))
        return
    st.session_state.pop(PENDING, None)
    st.session_state["last_report"] = report.summary() + "".join(
        f"\n- {r.ref}: {r.result}: {r.error}" for r in report.results if r.error
    )
    st.rerun()


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
    # A progress run saw the job running: the rest of the page still shows the records as
    # they were before it, until the whole page runs again.
    page_stale: bool = False

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


# The dialog's first empty field (the reason, else the count) gets the focus when it opens, so
# the operator types straight away. Streamlit has no autofocus; this static script (no record
# content in it) runs in the page and leaves the focus alone once it is in one of the fields.
_FOCUS_FIRST_EMPTY_FIELD = """
<script>
(() => {
  const fields = '.st-key-bulk_dialog_reason input, .st-key-bulk_typed_count input';
  let tries = 0;
  const focus = () => {
    const inputs = [...document.querySelectorAll(fields)];
    if (!inputs.length) {
      if (tries++ < 50) setTimeout(focus, 100);
      return;
    }
    if (inputs.includes(document.activeElement)) return;
    (inputs.find((input) => !input.value) || inputs[inputs.length - 1]).focus();
  };
  focus();
})();
</script>
"""


@st.dialog("Confirm bulk action", width="large", on_dismiss=dismissed)
def bulk_dialog(
    settings: Settings,
    request: Request,
    plan: Preview,
    *,
    ask_reason: bool = False,
    note: str | None = None,
) -> None:
    """Confirm `request`. With `ask_reason` the dialog itself asks for the reason and shows
    the preview (it was opened straight from a button, not from the bulk panel). `note`:
    said first (the selection changed since the button that opened it was drawn)."""
    if note:
        st.info(ui.plain(note), icon=":material/update:")
    verb = "Replay" if request.action == "replay" else "Resolve"
    where = (
        replay_destination(settings, plan.origins, code=True)
        if request.action == "replay"
        else f"(review group `{settings.review_group}`)"
    )
    reason_note = "" if ask_reason else f" Reason: {ui.plain(request.reason)}."
    st.markdown(
        f"**{verb} {plan.eligible:,} records** {where}, at most {request.rate:g} per second"
        f"{', as a dry run' if request.dry_run else ''}.{reason_note} "
        "You can cancel while it runs; what is done by then stays done and is audited."
    )
    if ask_reason:
        show_preview(plan)
        # live: the typed text reaches the app while typing, so the button below enables
        # without Enter or a click elsewhere (text inputs otherwise send on Enter or blur).
        reason = st.text_input("Reason (ticket or note)", key="bulk_dialog_reason", live=True)
        request = replace(request, reason=reason.strip())
    expected = count_to_confirm(settings, plan)
    typed = ""
    if expected is not None:
        typed = st.text_input(
            f"Type the number of records ({expected}) to confirm",
            key="bulk_typed_count",
            live=True,
        )
        if typed.strip() and not count_confirmed(settings, plan, typed):
            # Say why the button stays grey: a disabled button alone explains nothing.
            st.caption(
                f":material/error: {ui.plain(typed.strip()[:20])} is not {expected}: type the "
                "number of records this acts on."
            )
    if not request.reason:
        st.caption("A reason (a ticket or a note) is needed before it can start.")
    st.html(_FOCUS_FIRST_EMPTY_FIELD, unsafe_allow_javascript=True)
    left, right = st.columns(2)
    label = (
        f"Dry run: check {plan.eligible:,} records"
        if request.dry_run
        else f"{verb} {plan.eligible:,} records"
    )
    if left.button(
        label,
        type="primary",
        disabled=not request.reason or not count_confirmed(settings, plan, typed),
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


def show_preview(plan: Preview) -> None:
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
        col.dataframe(
            [{"records": n, title: k} for k, n in groups],
            hide_index=True,
            height=min(36 + 35 * max(1, len(groups)), 180),
            column_config={title: ui.long_text(title)},
        )
    if plan.samples:
        st.dataframe(
            [
                {
                    "record": str(s.ref),
                    "category": s.error_category,
                    "trace id": s.trace_id,
                    "error signature": s.error_signature,
                }
                for s in plan.samples
            ],
            hide_index=True,
            column_config={"error signature": ui.long_text("error signature", "large")},
        )
    if plan.refused:
        with st.expander(f"{len(plan.refused):,} refused"):
            st.dataframe(
                [{"record": str(r), "why": why} for r, why in plan.refused[:500]],
                hide_index=True,
                column_config={"why": ui.long_text("why", "large")},
            )


@st.dialog("Resolve the successful replays", on_dismiss=dismissed)
def ready_dialog(settings: Settings, who: Identity, ready: list[RecordRef]) -> None:
    st.markdown(f"**Resolve {len(ready):,} records** whose replay succeeded.")
    reason = st.text_input("Reason", value="replay succeeded (results topic)", key="ready_reason")
    if st.button("Resolve", type="primary", disabled=not reason.strip()):
        run_and_report(
            settings,
            Request(
                action="resolve",
                refs=ready,
                identity=who,
                reason=reason,
                selection="ready to resolve",
            ),
        )

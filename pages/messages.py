"""Messages: search the whole snapshot, read any record in full. Every filter lives in the
URL, so a view can be shared and reopened."""

from __future__ import annotations

import json
from typing import Literal

import streamlit as st

from dashboard.actions.values import RecordRef
from dashboard.text.limits import CELL_CHARS, FIELD_CHARS, capped
from dashboard.text.urls import mask_text, mask_url
from dashboard.triage import messages, views
from dashboard.triage.dimensions import NO_TEXT_LABEL, NONE_LABEL
from dashboard.triage.filters import RecordFilter
from dashboard.triage.states import STATE_CHOICES, help_text, label
from pages import actions_ui, ui

scope = ui.dlq_scope()
settings, topic = scope.settings, scope.topics
who = actions_ui.page_identity(settings)

st.title("Messages")
if scope.across_all:
    st.caption("Across all DLQs: each record names its DLQ.")
ui.snapshot_as_of(settings)
actions_ui.last_report()
if not scope.across_all:
    actions_ui.ready_to_resolve_panel(settings, who)

# -- filters (each widget is bound to the query parameter of the same name) -----------------
q: Literal["query-params"] = "query-params"
ui.drop_unusable_numbers(("partition", "offset_from", "offset_to", "hour"), {"hour": (0, 23)})
ui.drop_unusable_days(("day",))
# A link's time bound with a time of day or a time ago (an alert's `from=10m`) applies
# below, beside the date widgets, which take whole days only.
link_moments = ui.link_moments(("from", "until"))
# Checked after the widgets: a value a bound widget cannot take is dropped without a word
# (earlier versions' state words are today's first, so they are not counted as dropped).
ui.accept_earlier_state_words()
given = ui.url_params(
    ("category", "retry_count", "states", "from", "until", "sort", "desc", "size")
)
a, b, c = st.columns(3)
a.text_input("Trace ID contains", key="trace", bind=q)
b.text_input("URL contains", key="url", bind=q)
c.text_input("Domain contains", key="domain", bind=q)
a, b = st.columns([3, 2])
a.multiselect(
    "Error category",
    ["permanent", "transient", "auth", "circuit_open", "unknown", NONE_LABEL],
    key="category",
    bind=q,
    accept_new_options=True,
)
b.pills("Retry count", ["0", "1", "2", "3", "4"], selection_mode="multi", key="retry_count", bind=q)
# A row of its own: every state's pill whole at 1400 px (a narrow column scrolls them away).
st.pills(
    "State",
    list(STATE_CHOICES),
    format_func=label,
    selection_mode="multi",
    key="states",
    bind=q,
    help=" ".join(f"{label(w)}: {help_text(w)}" for w in STATE_CHOICES),
)
with st.expander("More filters"):
    a, b, c = st.columns(3)
    a.text_input("Error text contains", key="error", bind=q)
    b.text_input("Error signature (exact)", key="signature", bind=q)
    c.text_input("Domain (exact)", key="domain_is", bind=q)
    a, b, c = st.columns(3)
    a.text_input("Event type / subtype (exact)", key="event", bind=q)
    b.text_input("File type", key="file_type", bind=q)
    c.number_input("Partition", min_value=0, value=None, step=1, key="partition", bind=q)
    a, b, c, d = st.columns(4)
    a.number_input("Offset from", min_value=0, value=None, step=1, key="offset_from", bind=q)
    b.number_input("Offset to", min_value=0, value=None, step=1, key="offset_to", bind=q)
    # Unbound while the link gives a time (see ui.link_moments): a day picked here wins.
    for box, name, title in (
        (c, "from", "Arrived from (UTC)"),
        (d, "until", "Arrived until (UTC, inclusive)"),
    ):
        if name in link_moments:
            box.date_input(title, value=None, key=f"{name}_day")
        else:
            box.date_input(title, value=None, key=name, bind=q)
    a, b, c, d = st.columns(4)
    a.number_input(
        "Hour of day (UTC)", min_value=0, max_value=23, value=None, step=1, key="hour", bind=q
    )
    b.text_input("Day (YYYY-MM-DD)", key="day", bind=q)
    c.text_input("Header name contains", key="header_key", bind=q)
    d.text_input("Header value contains", key="header_value", bind=q)
widgets = st.session_state.to_dict()
for name, (raw, moment) in link_moments.items():
    day = widgets.get(f"{name}_day")
    widgets[name] = day if day is not None else moment
    if day is None:
        bound = "since" if name == "from" else "before"
        st.caption(
            f"Arrived {bound} {moment:%Y-%m-%d %H:%M} UTC: the link's {name}={ui.plain(raw)}."
        )
flt = RecordFilter.from_widgets(widgets)
if (contradiction := flt.contradiction()) is not None:
    st.warning(
        f"{contradiction}: no record can match. Swap the bounds?", icon=":material/swap_horiz:"
    )

a, b, c, d = st.columns([2, 1, 1, 2])
sort = a.selectbox("Sort by", list(messages.SORT_COLUMNS), key="sort", bind=q)
descending = b.toggle(
    "Descending",
    value=True,
    key="desc",
    bind=q,
    help="Newest first by time, highest first by offset or retry count, Z to A by text.",
)
page_size = c.selectbox("Per page", [25, 50, 100, 200], index=1, key="size", bind=q)
show_secrets = d.toggle(
    "Show URL credentials",
    value=False,
    key="secrets",
    disabled=not who.can_act,
    help="Presigned URLs carry credentials; they are masked by default. Showing them is "
    "for operators, and audited.",
) and actions_ui.reveal(settings, who)
ui.say_ignored_params(given)
page = int(st.session_state.get("page_number", 1))
result = ui.cached(settings, messages.search, topic, flt, sort, descending, page, page_size)
if result.total == 0 and flt.category:
    unknown, known = ui.cached(settings, messages.categories_unknown, topic, flt)
    if unknown:
        st.caption(
            f":material/warning: No record has the category {ui.plain(', '.join(unknown))}; "
            f"the snapshot's categories: {ui.plain(', '.join(known) or 'none')}."
        )

summary, pager = st.columns([4, 1])
summary.caption(
    f"{result.total:,} {'record matches' if result.total == 1 else 'records match'} "
    f"({ui.plain(flt.describe())}); page {result.page} of {result.pages}."
)
if result.pages > 1:
    pager.number_input(
        "Page",
        min_value=1,
        max_value=result.pages,
        value=result.page,
        step=1,
        key="page_number",
        label_visibility="collapsed",
    )

_SCROLL_TO_RECORD = """
<script>
(() => {
  // Tables above the record take their height after it is drawn: scroll again as they do,
  // for two seconds, unless the reader scrolls first.
  let tries = 0;
  let moved = false;
  const stop = () => { moved = true; };
  for (const kind of ["wheel", "touchstart", "keydown", "mousedown"]) {
    window.addEventListener(kind, stop, { once: true, passive: true });
  }
  const scroll = () => {
    const heading = document.getElementById("record");
    if (moved) return;
    if (heading) heading.scrollIntoView({ block: "start" });
    if (tries++ < 20) setTimeout(scroll, 100);
  };
  scroll();
})();
</script>
"""

url_of = (lambda u: u) if show_secrets else mask_url
text_of = (lambda t: t) if show_secrets else mask_text


def show_url(url: str) -> str:
    return url_of(capped(url, CELL_CHARS))


def show_text(text: str) -> str:
    return text_of(capped(text, CELL_CHARS))


table = st.dataframe(
    [
        {
            **({"DLQ": scope.name_of(row.topic)} if scope.across_all else {}),
            "state": row.state_label,
            "record": row.coordinates,
            "time (UTC)": row.timestamp,
            "retry": row.retry_count,
            "category": row.error_category,
            "error": show_text(row.error_message)
            if row.error_message
            else (row.parse_error or NO_TEXT_LABEL),
            "domain": row.domain,
            "trace id": row.trace_id,
            "url": show_url(row.attachment_url) if row.attachment_url else None,
        }
        for row in result.rows
    ],
    hide_index=True,
    on_select="rerun",
    selection_mode="single-row",
    key="results",
    height=min(36 + 35 * max(1, len(result.rows)), 640),
    column_config={
        "DLQ": st.column_config.TextColumn("DLQ", width=110),
        "state": st.column_config.TextColumn("state", width=150),
        "record": ui.long_text("record", 190),
        "time (UTC)": ui.TIME_COLUMN,
        "retry": st.column_config.NumberColumn("retry", width=50),
        "category": st.column_config.TextColumn("category", width=95),
        "error": ui.long_text("error", 330),
        "domain": ui.long_text("domain", 200),
        "trace id": ui.long_text("trace id", "small"),
        "url": ui.long_text("url", "medium"),
    },
)

if scope.across_all:
    st.caption(
        "Bulk actions act on one DLQ at a time: pick one in the sidebar to replay or resolve "
        "these records in bulk. A record opened below acts through its own DLQ."
    )
else:
    actions_ui.bulk_panel(settings, who, flt, result.total)

# -- one record -----------------------------------------------------------------------------
selected = table.selection.rows if hasattr(table, "selection") else []
record_param = st.query_params.get("record", "")
if selected:
    chosen = result.rows[selected[0]]
    st.query_params["record"] = chosen.coordinates
    record_param = chosen.coordinates
if not record_param:
    st.caption("Select a row to read the record in full.")
    st.stop()

try:
    rec_topic, rec_partition, rec_offset = record_param.rsplit(":", 2)
    coordinates = (rec_topic, int(rec_partition), int(rec_offset))
except ValueError:
    st.error("The `record` in the URL must be topic:partition:offset.")
    st.stop()
detail = ui.cached(settings, messages.record_detail, *coordinates)
if detail is None:
    st.warning(f"No record {record_param} in the snapshot.")
    st.stop()

st.divider()
st.subheader(f"Record {record_param}", anchor="record")
if not selected and st.session_state.get("scrolled_to_record") != record_param:
    # A link to one record (an alert's sample, an escalation pack) opens on it, not on the
    # table above it; once per record, so a later rerun leaves the reader where they are.
    st.session_state["scrolled_to_record"] = record_param
    st.html(_SCROLL_TO_RECORD, unsafe_allow_javascript=True)
# The record's own DLQ replays and resolves it, whichever DLQ the page shows.
settings = scope.settings_of(rec_topic)
st.caption(scope.describe(rec_topic))
ref = RecordRef(*coordinates)
trace_of_record = detail.columns.get("trace_id")
actions_ui.view_once(settings, who, ref, trace_of_record)
show_secrets = show_secrets and actions_ui.reveal(settings, who, ref, trace_of_record)
actions_ui.outcome_note(detail.columns, rec_topic)
actions_ui.record_actions(
    settings,
    who,
    ref,
    trace_of_record,
    str(detail.columns.get("state")),
    detail.columns.get("attachment_url"),
)
cols = st.columns(2)
for i, section in enumerate(views.view_sections(detail, show_secrets)):
    with cols[i % 2]:
        st.markdown(f"**{section.title}**")
        st.dataframe(
            [{"field": k, "value": v} for k, v in section.rows],
            hide_index=True,
        )
with st.expander("Original task (JSON)"):
    st.code(
        text_of(capped(json.dumps(detail.original_task, indent=2, ensure_ascii=False), FIELD_CHARS))
        if detail.original_task is not None
        else "no original task in this record",
        language="json",
    )
with st.expander("Raw value"):
    st.code(views.raw_value(detail, show_secrets, FIELD_CHARS), language=None, wrap_lines=True)
    if detail.value_text is not None and len(detail.value_text) > FIELD_CHARS:
        st.download_button(
            f"Download the whole value ({len(detail.value_text):,} characters)",
            views.raw_value(detail, show_secrets),
            file_name=f"{ref.topic}-{ref.partition}-{ref.offset}.txt",
            mime="text/plain",
            on_click="ignore",
        )
st.markdown(
    f"**History**: {len(detail.history)} other record"
    f"{'s' if len(detail.history) != 1 else ''} with this trace id"
)
if detail.history:
    st.dataframe(
        [
            {
                "state": h.state_label,
                "record": h.coordinates,
                "time (UTC)": h.timestamp,
                "retry": h.retry_count,
                "category": h.error_category,
                "error": show_text(h.error_message) if h.error_message else NO_TEXT_LABEL,
            }
            for h in detail.history
        ],
        hide_index=True,
        column_config={"time (UTC)": ui.TIME_COLUMN, "error": ui.long_text("error", "large")},
    )

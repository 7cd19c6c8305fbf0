"""Overview: how big the DLQ is, how fast it grows, against the runbook's bands and alerts."""

from __future__ import annotations

from datetime import datetime, timedelta

import streamlit as st

from dashboard.exports import charts
from dashboard.text.moments import short_age
from dashboard.triage import alerts, escalation, overview, runbook, severity, states
from dashboard.triage.dlq_summary import growth_now, severity_of
from dashboard.triage.states import BACKLOG, BACKLOG_STATES, RESOLVED
from pages import dlq_choice, ui
from pages.incident_panel import incident_section

settings = ui.app_settings()
topic = settings.dlq_topic

st.title("DLQ overview")
st.caption(f"`{topic}` · severity bands, alerts and escalation criteria from the DLQ runbook")
ui.refresh_button(settings)
# The page's dozen queries share one connection (the entry point opens it for every page;
# this keeps it when the page runs alone, as under AppTest): each new one starts cold.
with ui.reads_of_this_run():
    as_of = ui.snapshot_as_of(settings)
    # The incident first: what is happening and the one action on it, on the first screen.
    incident_section(settings, as_of)
    size = ui.cached(settings, overview.dlq_size, topic)
    if size.in_topic == 0 and size.backlog == 0:
        st.success(f"The DLQ topic `{topic}` is empty: nothing to triage.", icon=":material/inbox:")

    # -- severity -------------------------------------------------------------------------------
    window = settings.rules.rate_window_minutes
    growth_severity = ui.cached(settings, growth_now, settings, as_of)
    now_severity = severity_of(growth_severity, size.backlog, settings)
    rate, size_severity, current = now_severity.growth, now_severity.size, now_severity.current

    severity_box = {
        severity.Level.NORMAL: st.success,
        severity.Level.WARNING: st.warning,
        severity.Level.CRITICAL: st.error,
    }[current.level]
    severity_box(
        f"**{current.level.label}**: {current.action} (expected response: {current.response_time})"
        f"  \nGrowth: {rate.reason}. Size: {size_severity.reason}.",
        icon=":material/emergency:" if current.level == severity.Level.CRITICAL else None,
    )

    # -- size -----------------------------------------------------------------------------------
    # The words and their help come from dashboard.triage.states, as in the CLI and the exports.
    oldest = ui.cached(settings, overview.oldest_open, topic)
    in_topic, backlog_metric, oldest_metric, resolved_metric = st.columns(4)
    in_topic.metric(
        "Records in the topic",
        f"{size.in_topic:,}",
        help="High minus low watermark, summed over partitions, at the last ingest.",
    )
    backlog_metric.metric(
        states.label(BACKLOG),
        f"{size.backlog:,}",
        help=states.help_text(BACKLOG) + f" {size.unparseable:,} of them could not be parsed.",
    )
    oldest_metric.metric(
        "Oldest open record",
        "-" if oldest is None else short_age(as_of - oldest),
        delta=None if oldest is None else f"since {oldest:%Y-%m-%d %H:%M} UTC",
        delta_color="off",
        delta_arrow="off",
        help="How long the oldest open record (nothing done yet, still in Kafka) has waited.",
    )
    resolved_metric.metric(
        states.label(RESOLVED), f"{size.states.resolved:,}", help=states.help_text(RESOLVED)
    )
    for column, word in zip(st.columns(len(BACKLOG_STATES)), BACKLOG_STATES, strict=True):
        column.metric(states.label(word), f"{size.states.of(word):,}", help=states.help_text(word))
    notes = []
    if size.not_ingested:
        notes.append(f"{size.not_ingested:,} records in the topic are not in the snapshot yet")
    if size.gone:
        notes.append(f"{size.gone:,} records deleted by retention are kept in the snapshot")
    if notes:
        st.caption("; ".join(notes) + ".")
    with st.expander("Per partition"):
        st.dataframe(
            [
                {
                    "partition": p.partition,
                    "low": p.low,
                    "high": p.high,
                    "review group committed": p.committed,
                    "in topic": p.in_topic,
                    **{states.lower_label(w): p.states.of(w) for w in (BACKLOG, *BACKLOG_STATES)},
                    states.lower_label(RESOLVED): p.states.resolved,
                    "not ingested": p.not_ingested,
                }
                for p in size.partitions
            ],
            hide_index=True,
        )

    # -- alerts ---------------------------------------------------------------------------------
    st.subheader("Alerts")
    lookback = timedelta(hours=24)
    # The incident panel's own query (same arguments: one cache entry serves both).
    backlog_minutes, per_minute = ui.cached(
        settings, overview.backlog_and_arrivals, topic, as_of - lookback, as_of, 1
    )
    statuses = alerts.evaluate_all(settings.alerts, per_minute, backlog_minutes, window, lookback)

    st.dataframe(
        [
            {
                "alert": s.rule.name,
                "state": {"ok": "ok", "pending": "pending", "firing": "FIRING"}[s.state],
                "since": s.since_text or "-",
                "condition": s.condition,
                "now": s.value_text,
            }
            for s in statuses
        ],
        hide_index=True,
    )

    # -- growth ---------------------------------------------------------------------------------
    st.subheader("Growth")
    ranges = {
        "Last hour": timedelta(hours=1),
        "Last 24 hours": timedelta(hours=24),
        "Last 7 days": timedelta(days=7),
    }
    choice = (
        st.segmented_control(
            "Time range",
            [*ranges, "Custom"],
            default="Last 24 hours",
            key="range",
            bind="query-params",
        )
        or "Last 24 hours"
    )
    start: datetime
    end: datetime = as_of
    if choice == "Custom":
        picked = st.date_input(
            "From - to (UTC)", value=(as_of.date() - timedelta(days=2), as_of.date()), key="days"
        )
        if isinstance(picked, tuple) and len(picked) == 2:
            start = datetime.combine(picked[0], datetime.min.time(), tzinfo=as_of.tzinfo)
            end = min(
                as_of,
                datetime.combine(picked[1], datetime.min.time(), tzinfo=as_of.tzinfo)
                + timedelta(days=1),
            )
        else:
            st.stop()
    else:
        start = as_of - ranges[choice]

    source = charts.ChartSource(topic, as_of)
    for minutes in (1, 10):
        buckets = ui.cached(settings, overview.arrivals, topic, start, end, minutes)
        bands = severity.rate_bands(settings.severity, minutes)
        figure = charts.growth_figure(buckets, bands, minutes, source)
        ui.plot(figure, key=f"growth-{minutes}", filename=f"dlq-growth-per-{minutes}min")
    history_bucket = 1 if end - start <= timedelta(hours=24) else 10
    history = ui.cached(settings, overview.backlog_history, topic, start, end, history_bucket)
    ui.plot(
        charts.backlog_figure(history, settings.severity.size_review_above, source),
        key="backlog",
        filename="dlq-backlog",
    )
    flow_bucket = 10 if end - start <= timedelta(hours=24) else 60
    moves = ui.cached(settings, overview.flow, topic, start, end, flow_bucket)
    ui.plot(charts.flow_figure(moves, flow_bucket, source), key="flow", filename="dlq-in-and-out")
    st.caption(
        "The runbook's table leaves a gap between 10 records per 10 minutes and 10 per minute; "
        "rates there are shown as Warning. Bands are in the chart's unit."
    )

    # -- escalation -----------------------------------------------------------------------------
    st.subheader(ui.plain(runbook.RUNBOOK.pack.criteria))
    st.caption('The runbook\'s "Escalate to L3 Engineering if", checked against the snapshot.')
    for criterion in ui.cached(settings, escalation.check, settings, as_of):
        mark = {
            True: ":red[:material/error: **met**]",
            False: ":green[:material/check_circle: not met]",
            None: ":gray[:material/help: check by hand]",
        }[criterion.met]
        with st.expander(f"{mark} · {criterion.title} · {ui.plain(criterion.summary)}"):
            if criterion.met is None:
                st.write("This one cannot be read from the DLQ; check it by hand.")
            elif not criterion.evidence:
                st.write("Nothing to show.")
            else:
                st.dataframe(criterion.evidence[:200], hide_index=True)
                for flt in criterion.evidence_filters[:5]:
                    label = ui.plain(", ".join(f"{k}={v}" for k, v in flt.items()))
                    dlq_choice.page_link(
                        "pages/messages.py",
                        label=f"Messages where {label}",
                        icon=":material/search:",
                        query_params=flt,
                    )

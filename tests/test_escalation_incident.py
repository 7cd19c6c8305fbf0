"""The escalation pack prepared after acting: it still describes the incident (its burst,
signature, domain and a sample of it), its actions per bulk with the records in an
appendix, alerts' "since" exact or plainly before the data, and file names that say what."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dashboard.actions import audit
from dashboard.actions.bulk_summary import summarise
from dashboard.actions.outcome_rows import REPLAY_COLUMNS
from dashboard.adapters import record_states
from dashboard.adapters.db import Database, insert_rows
from dashboard.exports import escalation_pack
from dashboard.exports.file_names import export_name
from dashboard.settings import AlertRule, Settings
from dashboard.triage import alerts, escalation, overview
from dashboard.triage.alerts import AlertStatus
from ingest.parse import RawRecord
from tests.snapshots import TOPIC, pipeline_record, write_snapshot

END = datetime(2026, 11, 29, 10, 30, tzinfo=UTC)
BURST_AT = END - timedelta(hours=2)
DOMAIN = "docs.partner-claims.example.com"
ERROR = "SSL certificate verification failed: certificate has expired"
BURST = 60


def incident_records() -> list[RawRecord]:
    burst = [
        pipeline_record(
            0,
            i,
            BURST_AT + timedelta(seconds=8 * i),
            url=f"https://{DOMAIN}/claims/C-{i}/f.pdf",
            error=ERROR,
            category="transient",
        )
        for i in range(BURST)
    ]
    # After the burst, an unrelated 404: the newest record and the only one left unresolved.
    later = pipeline_record(
        0,
        BURST,
        END - timedelta(minutes=5),
        url="https://other.example.org/x/1.pdf",
        error="HTTP 404: Not Found",
        category="permanent",
    )
    return [*burst, later]


@pytest.fixture
def replayed_db(tmp_path: Path) -> Path:
    """The burst, all of it replayed in one bulk an hour ago (audited as the runner does)."""
    path = tmp_path / "incident.duckdb"
    write_snapshot(path, incident_records())
    bulk = "b0a1c2d3e4f5"
    selection = f"domain: {DOMAIN}; signature: {ERROR}"
    start = {"action": "replay", "selected": BURST, "selection": selection}
    per_record = [
        audit.NewEntry(
            "replay",
            "ana",
            "success",
            topic=TOPIC,
            partition=0,
            offset=i,
            bulk_id=bulk,
            reason="INC-7",
        )
        for i in range(BURST)
    ]
    with Database(path).write() as con:
        con.execute("BEGIN TRANSACTION")
        moment = END - timedelta(hours=1)
        audit.append(
            con,
            [
                audit.NewEntry(
                    "bulk-start", "ana", "success", bulk_id=bulk, reason="INC-7", details=start
                )
            ],
            now=moment,
        )
        made = audit.append(con, per_record, now=moment)
        finish = {**start, "succeeded": BURST, "failed": 0, "refused": 0, "not_attempted": 0}
        audit.append(
            con,
            [
                audit.NewEntry(
                    "bulk-finish", "ana", "success", bulk_id=bulk, reason="INC-7", details=finish
                )
            ],
            now=moment,
        )
        insert_rows(
            con,
            "replays",
            REPLAY_COLUMNS,
            [
                [
                    TOPIC,
                    0,
                    e.offset,
                    moment,
                    None,
                    "ana",
                    e.audit_id,
                    bulk,
                    "pending",
                    0,
                    e.offset,
                    None,
                ]
                for e in made
            ],
        )
        record_states.refresh(con, [(TOPIC, 0, e.offset) for e in made])  # as the actions do
        con.execute("COMMIT")
    return path


def test_the_pack_after_a_bulk_replay_still_describes_the_burst(replayed_db: Path) -> None:
    settings = Settings(dlq_topic=TOPIC, db=replayed_db)
    with Database(replayed_db).read() as con:
        pack = escalation_pack.build(con, settings, END)
    assert pack.size.states.open == 1  # only the 404 is left untouched ...
    # ... yet the pack covers the incident: from the burst's first record, all states.
    assert pack.window.start == BURST_AT
    assert pack.window.why.startswith("first record of the burst of")
    (burst,) = pack.bursts
    assert (burst.signature, burst.domain, burst.total) == (ERROR, DOMAIN, BURST)
    assert pack.top_signatures[0] == (ERROR, BURST)
    assert pack.top_domains[0] == (DOMAIN, BURST)
    sample = {k: v for section in pack.sample for k, v in section.rows}
    assert sample["Error"] == ERROR  # not the unrelated 404, newer as it is
    # One line for the bulk, the 60 records in the appendix.
    (summary,) = pack.actions
    assert (summary.bulk_id, summary.actor, summary.selected) == ("b0a1c2d3e4f5", "ana", BURST)
    assert summary.outcome == f"{BURST} replayed" and DOMAIN in summary.selection
    assert len(pack.action_records) == BURST
    text = escalation_pack.to_markdown(pack)
    actions = text.split("## Actions already attempted")[1].split("## Appendix")[0]
    assert actions.count("\n- ") == 1 and "ana replay 60 records" in actions
    assert "bulk b0a1c2d3e4f5" in actions
    appendix = text.split("## Appendix: every record acted on")[1]
    assert appendix.count(f"{TOPIC}:0:") == BURST  # the appendix names every record
    assert DOMAIN in text and "SSL certificate verification failed" in text
    html = escalation_pack.to_html(pack)
    assert "Appendix: every record acted on" in html and DOMAIN in html


def test_a_dry_run_is_one_line_of_the_pack() -> None:
    entry = audit.AuditEntry(
        1,
        END,
        "resolve",
        "bo",
        None,
        None,
        None,
        None,
        "dry-run",
        None,
        "x",
        "abc",
        None,
        None,
        '{"selected": 9, "selection": "category: permanent", "would_resolve": 7}',
        "",
        "",
    )
    (summary,), records = summarise([entry])
    assert records == []
    assert summary.line == (
        "2026-11-29 10:30 UTC bo resolve 9 records [category: permanent] (bulk abc): "
        "dry run: would resolve 7, reason: x"
    )


def test_firing_since_is_exact_or_said_to_begin_before_the_data(tmp_path: Path) -> None:
    # Over the size limit from the first record, 3 days ago: the alert began before the data.
    path = tmp_path / "big.duckdb"
    first = END - timedelta(days=3)
    write_snapshot(path, [pipeline_record(0, i, first + timedelta(seconds=i)) for i in range(30)])
    rule = AlertRule(name="KafkaDLQSizeHigh", kind="size", threshold=20, for_minutes=30)
    settings = Settings(dlq_topic=TOPIC, db=path, alerts=(rule,))
    with Database(path).read() as con:
        (status,) = escalation.alert_states(con, settings, END)
    assert status.state == "firing" and status.since_before_window
    # Evaluated back to the data's start, not only over the last day.
    assert status.active_since is not None and status.active_since < END - timedelta(days=2)
    assert status.since_text.startswith("since before 2026-11-26 ")
    assert status.since_text.endswith("when the data starts")
    exact = AlertStatus(
        rule, "firing", 30.0, END - timedelta(hours=1), END - timedelta(minutes=30), False
    )
    assert exact.since_text == "since 2026-11-29 10:00 UTC"

    # A page that looks at the last day only (Overview, incident panel, All DLQs) says the
    # alert held all of it, not that the data starts there: the data starts days before.
    with Database(path).read() as con:
        backlog, per_minute = overview.backlog_and_arrivals(
            con, TOPIC, END - timedelta(hours=24), END, 1
        )
    (last_day,) = alerts.evaluate_all((rule,), per_minute, backlog, 5, timedelta(hours=24))
    assert last_day.state == "firing" and last_day.since_before_window
    assert last_day.since_text.startswith(
        f"for over 24 hours (since before {END - timedelta(hours=24):%Y-%m-%d} "
    )
    assert last_day.since_text.endswith(" UTC)")


def test_a_backlog_over_its_line_for_days_does_not_start_the_incident(
    replayed_db: Path,
) -> None:
    # The size alert has held for a week; the burst is the incident, so the pack starts there.
    size = AlertRule(name="KafkaDLQSizeHigh", kind="size", threshold=1, for_minutes=30)
    chronic = AlertStatus(size, "firing", 5.0, END - timedelta(days=7), None, False)
    settings = Settings(dlq_topic=TOPIC, db=replayed_db)
    with Database(replayed_db).read() as con:
        window = escalation.incident_window(con, settings, END, [chronic])
        alone = escalation.incident_window(
            con, Settings(dlq_topic="elsewhere", db=replayed_db), END, [chronic]
        )
    assert window.start == BURST_AT and window.why.startswith("first record of the burst")
    # With no growth alert and no burst, the size alert's start is the incident's.
    assert alone.start == END - timedelta(days=7) and alone.why.startswith("KafkaDLQSizeHigh")


def test_export_names_carry_the_topic_and_the_time() -> None:
    """The time is the last minute the figures take in: a page counts up to the next whole
    minute (10:30 at 10:29:40), and a file dated 10:30 would be from the future."""
    assert (
        export_name("escalation", "xact.downloads.dlq", END, "html")
        == "dlq-escalation-xact.downloads.dlq-20261129T1029Z.html"
    )
    late = END + timedelta(seconds=12)  # a stale snapshot's as-of: its last ingest
    assert export_name("report-7d", "a/b c", late) == "dlq-report-7d-a_b_c-20261129T1030Z"

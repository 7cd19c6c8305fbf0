"""Every page run with AppTest on real snapshot files: renders, shows what matters, reacts."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard.actions.selection import matching
from dashboard.adapters.db import Database
from dashboard.exports.metrics import families
from dashboard.settings import DashboardRules, Settings
from dashboard.triage import incident
from dashboard.triage.monitoring import monitoring_numbers
from dashboard.triage.overview import freshness
from ingest import store
from pages import ui
from tests.conftest import REPO
from tests.snapshots import (
    TOPIC,
    add_replay,
    add_resolution,
    demo_records,
    write_snapshot,
    write_varied,
)


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # "Now" when the module's tests start: the demo's burst is the last half hour before it
    # (20% of 4,000 records in 30 minutes: about 27 a minute, well inside Critical).
    db = tmp_path_factory.mktemp("app") / "demo.duckdb"
    write_snapshot(db, demo_records(4000, now=datetime.now(UTC), seed=21))
    return db


def app(
    db: Path, monkeypatch: pytest.MonkeyPatch, page: str | None = None, **query: str
) -> AppTest:
    monkeypatch.setenv("DLQ_DB", str(db))
    monkeypatch.setenv("DLQ_TOPIC", TOPIC)
    st.cache_resource.clear()
    st.cache_data.clear()
    return run_app(page, **query)


def run_app(page: str | None = None, **query: str) -> AppTest:
    """The app from its entry point, with these query parameters, then on `page`."""
    at = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=60)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    if page is not None:
        at.switch_page(f"pages/{page}.py")
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.chdir(tmp_path)  # no stray dlq.toml
    yield
    st.cache_resource.clear()
    st.cache_data.clear()


def texts(elements: object) -> list[str]:
    return [str(e.value) for e in elements]  # type: ignore[attr-defined]


def test_overview_shows_severity_size_alerts_growth_and_escalation(
    demo_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = app(demo_db, monkeypatch)
    # The demo's last half hour is a systematic burst: Critical with the runbook's action.
    assert any("**Critical**: Immediate investigation" in t for t in texts(at.error))
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Records in the topic"] == "4,000"
    assert metrics["Backlog"] == metrics["Open"] == "4,000"  # nothing replayed or resolved
    assert metrics["Replayed, waiting"] == metrics["Resolved"] == "0"
    with Database(demo_db).read() as con:
        first = con.execute("SELECT min(kafka_timestamp) FROM records").fetchone()
    assert first is not None
    oldest = next(m for m in at.metric if m.label == "Oldest open record")
    assert oldest.delta == f"since {first[0]:%Y-%m-%d %H:%M} UTC"
    assert oldest.value.startswith(("13 d", "14 d"))  # the demo spans 14 days
    alerts = next(df.value for df in at.dataframe if "alert" in df.value.columns)
    assert list(alerts["alert"]) == [
        "KafkaDLQGrowthRapid",
        "KafkaDLQGrowthWarning",
        "KafkaDLQSizeHigh",
    ]
    assert alerts.set_index("alert").loc["KafkaDLQSizeHigh", "state"] == "FIRING"
    charts = at.get("plotly_chart")
    assert len(charts) == 4  # entering per minute and per 10, backlog by state, in and out
    labels = [e.label for e in at.expander]
    assert any("Same error affecting > 100 messages" in label for label in labels)
    assert any("Business critical files" in label for label in labels)


def _x_values(at: AppTest, index: int) -> int:
    spec = json.loads(at.get("plotly_chart")[index].proto.spec)
    return len(spec["data"][0]["x"])


def test_the_time_range_changes_the_growth_charts(
    demo_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = app(demo_db, monkeypatch)
    day = _x_values(at, 0)
    at.segmented_control(key="range").set_value("Last hour").run()
    assert not at.exception
    hour = _x_values(at, 0)
    assert (day, hour) == (24 * 60, 60)


def test_patterns_page_names_the_runbook_patterns_and_the_burst(
    demo_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = app(demo_db, monkeypatch, "patterns")
    labels = [m.label for m in at.metric]
    assert labels[:5] == [
        "1. Expired URL",
        "2. File type",
        "3. Network/timeout",
        "4. OneLake upload",
        "5. Systematic",
    ]
    assert any("systematic burst" in t for t in texts(at.error))
    # Patterns 1-4 and "No pattern" split the records; the systematic burst overlaps them,
    # and the page says so (the five figures add up to more).
    values = {m.label: int(m.value.replace(",", "")) for m in at.metric}
    split = sum(values[k] for k in labels[:4]) + values["No pattern"]
    shown = re.search(r"split the ([\d,]+) records shown", " ".join(texts(at.caption)))
    assert shown is not None and int(shown.group(1).replace(",", "")) == split
    assert values["5. Systematic"] > 0
    groups = at.dataframe[-1].value
    assert "Error signature" in groups.columns
    assert groups["records"].sum() == 4000
    assert groups["messages"].str.startswith("messages?signature=").all()
    at.segmented_control(key="by").set_value("domain").run()
    assert not at.exception
    by_domain = at.dataframe[-1].value
    assert "Domain" in by_domain.columns
    assert "docs.partner-claims.example.com" in set(by_domain["Domain"])


def test_messages_page_filters_from_the_url_and_opens_a_record(
    demo_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = app(demo_db, monkeypatch, "messages")
    everything = at.dataframe[0].value
    assert len(everything) == 50 and any("4,000 records match" in c for c in texts(at.caption))
    assert not everything["url"].dropna().str.contains("X-Amz-Signature=[0-9a-f]").any()

    with Database(demo_db).read() as con:
        row = con.execute(
            'SELECT trace_id, count(*) OVER (PARTITION BY trace_id), "partition", "offset" '
            "FROM records WHERE trace_id LIKE 'evt-%' AND parse_error IS NULL LIMIT 1"
        ).fetchone()
    assert row is not None
    trace, landings, partition, offset = row
    filtered = app(demo_db, monkeypatch, "messages", trace=trace)
    assert len(filtered.dataframe[0].value) == landings

    record = f"{TOPIC}:{partition}:{offset}"
    detail = app(demo_db, monkeypatch, "messages", record=record)
    assert any(s.value == f"Record {record}" for s in detail.subheader)
    assert any(code.value.startswith("{") for code in detail.code)  # raw value and task
    fields = {
        r["field"]: r["value"] for df in detail.dataframe[1:6] for r in df.value.to_dict("records")
    }
    assert fields["Trace ID"] == trace and fields["Offset"] == str(offset)


def test_messages_tables_name_states_as_every_other_page_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = write_varied(tmp_path / "varied.duckdb")
    with Database(db).write() as con:
        add_replay(con, 0, 1, datetime.now(UTC))
    at = app(db, monkeypatch, "messages")
    table = at.dataframe[0].value
    states = dict(zip(table["record"], table["state"], strict=True))
    assert states[f"{TOPIC}:0:1"] == "replayed, waiting"
    assert states[f"{TOPIC}:1:1"] == "open, unparseable"
    assert states[f"{TOPIC}:1:0"] == "resolved"


def test_the_incident_dialog_says_the_burst_changed_since_its_button_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "burst.duckdb"
    write_snapshot(db, demo_records(4000, now=datetime.now(UTC), seed=21))
    monkeypatch.setenv("DLQ_OPERATOR", "ana")
    at = app(db, monkeypatch)
    [open_button] = [b for b in at.button if b.label.startswith("Bulk replay these ")]
    shown = int(open_button.label.split()[3].replace(",", ""))
    # Someone resolves three of the burst's records between the drawing and the click.
    with Database(db).write() as con:
        found = incident.current(con, Settings(dlq_topic=TOPIC, db=db), datetime.now(UTC))
        assert found is not None and found.selection is not None
        refs = matching(con, TOPIC, found.selection)
        assert len(refs) == shown
        for ref in refs[:3]:
            add_resolution(con, ref.partition, ref.offset, datetime.now(UTC))
    open_button.click().run()
    assert not at.exception
    notes = texts(at.info)
    assert any(
        f"3 of the {shown:,} records the button counted are no longer open" in n for n in notes
    ), notes
    assert any(b.label == f"Replay {shown - 3:,} records" for b in at.button)


def test_filters_a_shared_link_gives_that_the_page_cannot_take_are_named(
    demo_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = app(
        demo_db,
        monkeypatch,
        "messages",
        states="opne",
        retry_count="x",
        size="7",
        trace="evt-",
        **{"from": "2026-13-45"},
    )
    assert not at.exception
    notes = " ".join(texts(at.caption))
    assert "The states value in the URL (opne) is not one the page can take" in notes
    assert "The retry_count value in the URL (x)" in notes
    assert "The size value in the URL (7)" in notes
    assert "The from value in the URL (2026" in notes
    assert "trace value" not in notes  # a filter the page took is not named


def test_bounds_the_wrong_way_round_are_named_not_just_counted_as_nothing(
    demo_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = app(
        demo_db,
        monkeypatch,
        "messages",
        **{"from": "2026-11-30", "until": "2026-11-29"},
    )
    warnings = " ".join(texts(at.warning))
    assert (
        "The time window ends before it starts (from 2026-11-30 until 2026-11-29): no record "
        "can match." in warnings
    ), warnings
    assert any("0 records match" in c for c in texts(at.caption))
    swapped = app(demo_db, monkeypatch, "messages", **{"from": "2026-11-29", "until": "2026-11-30"})
    assert not swapped.warning


def test_link_values_that_would_select_nothing_by_mistake_are_named(
    demo_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found walking the demo: each of these gave "0 records match" (or was dropped) without
    a word, which at 3 a.m. reads as "no such failures"."""
    bad_day = app(demo_db, monkeypatch, "messages", day="2026-13-45", hour="25")
    notes = " ".join(texts(bad_day.caption)).replace("\\", "")  # Markdown's escapes
    assert "The day filter in the URL: '2026-13-45' is not a day" in notes, notes
    assert "The hour filter in the URL (25) is not a whole number from 0 to 23" in notes
    assert "4,000 records match" in notes  # both ignored, as they say
    typo = app(demo_db, monkeypatch, "messages", category="permanant")
    notes = " ".join(texts(typo.caption)).replace("\\", "")
    assert "No record has the category permanant; the snapshot's categories: " in notes, notes
    assert "permanent" in notes.split("the snapshot's categories:")[1]
    report = app(demo_db, monkeypatch, "reports", days="0")
    assert any(
        "The days filter in the URL (0) is not a whole number from 1 to 90" in c
        for c in texts(report.caption)
    )


def test_an_alerts_link_with_a_time_ago_filters_by_it_and_says_so(
    demo_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What a growth alert's link says (dashboard.exports.alert_rules.dashboard_link), with
    # values equal to their widgets' defaults, which Streamlit leaves out of the URL.
    at = app(
        demo_db,
        monkeypatch,
        "messages",
        states="backlog",
        desc="true",
        size="50",
        **{"from": "30m"},
    )
    assert not at.exception
    notes = " ".join(texts(at.caption))
    assert "not one the page can take" not in notes, notes
    assert "Arrived since " in notes and "the link's from=30m" in notes
    # Links carry the state words; the page's pills read labels (both were dropped before).
    assert re.search(r"records match \([^)]*states\\?=backlog\)", notes), notes
    matched = re.search(r"([\d,]+) records? match", notes)
    assert matched is not None
    shown = int(matched.group(1).replace(",", ""))
    with Database(demo_db).read() as con:
        total = con.execute("SELECT count(*) FROM records").fetchone()
    assert total is not None and 0 < shown < total[0]  # the last half hour, not everything


def test_an_empty_dlq_is_said_plainly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "empty.duckdb"
    write_snapshot(db, [])
    overview = app(db, monkeypatch)
    assert any("is empty: nothing to triage" in t for t in texts(overview.success))
    assert any(
        "No records in this selection" in t for t in texts(app(db, monkeypatch, "patterns").info)
    )
    assert any("0 records match" in t for t in texts(app(db, monkeypatch, "messages").caption))


def test_a_missing_snapshot_says_how_to_make_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pages = (
        None,
        "patterns",
        "messages",
        "escalation",
        "daily-review",
        "weekly-cleanup",
        "reports",
        "audit",
    )
    for page in pages:
        at = app(tmp_path / "none.duckdb", monkeypatch, page)
        assert any("No snapshot yet" in t for t in texts(at.info)), page


def test_a_stale_snapshot_is_flagged_with_its_age(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "stale.duckdb"
    write_snapshot(db, demo_records(50, now=datetime.now(UTC) - timedelta(hours=5)))
    with Database(db).write() as con:
        con.execute("UPDATE ingest_runs SET finished_at = now() - INTERVAL 5 HOUR")
    at = app(db, monkeypatch)
    assert any(
        "The snapshot is 300 minutes old" in t or "The snapshot is 5 hours old" in t
        for t in texts(at.warning)
    )


def test_a_stale_snapshot_says_the_ingest_fails_and_why_when_it_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A follower retrying through a Kafka outage: the banner says so, not 'is it running?'."""
    db = tmp_path / "outage.duckdb"
    write_snapshot(db, demo_records(50, now=datetime.now(UTC) - timedelta(hours=1)))
    with Database(db).write() as con:
        con.execute("UPDATE ingest_runs SET finished_at = now() - INTERVAL 1 HOUR")
        for _ in range(3):  # three attempts of one outage: one row, carried on
            store.record_failed_attempt(con, TOPIC, "Kafka at 127.0.0.1:9092 is not answering")
        runs = con.execute("SELECT status, count(*) FROM ingest_runs GROUP BY ALL").fetchall()
    assert sorted(runs) == [("failed", 1), ("ok", 1)]
    at = app(db, monkeypatch)
    [banner] = [t for t in texts(at.warning) if "The snapshot is" in t]
    assert "60 minutes old (last successful ingest" in banner
    assert "Ingest has failed since" in banner and "is not answering" in banner
    assert "--follow` running?" not in banner
    with Database(db).read() as con:
        fresh = freshness(con, TOPIC, datetime.now(UTC), timedelta(minutes=5))
        numbers = monitoring_numbers(con, TOPIC)
    assert fresh.stale and fresh.last_status == "failed"
    # The snapshot's age (what Prometheus is told) still counts from the last good run.
    assert numbers.last_ok_at is not None and fresh.last_ingest_at == numbers.last_ok_at
    assert datetime.now(UTC) - numbers.last_ok_at > timedelta(minutes=59)
    exported = {
        m.name: m.samples[0].value
        for m in families(numbers, TOPIC, Settings(dlq_topic=TOPIC, db=db), datetime.now(UTC))
        if m.samples
    }
    assert exported["dlq_snapshot_age_seconds"] > 59 * 60
    assert exported["dlq_last_ingest_success"] == 0.0
    assert "dlq_last_ingest_duration_seconds" not in exported  # the outage, not a run


def test_a_bad_setting_is_one_clear_message(demo_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DLQ_DB_LOCK_TIMEOUT", "never")
    at = app(demo_db, monkeypatch)
    assert any("setting db_lock_timeout_seconds" in t for t in texts(at.error))


def count_sql(db: Path, where: str, *params: object) -> int:
    """Independent SQL for what a page should show."""
    with Database(db).read() as con:
        row = con.execute(f"SELECT count(*) FROM records WHERE {where}", list(params)).fetchone()
    assert row is not None
    return int(row[0])


def test_escalation_page_holds_the_pack_and_downloads_it(
    demo_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = app(demo_db, monkeypatch, "escalation")
    assert any("**Critical**" in t for t in texts(at.error))
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["In the topic"] == "4,000" and metrics["Backlog"] == "4,000"
    assert len(at.get("plotly_chart")) == 1
    signatures = next(df.value for df in at.dataframe if "error signature" in df.value.columns)
    assert len(signatures) > 0 and signatures["records"].is_monotonic_decreasing
    sample = next(df.value for df in at.dataframe if "field" in df.value.columns)
    assert "Trace ID" in set(sample["field"])
    assert not sample["value"].astype(str).str.contains("X-Amz-Signature=[0-9a-f]").any()

    at.text_area(key="escalation_notes").set_value("10:05 worker <b>2.14</b> rolled out")
    at.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    html_file, zip_file, problem, name = at.session_state["escalation_files"]
    assert problem is None  # Chromium is here, so the charts are in the file
    # The file names say what, which topic and when.
    assert re.fullmatch(r"dlq-escalation-[A-Za-z0-9._-]+-\d{8}T\d{4}Z", name), name
    html = html_file.decode()
    assert "data:image/png;base64," in html
    assert "10:05 worker &lt;b&gt;2.14&lt;/b&gt; rolled out" in html
    assert zip_file[:2] == b"PK"
    assert len(at.get("download_button")) == 2
    # Every "as of" printed (page, file, file name) is a minute that has begun, not the next
    # whole minute the page counts up to.
    opened = datetime.now(UTC)
    stamps = re.findall(
        r"[Aa]s of (\d{4}-\d\d-\d\d \d\d:\d\d) UTC", " ".join(texts(at.caption)) + html
    )
    stamps.append(datetime.strptime(name[-14:], "%Y%m%dT%H%MZ").strftime("%Y-%m-%d %H:%M"))
    assert len(stamps) >= 3, stamps
    for stamp in stamps:
        shown = datetime.strptime(stamp, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
        assert shown <= opened, (stamp, opened)

    # The incident window can be set by hand; the page says which one it covers.
    at.text_input(key="escalation_since").set_value("2026-01-01 00:00").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("Incident from 2026-01-01 00:00 UTC" in c for c in texts(at.caption))


def page_moment(db: Path) -> datetime:
    """The moment a page opened now describes (`ui.as_of`): the next whole minute, or the last
    ingest once the snapshot is stale, as it becomes while this module runs."""
    stale_after = timedelta(seconds=DashboardRules().stale_after_seconds)
    with Database(db).read() as con:
        return ui.as_of(freshness(con, TOPIC, ui.now_minute(), stale_after))


def counted_for_page(db: Path, days: int) -> int:
    """Records of the page's last `days`, over the window the page itself uses."""
    moment = page_moment(db)
    since = moment - timedelta(days=days)
    return count_sql(db, "kafka_timestamp >= ? AND kafka_timestamp < ?", since, moment)


def counted_between(low: int, high: int) -> set[str]:
    """The counts a page may show, formatted, when the window's count went from `high`
    (before the page ran) to `low` (after it)."""
    return {f"{n:,}" for n in range(min(low, high), max(low, high) + 1)}


def test_daily_review_walks_the_runbook_steps_with_counts(
    demo_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Records age out of the window while the page runs: its count is the one at its own
    # moment, between the counts over its window just before and just after it ran.
    before = counted_for_page(demo_db, 1)
    at = app(demo_db, monkeypatch, "daily-review")
    after = counted_for_page(demo_db, 1)
    assert [s.value for s in at.subheader] == [
        "1. Look at the trend",
        "2. List recent records",
        "3. Categorize",
        "4. Act",
        "5. Note trends",
    ]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Arrived in the last 24 h"] in counted_between(after, before)
    permanent = count_sql(demo_db, "error_category = 'permanent'")
    transient = count_sql(demo_db, "error_category = 'transient'")
    assert metrics["Permanent, in the backlog"] == f"{permanent:,}"
    assert metrics["Transient, in the backlog"] == f"{transient:,}"
    assert metrics["Other categories, in the backlog"] == f"{4000 - permanent - transient:,}"
    assert metrics["Systematic bursts today"] != "0"  # the demo's SSL burst
    assert any("Systematic" in t for t in texts(at.error))
    # Step 2's link opens the records its count counts: from the same moment, not midnight.
    (link,) = [e.proto for e in at.get("page_link") if "last 24 h" in e.proto.label]
    counted = re.search(r"The ([\d,]+) records that arrived in the last 24 h", link.label)
    assert counted is not None, link.label
    since = dict(pair.split("=", 1) for pair in link.query_string.split("&"))["from"]
    listed = app(demo_db, monkeypatch, "messages", **{"from": unquote(since)})
    assert any(f"{counted.group(1)} records match" in c for c in texts(listed.caption)), since


def test_weekly_cleanup_counts_old_records_and_offers_guarded_bulk_actions(
    demo_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DLQ_OPERATOR", "ana")
    older_than_a_week = "kafka_timestamp < ?"
    before = count_sql(demo_db, older_than_a_week, page_moment(demo_db) - timedelta(days=7))
    at = app(demo_db, monkeypatch, "weekly-cleanup")
    after = count_sql(demo_db, older_than_a_week, page_moment(demo_db) - timedelta(days=7))
    # Records age into "older than a week" while the page runs: its count lies between.
    assert 0 < before <= after < 4000
    assert at.metric[0].value in counted_between(before, after)
    old = int(at.metric[0].value.replace(",", ""))
    by_signature = at.dataframe[0].value
    assert by_signature["records"].sum() == old
    # The bulk actions are the guarded ones of the Messages page, over exactly these records.
    assert at.radio(key="bulk_action").options == ["replay", "resolve"]
    at.radio(key="bulk_action").set_value("resolve")
    next(b for b in at.button if b.label == "Preview").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(f"**{old:,}** records would be acted on" in m.value for m in at.markdown)


def test_reports_page_counts_the_period_and_follows_the_days(
    demo_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    week_before = counted_for_page(demo_db, 7)
    at = app(demo_db, monkeypatch, "reports")
    week = counted_for_page(demo_db, 7)
    # A minute may turn while the page runs, and records age out of the week with it.
    assert {m.label: m.value for m in at.metric}["Records"] in counted_between(week, week_before)
    assert len(at.get("download_button")) == 3
    before = counted_for_page(demo_db, 1)
    at.number_input(key="days").set_value(1).run()
    assert not at.exception
    day = counted_for_page(demo_db, 1)
    # The page counts at its own moment (records age out meanwhile): see counted_between.
    assert {m.label: m.value for m in at.metric}["Records"] in counted_between(day, before)
    assert day < week

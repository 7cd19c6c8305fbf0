"""One meaning for every count: one snapshot with records in every state, each state counted
independently from the raw tables, and every view (the Overview, the size alert, `dlq list`,
the report, the escalation pack) showing the same numbers under the same words."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard.adapters.db import Database
from dashboard.cli.main import main
from dashboard.exports import escalation_pack, report_formats
from dashboard.settings import Settings
from dashboard.triage import alerts, overview, reports, states
from ingest.parse import RawRecord
from tests.conftest import REPO
from tests.snapshots import (
    TOPIC,
    add_replay,
    add_resolution,
    add_success,
    pipeline_record,
    write_snapshot,
)

NOW = datetime.now(UTC).replace(second=0, microsecond=0)
T0 = NOW - timedelta(hours=3)


@pytest.fixture(scope="module")
def every_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Partition 0: 40 records a minute apart from T0. Retention then deletes offsets 0-1
    (gone); the review group commits partition 1 up to 3 (resolved); the dashboard replays
    offsets 2-13: 2-5 stay waiting, 6-8 succeed (ready to resolve), 9-10 come back to the DLQ
    (replay failed, and their copies are new open records), 11-13 succeed and are resolved;
    offsets 14-15 are resolved without a replay. One unparseable record is open."""
    db = tmp_path_factory.mktemp("states") / "s.duckdb"
    records = [pipeline_record(0, i, T0 + timedelta(minutes=i)) for i in range(40)]
    records += [pipeline_record(1, i, T0 + timedelta(minutes=i)) for i in range(6)]
    bad = RawRecord(2, 0, b"\xff not json", b"k", [], int(T0.timestamp() * 1000), topic=TOPIC)
    records.append(bad)
    write_snapshot(db, records)
    replayed_at = T0 + timedelta(minutes=60)
    with Database(db).write() as con:
        for offset in range(2, 14):
            add_replay(con, 0, offset, replayed_at)
        for offset in (*range(6, 9), *range(11, 14)):
            add_success(con, 0, offset, replayed_at + timedelta(minutes=5))
        for offset in (*range(11, 16),):
            add_resolution(con, 0, offset, replayed_at + timedelta(minutes=10))
    again = [
        pipeline_record(0, 40 + i, replayed_at + timedelta(minutes=3), trace_id=f"evt-0-{o}")
        for i, o in enumerate((9, 10))
    ]
    write_snapshot(db, again, committed={1: 3}, low={0: 2})
    return db


def independent_counts(db: Path) -> dict[str, int]:
    """Each state's count by plain Python over the raw tables, not through the code under
    test: a record in Kafka is resolved if it has a resolution; else open if never replayed;
    else after its last replay: failed if its trace id arrived again, ready if a success was
    reported, waiting otherwise."""
    with Database(db).read() as con:
        records = con.execute(
            'SELECT "partition", "offset", trace_id, kafka_timestamp, gone_from_kafka_at '
            "FROM records WHERE topic = ?",
            [TOPIC],
        ).fetchall()
        resolved = {
            (p, o)
            for p, o in con.execute('SELECT "partition", "offset" FROM resolutions').fetchall()
        }
        last_replay: dict[tuple[int, int], datetime] = {}
        replays = con.execute('SELECT "partition", "offset", replayed_at FROM replays').fetchall()
        for p, o, at in replays:
            last_replay[(p, o)] = max(at, last_replay.get((p, o), at))
        successes = con.execute("SELECT trace_id, status, result_at FROM replay_results").fetchall()
    counts = dict.fromkeys(states.STATES, 0)
    for p, o, trace, _at, gone in records:
        if gone is not None:
            continue
        if (p, o) in resolved:
            state = "resolved"
        elif (p, o) not in last_replay:
            state = "open"
        elif any(
            t == trace and at > last_replay[(p, o)] and (p2, o2) != (p, o)
            for p2, o2, t, at, _ in records
        ):
            state = "replay-failed"
        elif any(
            t == trace and s.lower() in ("success", "completed") and r > last_replay[(p, o)]
            for t, s, r in successes
        ):
            state = "ready-to-resolve"
        else:
            state = "replayed-waiting"
        counts[state] += 1
    counts["backlog"] = sum(counts[w] for w in states.BACKLOG_STATES)
    return counts


EXPECTED = {
    # open: partition 0 offsets 16-39 (24) and the two copies, partition 1 offsets 3-5,
    # the unparseable record
    "open": 24 + 2 + 3 + 1,
    "replayed-waiting": 4,
    "ready-to-resolve": 3,
    "replay-failed": 2,
    "resolved": 5 + 3,  # offsets 11-15 in partition 0, 0-2 in partition 1
}


def test_the_snapshot_holds_every_state(every_state: Path) -> None:
    counts = independent_counts(every_state)
    assert {w: counts[w] for w in states.STATES} == EXPECTED
    assert counts["backlog"] == 30 + 4 + 3 + 2


@pytest.fixture
def page(every_state: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[AppTest]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DLQ_DB", str(every_state))
    monkeypatch.setenv("DLQ_TOPIC", TOPIC)
    st.cache_resource.clear()
    st.cache_data.clear()
    at = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    yield at
    st.cache_resource.clear()
    st.cache_data.clear()


def test_the_overview_and_its_size_alert_show_each_state_s_count(
    every_state: Path, page: AppTest
) -> None:
    counts = independent_counts(every_state)
    metrics = {m.label: m.value for m in page.metric}
    for word in (states.BACKLOG, *states.STATES):
        assert metrics[states.label(word)] == f"{counts[word]:,}", word
    helps = {m.label: m.proto.help for m in page.metric}
    assert helps[states.label(states.OPEN)] == states.help_text(states.OPEN)
    table = next(df.value for df in page.dataframe if "alert" in df.value.columns)
    size_alert = table.set_index("alert").loc["KafkaDLQSizeHigh"]
    assert size_alert["now"] == f"{counts['backlog']:,}"
    assert "records in the backlog" in size_alert["condition"]


def test_the_size_alert_evaluates_the_backlog(every_state: Path) -> None:
    counts = independent_counts(every_state)
    settings = Settings(dlq_topic=TOPIC, db=every_state)
    with Database(every_state).read() as con:
        # After the last ingest, which resolved and deleted records at its own moment.
        end = datetime.now(UTC) + timedelta(minutes=1)
        day = end - timedelta(hours=24)
        statuses = alerts.evaluate_all(
            settings.alerts,
            overview.arrivals(con, TOPIC, day, end, 1),
            overview.backlog_history(con, TOPIC, day, end, 1),
            settings.rules.rate_window_minutes,
        )
    (size,) = [s for s in statuses if s.rule.name == "KafkaDLQSizeHigh"]
    assert size.value == counts["backlog"]


def test_dlq_list_heads_its_records_with_the_same_counts(
    every_state: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    counts = independent_counts(every_state)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DLQ_DB", str(every_state))
    monkeypatch.setenv("DLQ_TOPIC", TOPIC)
    monkeypatch.setenv("DLQ_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    assert main(["list", "--format", "json", "--no-refresh", "--limit", "1000"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert listing["counts"] == counts
    # The rows are the backlog's readable records, each naming its state.
    rows = listing["records"]
    assert len(rows) == listing["matching"] == counts["backlog"] - 1  # less the unparseable
    assert listing["unparseable_not_listed"] == 1
    by_state = {w: sum(1 for r in rows if r["state"] == w) for w in states.BACKLOG_STATES}
    assert by_state == {**{w: counts[w] for w in states.BACKLOG_STATES}, "open": counts["open"] - 1}
    assert all(r["age_seconds"] > 0 for r in rows)

    assert main(["list", "--no-refresh", "--limit", "5"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[1] == (
        f"DLQ Messages (5 shown of {counts['backlog'] - 1} readable records in the backlog)"
    )
    assert table[2].startswith(f"backlog {counts['backlog']} (open {counts['open']} · ")
    assert table[4].split()[:4] == ["Part", "Offset", "State", "Age"]
    first = table[6].split(None, 2)  # the oldest record in Kafka: offset 2, replayed
    assert first[:2] == ["0", "2"]
    # It arrived 2 h 58 min before the module's NOW; the CLI measures from its own clock.
    assert re.match(r"replayed, waiting  (2 h 5\d min|3 h)", first[2]), first[2]
    assert "Connection timeout after 30s" in first[2] and "Signature=***" in first[2]


def test_the_report_and_the_escalation_pack_show_the_same_counts(every_state: Path) -> None:
    counts = independent_counts(every_state)
    settings = Settings(dlq_topic=TOPIC, db=every_state)
    with Database(every_state).read() as con:
        report = reports.build(con, TOPIC, NOW, 7)
        pack = escalation_pack.build(con, settings, NOW)
    assert json.loads(report_formats.to_json(report))["states"] == counts
    line = states.counts_line(states.StateCounts.of_words(counts))
    assert line in report_formats.to_markdown(report)
    assert pack.size.states.as_dict() == counts
    assert line in escalation_pack.to_markdown(pack)
    html = escalation_pack.to_html(pack)
    assert f"<th>Replay failed</th><td>{counts['replay-failed']:,}</td>" in html

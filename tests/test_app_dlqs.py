"""Several DLQs in the app (AppTest, a real snapshot file): the sidebar's DLQ selector kept in
the URL, the All DLQs page, and the pages that work on one DLQ or across all of them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard.actions import audit
from dashboard.adapters.db import Database
from tests.snapshots import pipeline_record, write_snapshot
from tests.test_app_pages import run_app

NOW = datetime.now(UTC).replace(microsecond=0)
XACT, CLAIMX, GENERIC = "xact.downloads.dlq", "claimx.downloads.dlq", "enrichment.pending.dlq"
# name, topic, records, how long ago they arrived: the generic DLQ is the largest, over its
# own, lower size line; xact's arrived in the last hour, none in the last 10 minutes.
DLQS = (
    ("xact", XACT, 6, timedelta(minutes=30)),
    ("claimx", CLAIMX, 3, timedelta(days=3)),
    ("generic", GENERIC, 12, timedelta(hours=3)),
)
CONFIG = f"""
[[dlqs]]
name = "xact"
topic = "{XACT}"
review_group = "xact-review"

[[dlqs]]
name = "claimx"
topic = "{CLAIMX}"
format = "claimx-download"
review_group = "claimx-review"

[[dlqs]]
name = "generic"
topic = "{GENERIC}"
format = "envelope"
replay_target = "origin"
review_group = "generic-review"
[dlqs.severity]
size_review_above = 10
"""


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("dlqs") / "snapshot.duckdb"
    for _, topic, count, ago in DLQS:
        records = [
            pipeline_record(0, i, NOW - ago - timedelta(minutes=i), topic=topic)
            for i in range(count)
        ]
        write_snapshot(db, records, topic=topic)
    return db


@pytest.fixture(autouse=True)
def configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, snapshot: Path) -> Iterator[None]:
    (tmp_path / "dlq.toml").write_text(CONFIG)
    monkeypatch.chdir(tmp_path)
    for name in ("DLQ_TOPIC", "DLQ_PENDING_TOPIC", "DLQ_REVIEW_GROUP"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DLQ_DB", str(snapshot))
    monkeypatch.setenv("DLQ_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    st.cache_resource.clear()
    st.cache_data.clear()


def app(page: str | None = None, **query: str) -> AppTest:
    return run_app(page, **query)


def texts(elements: object) -> list[str]:
    return [str(e.value) for e in elements]  # type: ignore[attr-defined]


def selector(at: AppTest) -> object:
    return at.sidebar.selectbox(key="_dlq_selector")


def test_the_url_chooses_the_dlq_and_every_page_sees_its_topic() -> None:
    at = app(dlq="claimx")
    assert selector(at).value == "claimx"  # type: ignore[attr-defined]
    assert any(CLAIMX in t for t in texts(at.caption))  # the Overview's topic
    assert any(f"Topic `{CLAIMX}`" in t for t in texts(at.sidebar.caption))
    assert {m.label: m.value for m in at.metric}["Records in the topic"] == "3"

    # Choosing another DLQ puts it in the URL.
    selector(at).select("generic").run()  # type: ignore[attr-defined]
    assert at.query_params["dlq"] == "generic"
    assert any(GENERIC in t for t in texts(at.caption))

    # A page switch that loses the URL's parameters keeps the choice (the session holds it).
    del at.query_params["dlq"]
    at.switch_page("pages/messages.py")
    at.run()
    assert any(t.startswith("12 records match") for t in texts(at.caption))
    assert set(at.dataframe[0].value["record"].str.split(":").str[0]) == {GENERIC}


def test_without_a_choice_the_first_configured_dlq_is_shown_and_put_in_the_url() -> None:
    at = app()
    assert selector(at).value == "xact"  # type: ignore[attr-defined]
    assert at.query_params["dlq"] == "xact"
    assert {m.label: m.value for m in at.metric}["Records in the topic"] == "6"


def test_an_unknown_dlq_in_the_url_is_one_clear_line_naming_the_configured_ones() -> None:
    at = app(dlq="nope")
    errors = texts(at.error)
    assert len(errors) == 1
    assert "No DLQ named" in errors[0] and "nope" in errors[0]
    assert "xact, claimx, generic" in errors[0]
    assert not at.title  # no page under it, no figures of another DLQ


def test_all_dlqs_lists_each_dlq_most_urgent_first_with_a_link_to_its_overview() -> None:
    at = app("all-dlqs")
    table = at.dataframe[0].value
    # generic: 12 records over its own line of 10 (Warning); the others Normal, larger first.
    assert list(table["DLQ"]) == ["./?dlq=generic", "./?dlq=xact", "./?dlq=claimx"]
    assert list(table["severity"]) == ["Warning", "Normal", "Normal"]
    assert list(table["backlog"]) == [12, 6, 3]
    assert list(table["last hour"]) == [0, 6, 0]
    # Alerts are counted in the table (a narrow column at 1400 px) and named under it.
    assert all(
        re.fullmatch(r"-|\d+ FIRING(, \d+ pending)?|\d+ pending", cell) for cell in table["alerts"]
    )
    assert list(table["format"]) == ["envelope", "xact-download", "claimx-download"]
    assert list(table["replays to"]) == [
        "origin",
        "xact.downloads.pending",
        "claimx.downloads.pending",
    ]


def test_across_all_dlqs_messages_and_patterns_span_every_topic_and_name_each_dlq() -> None:
    messages = app("messages", dlq="all")
    assert any(t.startswith("21 records match") for t in texts(messages.caption))
    rows = messages.dataframe[0].value
    assert set(rows["DLQ"]) == {"xact", "claimx", "generic"}
    # Each record names its DLQ, and bulk actions wait for one DLQ to be picked.
    topic_of = {name: topic for name, topic, _, _ in DLQS}
    assert all(
        record.startswith(topic_of[name] + ":")
        for name, record in zip(rows["DLQ"], rows["record"], strict=True)
    )
    assert any("Bulk actions act on one DLQ at a time" in t for t in texts(messages.caption))

    patterns = app("patterns", dlq="all")
    groups = patterns.dataframe[-1].value
    assert groups["records"].sum() == 21
    assert groups["messages"].str.contains("dlq=all").all()


def test_a_record_opened_across_all_dlqs_acts_through_its_own_dlq() -> None:
    at = app("messages", dlq="all", record=f"{GENERIC}:0:3")
    assert any(s.value == f"Record {GENERIC}:0:3" for s in at.subheader)
    assert any("DLQ `generic` (envelope), replays to `origin`" in t for t in texts(at.caption))


def test_the_overview_asks_for_one_dlq_when_all_are_chosen() -> None:
    at = app(dlq="all")  # All DLQs is its across-all view
    assert any("This page shows one DLQ at a time" in t for t in texts(at.info))
    assert [e.proto.page for e in at.get("page_link")] == ["all-dlqs"]
    assert not at.metric


def links_to(at: AppTest, page: str) -> list[str]:
    """The query strings of the links to `page` (its url path, e.g. "daily-review")."""
    return [e.proto.query_string for e in at.get("page_link") if e.proto.page == page]


def test_the_report_across_all_dlqs_has_a_row_and_a_link_per_dlq_and_one_file() -> None:
    at = app("reports", dlq="all")
    assert not at.info  # not refused
    table = at.dataframe[0].value
    assert list(table["DLQ"]) == ["generic", "xact", "claimx"]  # the All DLQs order
    assert list(table["records"]) == [12, 6, 3]
    assert any("21 records entered the DLQs" in t for t in texts(at.markdown))
    assert links_to(at, "reports") == [
        f"dlq={name}&days=7" for name in ("generic", "xact", "claimx")
    ]
    assert len(at.get("download_button")) == 3  # Markdown, JSON, CSV; HTML once prepared


def test_the_escalation_pack_across_all_dlqs_holds_the_urgent_ones() -> None:
    at = app("escalation", dlq="all")
    assert not at.info
    table = at.dataframe[0].value
    assert list(table["DLQ"]) == ["generic"]  # the one at Warning
    assert list(table["severity"]) == ["Warning"]
    assert links_to(at, "escalation") == ["dlq=generic"]


@pytest.mark.parametrize(
    ("page", "column", "values"),
    [
        ("daily-review", "backlog", [12, 6, 3]),
        ("weekly-cleanup", "backlog over 7 days", [0, 0, 0]),
    ],
)
def test_the_reviews_across_all_dlqs_link_each_dlqs_own_review(
    page: str, column: str, values: list[int]
) -> None:
    at = app(page, dlq="all")
    assert not at.info
    table = at.dataframe[0].value
    assert list(table["DLQ"]) == ["generic", "xact", "claimx"]
    assert list(table[column]) == values
    assert links_to(at, page) == [f"dlq={n}" for n in ("generic", "xact", "claimx")]
    # The bulk actions stay on each DLQ's own page: no action button here.
    assert not [b for b in at.button if "Replay" in b.label or "Resolve" in b.label]


def test_one_configured_dlq_needs_no_selector(tmp_path: Path) -> None:
    (tmp_path / "dlq.toml").write_text("\n".join(CONFIG.split("\n")[:6]))
    at = app()
    assert not at.sidebar.selectbox
    assert {m.label: m.value for m in at.metric}["Records in the topic"] == "6"


def test_the_audit_shows_one_dlqs_entries_or_every_dlqs_named(snapshot: Path) -> None:
    with Database(snapshot).write() as con:
        con.execute("BEGIN TRANSACTION")
        audit.append(
            con,
            [
                audit.NewEntry("view", "ana", "success", topic=CLAIMX, partition=0, offset=1),
                audit.NewEntry("view", "ana", "success", topic=GENERIC, partition=0, offset=2),
                audit.NewEntry("bulk-start", "ana", "success", bulk_id="b-1", reason="INC-9"),
            ],
        )
        con.execute("COMMIT")
    one = run_app("audit", dlq="claimx")
    rows = one.dataframe[0].value
    # The DLQ's records' entries, and those of no record; no column naming one DLQ.
    records = set(rows["record"])
    assert {"", f"{CLAIMX}:0:1"} <= records
    assert all(r == "" or r.startswith(CLAIMX + ":") for r in records)
    assert "DLQ" not in rows.columns
    # Absent text is an empty cell, never the word None.
    assert not rows.isna().any().any()

    every = run_app("audit", dlq="all")
    rows = every.dataframe[0].value
    assert set(rows["DLQ"]) == {"", "claimx", "generic"}


def test_links_between_pages_keep_the_chosen_dlq() -> None:
    """A link opened in a new tab has no session behind it: the DLQ must be in its URL."""
    at = app("daily-review", dlq="claimx")
    links = [e.proto for e in at.get("page_link")]
    assert links, "the daily review links to the pages of its steps"
    for link in links:
        assert "dlq=claimx" in link.query_string, (link.page, link.query_string)


@pytest.mark.parametrize(
    ("dlq", "topic", "keyed_by"), [("xact", XACT, "trace id"), ("claimx", CLAIMX, "media id")]
)
def test_a_replay_dialog_says_what_the_replayed_task_is_keyed_by(
    dlq: str, topic: str, keyed_by: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DLQ_OPERATOR", "ana")
    at = app("messages", dlq=dlq, record=f"{topic}:0:1")
    next(b for b in at.button if b.label == "Replay…").click().run()
    said = " ".join(texts(at.markdown))
    assert f"keyed by the {keyed_by}." in said

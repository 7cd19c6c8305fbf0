"""Searching the snapshot with a RecordFilter and reading one record in full."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from dashboard.adapters.db import Database
from dashboard.triage.filters import RecordFilter
from dashboard.triage.messages import record_detail, search
from dashboard.triage.views import raw_value, view_sections
from ingest.parse import RawRecord
from tests.snapshots import TOPIC, VARIED_AT, pipeline_record, write_snapshot, write_varied

T0 = VARIED_AT


@pytest.fixture
def varied(tmp_path: Path) -> Path:
    return write_varied(tmp_path / "s.duckdb")


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (RecordFilter(), ["0:0", "0:1", "1:0", "1:1"]),
        (RecordFilter(trace="ALPHA"), ["0:0", "1:0"]),
        (RecordFilter(url="c-12345"), ["0:1"]),
        (RecordFilter(url="50%_"), ["0:0"]),  # LIKE wildcards in input are literal
        (RecordFilter(url="50%x"), []),
        (RecordFilter(domain="example.org"), ["0:1"]),
        (RecordFilter(error="onelake"), ["1:0"]),
        (RecordFilter(category=("permanent", "auth")), ["0:0", "1:0"]),
        (RecordFilter(category=("(none)",)), ["1:1"]),
        (RecordFilter(retry_count=(0,)), ["0:0"]),
        (RecordFilter(partition=1), ["1:0", "1:1"]),
        (RecordFilter(partition=0, offset_from=1, offset_to=1), ["0:1"]),
        (
            RecordFilter(since=T0 + timedelta(minutes=30), until=T0 + timedelta(hours=2)),
            ["0:1"],
        ),
        (RecordFilter(hour=14), ["1:0"]),
        (RecordFilter(day="2026-11-20"), ["0:0", "0:1", "1:0", "1:1"]),
        (RecordFilter(header_key="x-team", header_value="BLUE"), ["0:1"]),
        # The name and the value must be one header's.
        (RecordFilter(header_key="x-team", header_value="prod"), []),
        (RecordFilter(header_key="x-env", header_value="prod"), ["0:1"]),
        (RecordFilter(header_value="red"), []),
        (RecordFilter(states=("resolved",)), ["1:0"]),
        (RecordFilter(states=("unresolved",)), ["0:0", "0:1", "1:1"]),
        (RecordFilter(states=("unparseable",)), ["1:1"]),
        (RecordFilter(signature="HTTP 404: Not Found"), ["0:0"]),
        (RecordFilter(event="xact / documentsReceived"), ["0:0", "0:1", "1:0"]),
    ],
)
def test_every_filter_narrows_to_the_right_records(
    varied: Path, flt: RecordFilter, expected: list[str]
) -> None:
    with Database(varied).read() as con:
        found = search(con, TOPIC, flt, "offset", False)
    assert [f"{r.partition}:{r.offset}" for r in found.rows] == expected
    assert found.total == len(expected)


def test_pages_and_sorting(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    write_snapshot(db, [pipeline_record(0, i, T0 + timedelta(minutes=i)) for i in range(23)])
    with Database(db).read() as con:
        first = search(con, TOPIC, RecordFilter(), "time", True, 1, 10)
        last = search(con, TOPIC, RecordFilter(), "time", True, 3, 10)
        beyond = search(con, TOPIC, RecordFilter(), "time", True, 9, 10)
    assert (first.total, first.pages) == (23, 3)
    assert [r.offset for r in first.rows] == list(range(22, 12, -1))
    assert [r.offset for r in last.rows] == [2, 1, 0]
    assert beyond.page == 3 and [r.offset for r in beyond.rows] == [2, 1, 0]


def test_a_text_search_counts_its_matches_on_every_page(tmp_path: Path) -> None:
    """A text search counts its matches in the page's own query: the same total, on a page
    within the matches and on one beyond them."""
    db = tmp_path / "s.duckdb"
    urls = [f"https://h.example.com/{'hit' if i % 3 else 'miss'}/{i}.pdf" for i in range(30)]
    write_snapshot(
        db, [pipeline_record(0, i, T0 + timedelta(minutes=i), url=u) for i, u in enumerate(urls)]
    )
    hits = RecordFilter(url="/HIT/")
    with Database(db).read() as con:
        first = search(con, TOPIC, hits, "offset", False, 1, 8)
        beyond = search(con, TOPIC, hits, "offset", False, 5, 8)
    assert (first.total, first.pages) == (20, 3)
    assert [r.offset for r in first.rows] == [1, 2, 4, 5, 7, 8, 10, 11]
    assert (beyond.total, beyond.page) == (20, 3)
    assert [r.offset for r in beyond.rows] == [25, 26, 28, 29]


def test_a_record_in_full_with_its_history_and_masked_secrets(varied: Path) -> None:
    with Database(varied).read() as con:
        detail = record_detail(con, TOPIC, 0, 1)
        twice = record_detail(con, TOPIC, 1, 0)
        broken = record_detail(con, TOPIC, 1, 1)
        missing = record_detail(con, TOPIC, 9, 9)
    assert detail is not None and twice is not None and broken is not None and missing is None
    sections = {s.title: dict(s.rows) for s in view_sections(detail)}
    assert sections["Kafka metadata"]["Headers"] == "x-team=claims-blue; x-env=prod"
    assert sections["Message details"]["URL"] == "https://b.example.org/C-12345/x.pdf?sig=***"
    assert "abc" not in raw_value(detail) and "sig=abc" in raw_value(detail, show_secrets=True)
    assert sections["Original task"]["Event type"] == "xact"
    assert [f"{h.partition}:{h.offset}" for h in twice.history] == ["0:0"]
    assert dict(view_sections(twice)[0].rows)["State"].startswith("resolved (before-dashboard")
    broken_errors = dict(view_sections(broken)[2].rows)
    assert broken_errors["Parse error"] == "value is not valid UTF-8"
    assert broken_errors["Error"] == "(no error text recorded)"
    assert raw_value(broken) == "\\xff not json"


def test_history_holds_every_landing_of_the_trace_id_readable_or_not(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    at = VARIED_AT
    write_snapshot(
        path,
        [
            pipeline_record(0, 0, at, trace_id="evt-x"),
            pipeline_record(0, 1, at + timedelta(minutes=1), trace_id="evt-y"),
            pipeline_record(0, 2, at + timedelta(minutes=2), trace_id="evt-x"),
            # Unreadable: its trace id comes from the key, and it keeps no trace hash.
            RawRecord(0, 3, b"\xff not json", b"evt-x", [], 0, topic=TOPIC),
            pipeline_record(1, 0, at + timedelta(minutes=3), trace_id="evt-x"),
        ],
    )
    with Database(path).read() as con:
        detail = record_detail(con, TOPIC, 0, 0)
        unreadable = record_detail(con, TOPIC, 0, 3)
    assert detail is not None and unreadable is not None
    assert [f"{h.partition}:{h.offset}" for h in detail.history] == ["0:3", "0:2", "1:0"]
    assert [f"{h.partition}:{h.offset}" for h in unreadable.history] == ["0:0", "0:2", "1:0"]

"""The one selection model: the same filter from a URL, the CLI and the widgets; its time
bounds; its query parameters; and the runbook's list, which names states its own way."""

from __future__ import annotations

import argparse
import shlex
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dashboard.adapters.db import Database
from dashboard.cli.main import build_parser
from dashboard.triage.filters import RecordFilter
from dashboard.triage.messages import search
from dashboard.triage.records import list_records
from tests.snapshots import TOPIC, VARIED_AT, pipeline_record, write_snapshot, write_varied

DAY = VARIED_AT.date()  # 2026-11-20
NEXT_MIDNIGHT = datetime(2026, 11, 21, tzinfo=UTC)

URL: dict[str, str | list[str]] = {
    "trace": "alpha",
    "url": "example",
    "category": ["permanent", "auth"],
    "retry_count": ["0", "3"],
    "partition": "0",
    "offset_to": "5",
    "from": "2026-11-20",
    "until": "2026-11-20",
    "hour": "12",
    "states": ["open", "resolved"],
}
CLI = shlex.split(
    "--trace alpha --url example --category permanent --category auth --retry-count 0 "
    "--retry-count 3 --partition 0 --offset-to 5 --since 2026-11-20 --until 2026-11-20 "
    "--hour 12 --state open --state resolved"
)
# What the Messages page's widgets hold: untouched text inputs are "", numbers are numbers,
# dates are dates, empty pills are None.
WIDGETS: dict[str, object] = {
    "trace": "alpha",
    "url": " example ",
    "domain": "",
    "category": ["permanent", "auth"],
    "retry_count": ["0", "3"],
    "partition": 0,
    "offset_from": None,
    "offset_to": 5,
    "from": DAY,
    "until": DAY,
    "hour": 12,
    "day": "",
    "states": ["open", "resolved"],
    "sort": "time",  # another widget of the page: not a filter
}
EXPECTED = RecordFilter(
    trace="alpha",
    url="example",
    category=("permanent", "auth"),
    retry_count=(0, 3),
    partition=0,
    offset_to=5,
    since=datetime(2026, 11, 20, tzinfo=UTC),
    until=NEXT_MIDNIGHT,
    hour=12,
    states=("open", "resolved"),
)


def from_cli(argv: list[str], command: str = "replay") -> RecordFilter:
    return RecordFilter.from_args(build_parser().parse_args([command, *argv]))


def test_a_url_the_cli_and_the_widgets_build_the_same_filter_and_sql(tmp_path: Path) -> None:
    built = [RecordFilter.from_params(URL), from_cli(CLI), RecordFilter.from_widgets(WIDGETS)]
    assert built == [EXPECTED] * 3
    assert {flt.where(TOPIC)[0] for flt in built} == {EXPECTED.where(TOPIC)[0]}
    db = write_varied(tmp_path / "s.duckdb")
    with Database(db).read() as con:
        found = [search(con, TOPIC, flt, "offset", False).rows for flt in built]
    assert [[r.coordinates for r in rows] for rows in found] == [[f"{TOPIC}:0:0"]] * 3


def test_resolve_takes_the_same_filters_as_replay() -> None:
    assert from_cli(CLI, "resolve") == EXPECTED


def test_nothing_given_is_the_empty_filter() -> None:
    assert from_cli([]).is_empty()
    assert RecordFilter.from_params({}).is_empty()
    assert RecordFilter.from_widgets({"trace": "", "partition": None, "states": None}).is_empty()
    assert RecordFilter().describe() == "all records"


def test_every_field_has_a_query_parameter_and_a_cli_option() -> None:
    names = {
        "domain": "d",
        "domain_is": "d.example.com",
        "error": "e",
        "signature": "s",
        "event": "x / y",
        "file_type": "pdf",
        "day": "2026-11-20",
        "header_key": "k",
        "header_value": "v",
    }
    full = RecordFilter.from_params({**URL, **names, "offset_from": "1"})
    assert all(getattr(full, f.name) not in ("", (), None) for f in fields(RecordFilter))
    argv = [f"--{k.replace('_', '-')}={v}" for k, v in names.items() if k != "file_type"]
    cli = from_cli([*CLI, *argv, "--filter-file-type=pdf", "--offset-from=1"])
    assert cli == full


@pytest.mark.parametrize(
    "flt",
    [
        EXPECTED,
        RecordFilter(),
        RecordFilter(hour=0, partition=0, offset_from=0, retry_count=(0,)),
        RecordFilter(category=("(none)",), signature="(no error text recorded)"),
        RecordFilter(since=VARIED_AT + timedelta(minutes=7), until=VARIED_AT + timedelta(hours=1)),
        RecordFilter(until=datetime(2026, 11, 21, 1, tzinfo=UTC)),  # midnight elsewhere
        RecordFilter(event="xact / documentsReceived", states=("gone", "replay-failed")),
    ],
)
def test_query_parameters_round_trip(flt: RecordFilter) -> None:
    assert RecordFilter.from_params(flt.to_params()) == flt


def test_a_day_is_written_as_the_day_the_user_gave() -> None:
    assert EXPECTED.to_params()["from"] == "2026-11-20"
    assert EXPECTED.to_params()["until"] == "2026-11-20"
    assert "until=2026-11-20" in EXPECTED.describe()
    assert "states=open,resolved" in EXPECTED.describe()


def test_until_a_day_includes_all_of_it_and_until_a_time_excludes_it(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    last_moment = NEXT_MIDNIGHT - timedelta(milliseconds=1)
    at = [VARIED_AT, last_moment, NEXT_MIDNIGHT]
    write_snapshot(db, [pipeline_record(0, i, t) for i, t in enumerate(at)])

    def offsets(flt: RecordFilter) -> list[int]:
        with Database(db).read() as con:
            return [r.offset for r in search(con, TOPIC, flt, "offset", False).rows]

    assert offsets(RecordFilter.from_params({"until": "2026-11-20"})) == [0, 1]
    assert offsets(from_cli(["--until", "2026-11-20"])) == [0, 1]
    assert offsets(RecordFilter.from_widgets({"until": DAY})) == [0, 1]
    assert offsets(from_cli(["--until", "2026-11-21T00:00:00"])) == [0, 1]  # the time: excluded
    assert offsets(from_cli(["--until", last_moment.isoformat()])) == [0]
    assert offsets(from_cli(["--since", "2026-11-21"])) == [2]  # since: inclusive
    assert offsets(RecordFilter.from_params({"from": "2026-11-20", "until": "2026-11-20"})) == [
        0,
        1,
    ]


def test_earlier_state_words_still_select_what_they_meant(tmp_path: Path) -> None:
    # Links and scripts from before the states were named keep working, in today's words.
    old_link = RecordFilter.from_params({"states": ["unresolved", "resolved"]})
    old_option = from_cli(["--state", "replayed"])
    assert old_link.states == ("backlog", "resolved")
    assert old_link.to_params()["states"] == ["backlog", "resolved"]
    assert old_option.states == ("replayed-waiting", "ready-to-resolve", "replay-failed")
    db = write_varied(tmp_path / "s.duckdb")
    with Database(db).read() as con:
        unresolved = search(con, TOPIC, RecordFilter(states=("unresolved",))).total
        backlog = search(con, TOPIC, RecordFilter(states=("backlog",))).total
        opened = search(con, TOPIC, RecordFilter(states=("open",))).total
    assert unresolved == backlog == opened == 3  # nothing replayed: the backlog is all open


def test_times_without_a_zone_are_utc() -> None:
    assert RecordFilter.from_params({"from": "2026-11-20"}).since == datetime(
        2026, 11, 20, tzinfo=UTC
    )
    assert RecordFilter.from_params({"from": " 2026-11-20T12:00 "}).since == VARIED_AT
    assert RecordFilter.from_params({"from": "2026-11-20T14:00+02:00"}).since == VARIED_AT
    assert RecordFilter.from_widgets({"from": datetime(2026, 11, 20, 12)}).since == VARIED_AT


def test_bad_values_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown state 'lost'"):
        RecordFilter(states=("lost",))
    with pytest.raises(ValueError):
        RecordFilter.from_params({"partition": "first"})
    with pytest.raises(SystemExit):  # argparse: a usage error
        from_cli(["--until", "yesterday"])
    with pytest.raises(SystemExit):  # a day that is none would select nothing
        from_cli(["--day", "2026-13-45"])
    assert from_cli(["--day", " 2026-11-20 "]).day == "2026-11-20"


def test_the_cli_options_sit_in_their_own_group() -> None:
    parser = argparse.ArgumentParser()
    RecordFilter.add_arguments(parser.add_argument_group("filters"))
    assert RecordFilter.from_args(parser.parse_args(["--trace", "alpha"])) == RecordFilter(
        trace="alpha"
    )


# -- the runbook's list ------------------------------------------------------------------


def test_the_list_shows_what_is_left_and_names_every_state(tmp_path: Path) -> None:
    db = write_varied(tmp_path / "s.duckdb")
    with Database(db).read() as con:
        left = list_records(con, TOPIC)
        every = list_records(con, TOPIC, include_all=True, newest_first=True)
    assert [r.coordinates for r in left.records] == [f"{TOPIC}:0:0", f"{TOPIC}:0:1"]
    assert (left.total, left.unparseable_hidden) == (2, 1)
    assert [(r.offset, r.as_dict()["state"], r.state_label) for r in every.records] == [
        (1, "open", "open, unparseable"),
        (0, "resolved", "resolved"),
        (1, "open", "open"),
        (0, "open", "open"),
    ]
    assert (every.total, every.unparseable_hidden) == (4, 0)
    assert list(every.records[0].as_dict())[-1] == "state"


def test_a_time_ago_reads_the_same_from_a_url_and_the_cli() -> None:
    two_hours_ago = datetime.now(UTC) - timedelta(hours=2)
    for flt in (RecordFilter.from_params({"from": "2h"}), from_cli(["--since", "2h"])):
        assert flt.since is not None and abs(flt.since - two_hours_ago) < timedelta(minutes=1)


def test_several_topics_select_the_records_of_each_and_only_theirs(tmp_path: Path) -> None:
    db = tmp_path / "several.duckdb"
    at = datetime(2026, 11, 20, 12, tzinfo=UTC)
    other, third = "claimx.downloads.dlq", "enrichment.dlq"
    for topic, count in ((TOPIC, 3), (other, 2), (third, 4)):
        write_snapshot(
            db, [pipeline_record(0, i, at, topic=topic) for i in range(count)], topic=topic
        )
    flt = RecordFilter(retry_count=(4,))
    with Database(db).read() as con:
        both = search(con, (TOPIC, other), flt, page_size=100)
        one = search(con, (third,), flt, page_size=100)
        # A topic is a parameter, never SQL: a quote in it selects nothing and breaks nothing.
        hostile = search(con, ("x' OR 1=1 --", other), flt, page_size=100)
    assert both.total == 5
    assert {r.topic for r in both.rows} == {TOPIC, other}
    assert (one.total, {r.topic for r in one.rows}) == (4, {third})
    assert (hostile.total, {r.topic for r in hostile.rows}) == (2, {other})
    sql, params = flt.where((TOPIC, other))
    assert "claimx" not in sql and params["topics"] == [TOPIC, other]
    # One topic keeps the plain equality every one-DLQ query had.
    assert flt.where(TOPIC)[0].startswith("topic = $topic")
    with pytest.raises(ValueError, match="no topic"):
        flt.where(())


def test_bounds_that_exclude_each_other_are_named() -> None:
    assert RecordFilter.from_params(
        {"from": "2026-11-30", "until": "2026-11-29"}
    ).contradiction() == (
        "The time window ends before it starts (from 2026-11-30 until 2026-11-29)"
    )
    # `until` is exclusive: a window from a moment to the same moment holds nothing.
    same = RecordFilter(since=VARIED_AT, until=VARIED_AT).contradiction()
    assert same is not None and same.startswith("The time window ends where it starts")
    backwards = from_cli(["--since", "now", "--until", "10m"], "resolve").contradiction()
    assert backwards is not None and backwards.startswith("The time window ends before")
    assert RecordFilter(offset_from=10, offset_to=5).contradiction() == (
        "Offset from 10 is above offset to 5"
    )
    # A day given as both bounds is that whole day; one offset is a range of one.
    assert (
        RecordFilter.from_params({"from": "2026-11-30", "until": "2026-11-30"}).contradiction()
        is None
    )
    assert RecordFilter(offset_from=5, offset_to=5).contradiction() is None
    assert RecordFilter(since=VARIED_AT).contradiction() is None
    assert EXPECTED.contradiction() is None

"""The dashboard's queries on real snapshot files with known contents."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dashboard.adapters.db import Connection, Database
from dashboard.settings import Settings
from dashboard.triage import burst_cells, escalation, overview, patterns
from dashboard.triage.dimensions import DIMENSIONS
from dashboard.triage.filters import IN_BACKLOG
from dashboard.triage.messages import search
from ingest.parse import RawRecord
from tests.snapshots import TOPIC, demo_records, pipeline_record, write_snapshot

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def read(db: Path) -> Iterator[Connection]:
    with Database(db).read() as con:
        yield con


@pytest.fixture
def con(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Connection]:
    records: list[RawRecord] = request.param if hasattr(request, "param") else []
    db = tmp_path / "snap.duckdb"
    write_snapshot(db, records)
    yield from read(db)


# -- overview -------------------------------------------------------------------------------


def test_arrivals_are_counted_per_bucket_with_empty_buckets(tmp_path: Path) -> None:
    at = [T0 + timedelta(minutes=m, seconds=s) for m, s in [(0, 1), (0, 59), (2, 0), (12, 30)]]
    db = tmp_path / "s.duckdb"
    write_snapshot(db, [pipeline_record(0, i, t) for i, t in enumerate(at)])
    for con in read(db):
        per_minute = overview.arrivals(con, TOPIC, T0, T0 + timedelta(minutes=4), 1)
        assert [(b.start - T0, b.count) for b in per_minute] == [
            (timedelta(0), 2),
            (timedelta(minutes=1), 0),
            (timedelta(minutes=2), 1),
            (timedelta(minutes=3), 0),
        ]
        per_10 = overview.arrivals(
            con, TOPIC, T0 + timedelta(minutes=3), T0 + timedelta(minutes=20), 10
        )
        # The start is rounded down to a 10-minute boundary.
        assert [(b.start - T0, b.count) for b in per_10] == [
            (timedelta(0), 3),
            (timedelta(minutes=10), 1),
        ]
        assert overview.count_between(con, TOPIC, T0, T0 + timedelta(minutes=1)) == 2


def test_size_counts_each_state_and_what_is_not_ingested(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    # Partition 0: offsets 0-9; the review group had committed 3 before we looked.
    write_snapshot(db, [pipeline_record(0, i, T0) for i in range(10)], committed={0: 3})
    # Later: the group commits up to 6; retention deletes offsets 0-1; two more arrive.
    write_snapshot(db, [pipeline_record(0, i, T0) for i in (10, 11)], committed={0: 6}, low={0: 2})
    for con in read(db):
        size = overview.dlq_size(con, TOPIC)
        assert size.in_topic == 10  # offsets 2-11
        assert size.states.resolved == 4  # 2, 3 (before the dashboard) and 4, 5 (review group)
        assert size.backlog == size.states.open == 6  # 6-11
        assert size.gone == 2
        assert size.not_ingested == 0
        sources = dict(
            con.execute('SELECT "offset", source FROM resolutions ORDER BY "offset"').fetchall()
        )
        assert sources == {
            0: "before-dashboard",
            1: "before-dashboard",
            2: "before-dashboard",
            3: "review-group",
            4: "review-group",
            5: "review-group",
        }


def test_backlog_history_follows_arrivals_resolutions_and_retention(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    at = [T0 + timedelta(minutes=m) for m in (0, 0, 1, 2)]
    write_snapshot(db, [pipeline_record(0, i, t) for i, t in enumerate(at)])
    write_snapshot(db, [], committed={0: 1})  # resolves offset 0 now (after all arrivals)
    for con in read(db):
        resolved_at = con.execute("SELECT resolved_at FROM resolutions").fetchone()
        assert resolved_at is not None
        points = overview.backlog_history(con, TOPIC, T0, T0 + timedelta(minutes=4), 1)
        assert [p.backlog for p in points] == [2, 3, 4, 4]
        now = resolved_at[0] + timedelta(minutes=2)
        later = overview.backlog_history(con, TOPIC, now - timedelta(minutes=1), now, 1)
        assert later[-1].backlog == later[-1].states.open == 3


def test_freshness_turns_stale(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    write_snapshot(db, [pipeline_record(0, 0, T0)])
    for con in read(db):
        now = datetime.now(UTC)
        assert not overview.freshness(con, TOPIC, now, timedelta(minutes=3)).stale
        late = overview.freshness(con, TOPIC, now + timedelta(minutes=10), timedelta(minutes=3))
        assert late.stale and late.age is not None and late.age > timedelta(minutes=9)


# -- patterns ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("signature", "pattern"),
    [
        ("HTTP 404: Not Found - URL no longer available", "expired_url"),
        ("HTTP 410: Gone - presigned URL expired", "expired_url"),
        ("File type validation failed: .exe not in allowed types [.pdf]", "file_type"),
        ("Connection timeout after <n>s - retries exhausted (<n> attempts)", "network_timeout"),
        ("HTTP 503: Service Unavailable - retries exhausted (<n> attempts)", "network_timeout"),
        ("OneLake upload failed: AuthenticationError - Token expired", "onelake_upload"),
        ("OneLake upload failed: ServiceUnavailable (503)", "onelake_upload"),
        ("SSL certificate verification failed: certificate has expired", None),
        ("Unexpected error: KeyError('content-length')", None),
    ],
)
def test_signatures_match_the_runbooks_patterns(signature: str, pattern: str | None) -> None:
    import duckdb

    con = duckdb.connect()
    row = con.execute(
        f"SELECT {patterns.pattern_case_sql('s')} FROM (SELECT ? AS s)", [signature]
    ).fetchone()
    assert row is not None and row[0] == pattern


def burst_records(
    count: int,
    minutes: float,
    start: datetime,
    first_offset: int = 0,
    domain: str = "docs.partner.example.com",
) -> list[RawRecord]:
    step = timedelta(minutes=minutes) / count
    return [
        pipeline_record(
            1,
            first_offset + i,
            start + step * i,
            category="permanent",
            url=f"https://{domain}/c/{i}.pdf",
            error="SSL certificate expired",
        )
        for i in range(count)
    ]


def test_a_systematic_burst_is_found_in_the_data(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    slow = burst_records(60, 24 * 60, T0, domain="slow.example.com")  # spread over a day
    fast = burst_records(60, 5, T0 + timedelta(hours=3), first_offset=100)
    small = burst_records(
        30, 2, T0 + timedelta(hours=5), first_offset=200, domain="small.example.com"
    )
    write_snapshot(db, slow + fast + small)
    for con in read(db):
        found = patterns.bursts(con, TOPIC, IN_BACKLOG, min_records=50, window_minutes=10)
        assert [(b.domain, b.total) for b in found] == [("docs.partner.example.com", 60)]
        assert found[0].peak == 60


@pytest.mark.parametrize("counted_in_sql", [False, True])
def test_a_burst_peaking_twice_reports_its_first_peak_and_its_own_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, counted_in_sql: bool
) -> None:
    # Both ways of handing the records over: one row each, or counted per pair and minute
    # (what a snapshot of millions of records takes).
    if counted_in_sql:
        monkeypatch.setattr(burst_cells, "COUNT_PER_MINUTE_ABOVE", -1)
    db = tmp_path / "s.duckdb"
    first = burst_records(60, 5, T0 + timedelta(hours=3))  # last record at +4 min 55 s
    again = burst_records(60, 5, T0 + timedelta(hours=8), first_offset=100)
    write_snapshot(db, first + again)
    for con in read(db):
        (burst,) = patterns.bursts(con, TOPIC, IN_BACKLOG, min_records=50, window_minutes=10)
    assert burst.signature == "SSL certificate expired"
    assert burst.domain == "docs.partner.example.com"
    assert (burst.peak, burst.total) == (60, 120)
    assert burst.peak_at == T0 + timedelta(hours=3, minutes=4)
    assert burst.first_seen == T0 + timedelta(hours=3)
    assert burst.last_seen == T0 + timedelta(hours=8, minutes=4)


def test_groups_count_share_and_drill_down_to_the_same_records(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    write_snapshot(db, demo_records(1500, now=T0))
    for con in read(db):
        in_scope = search(con, TOPIC, IN_BACKLOG).total
        for key, dimension in DIMENSIONS.items():
            groups = patterns.groups(con, TOPIC, IN_BACKLOG, key, [], limit=1000)
            assert sum(g.count for g in groups) == in_scope, key
            assert abs(sum(g.share for g in groups) - 1) < 1e-9
            for group in groups[:4]:
                value = (
                    group.value
                    if group.value is not None
                    else ("(no error text recorded)" if key == "error_signature" else "(none)")
                )
                if group.value is None and key not in ("error_category", "error_signature"):
                    continue  # only these two filters can select "no value" (no link either)
                assert dimension.filter_field is not None
                flt = replace(
                    IN_BACKLOG,
                    **{dimension.filter_field: _filter_value(dimension.filter_field, value)},
                )
                assert search(con, TOPIC, flt).total == group.count, (key, value)


def _filter_value(field: str, value: str) -> Any:
    if field == "retry_count":
        return (int(value),)
    if field == "category":
        return (value,)
    if field == "hour":
        return int(value)
    return value


def test_pattern_totals_and_new_groups(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    records = [
        pipeline_record(0, 0, T0, error="HTTP 404: Not Found - URL no longer available"),
        pipeline_record(0, 1, T0, error="HTTP 404: Not Found - URL no longer available"),
        pipeline_record(0, 2, T0, error="Quantum flux inversion on attempt 3"),
        pipeline_record(0, 3, T0, error=None, retry_count=0, category="permanent"),
    ]
    write_snapshot(db, records)
    for con in read(db):
        assert patterns.pattern_totals(con, TOPIC, IN_BACKLOG) == {"expired_url": 2, None: 2}
        by_value = {
            g.value: g for g in patterns.groups(con, TOPIC, IN_BACKLOG, "error_signature", [])
        }
        assert by_value["HTTP 404: Not Found - URL no longer available"].pattern == "expired_url"
        assert by_value["Quantum flux inversion on attempt <n>"].is_new
        assert not by_value[None].is_new  # no text: nothing to call new


# -- escalation ----------------------------------------------------------------------------


def test_escalation_criteria_against_known_data(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    now = T0 + timedelta(minutes=30)
    burst = [
        pipeline_record(0, i, now - timedelta(seconds=30 + i % 50), error="SSL certificate expired")
        for i in range(120)
    ]
    odd = [
        pipeline_record(1, 0, T0, category="gremlins"),
        pipeline_record(1, 1, T0, trace_id="evt-again"),
        pipeline_record(1, 2, T0 + timedelta(minutes=5), trace_id="evt-again"),
    ]
    write_snapshot(db, burst + odd)
    settings = Settings(dlq_topic=TOPIC)
    for con in read(db):
        found = {c.key: c for c in escalation.check(con, settings, now)}
    assert found["growth"].met  # 120 records within one minute > 50/min
    assert found["same_error"].met and found["same_error"].evidence_filters == [
        {"signature": "SSL certificate expired"}
    ]
    assert found["unknown"].met
    assert {"what": "error category", "value": "gremlins", "records": 1} in found[
        "unknown"
    ].evidence
    assert found["replay_failures"].met and found["replay_failures"].evidence_filters == [
        {"trace": "evt-again"}
    ]
    assert found["business_critical"].met is None

    quiet = tmp_path / "q.duckdb"
    write_snapshot(quiet, [pipeline_record(0, 0, T0)])
    for con in read(quiet):
        calm = {c.key: c.met for c in escalation.check(con, settings, now)}
    assert calm == {
        "growth": False,
        "same_error": False,
        "unknown": False,
        "replay_failures": False,
        "business_critical": None,
    }


def test_escalation_and_patterns_count_the_same_unmatched_signatures(tmp_path: Path) -> None:
    """The escalation's "error signatures matching none of the runbook's patterns" and the
    Patterns page's warning are one list: every signature no text rule (1-4) matches, a
    bursting one too (pattern 5 is a shape, not a cause), not only the largest groups."""
    db = tmp_path / "s.duckdb"
    now = T0 + timedelta(minutes=30)
    burst = [
        pipeline_record(0, i, now - timedelta(seconds=30 + i % 50), error="SSL certificate expired")
        for i in range(120)
    ]
    odd = [
        pipeline_record(1, 0, T0, error="Quantum flux inversion on attempt 3"),
        pipeline_record(1, 1, T0, error="HTTP 404: Not Found - URL no longer available"),
    ]
    write_snapshot(db, burst + odd)
    settings = Settings(dlq_topic=TOPIC)
    for con in read(db):
        unmatched = patterns.unmatched_signatures(con, TOPIC, IN_BACKLOG)
        unknown = {c.key: c for c in escalation.check(con, settings, now)}["unknown"]
    assert unmatched == [
        ("SSL certificate expired", 120),
        ("Quantum flux inversion on attempt <n>", 1),
    ]
    assert unknown.met and [(e["value"], e["records"]) for e in unknown.evidence] == unmatched
    assert "2 error signatures matching none" in unknown.summary


def test_bursts_counted_per_minute_in_sql_equal_those_from_every_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "s.duckdb"
    write_snapshot(db, demo_records(3000, now=T0))
    for con in read(db):
        each = patterns.bursts(con, TOPIC, IN_BACKLOG, min_records=20, window_minutes=10)
        monkeypatch.setattr(burst_cells, "COUNT_PER_MINUTE_ABOVE", -1)
        counted = patterns.bursts(con, TOPIC, IN_BACKLOG, min_records=20, window_minutes=10)
    assert each  # the demo's bursts
    assert counted == each


def test_size_counts_unparseable_and_gone_records_as_the_filters_do(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    records = demo_records(2_000, partitions=2)  # poison records among them
    # Resolved before the dashboard (below the group's offsets) and gone (below the low mark).
    write_snapshot(db, records[:1_000], committed={0: 300, 1: 200})
    write_snapshot(db, records[1_000:], committed={0: 300, 1: 200}, low={0: 100, 1: 50})
    for con in read(db):
        size = overview.dlq_size(con, TOPIC)
        where, params = IN_BACKLOG.where(TOPIC)
        expected = con.execute(
            "SELECT count(*) FILTER (WHERE parse_error IS NOT NULL AND " + where + "), "
            "count(*) FILTER (WHERE gone_from_kafka_at IS NOT NULL), "
            "count(*) FILTER (WHERE " + where + ") FROM records r",
            params,
        ).fetchone()
        assert (size.unparseable, size.gone, size.backlog) == expected
        assert size.unparseable > 0 and size.gone == 150


def test_same_error_counts_per_pair_as_one_grouping_over_every_record_would(
    tmp_path: Path,
) -> None:
    db = tmp_path / "s.duckdb"
    write_snapshot(db, demo_records(3_000))  # signatures over several domains, no URL too
    settings = Settings(dlq_topic=TOPIC)
    settings = settings.model_copy(
        update={"escalation": settings.escalation.model_copy(update={"same_error_above": 20})}
    )
    for con in read(db):
        found = escalation.check(con, settings, datetime.now(UTC))
        where, params = IN_BACKLOG.where(TOPIC)
        expected = con.execute(
            'SELECT error_signature, count(*) AS n, count(DISTINCT "domain") FROM records r '
            f"WHERE {where} AND error_signature IS NOT NULL GROUP BY error_signature "
            "HAVING count(*) > 20 ORDER BY n DESC, error_signature",
            params,
        ).fetchall()
    same = next(c for c in found if c.key == "same_error")
    got = [(e["error signature"], e["in the backlog"], e["domains"]) for e in same.evidence]
    assert got == expected
    assert len(expected) > 3 and any(d > 1 for *_, d in expected)

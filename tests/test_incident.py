"""Systematic bursts of records without error text, and the incident the Overview names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from dashboard.actions.selection import matching
from dashboard.adapters.db import Database
from dashboard.settings import DEFAULT_ALERTS, Settings
from dashboard.triage import incident, patterns
from dashboard.triage.alerts import AlertStatus
from dashboard.triage.filters import OPEN_RECORDS, RecordFilter
from ingest.parse import RawRecord
from tests.snapshots import TOPIC, pipeline_record, write_snapshot

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
DOMAIN = "docs.partner.example.com"
SSL = "SSL certificate expired"


def _records(
    partition: int,
    count: int,
    start: datetime,
    minutes: float,
    *,
    domain: str = DOMAIN,
    error: str | None = SSL,
    category: str = "permanent",
) -> list[RawRecord]:
    step = timedelta(minutes=minutes) / count
    return [
        pipeline_record(
            partition,
            i,
            start + step * i,
            category=category,
            retry_count=0,
            url=f"https://{domain}/c/{partition}-{i}.pdf",
            error=error,
        )
        for i in range(count)
    ]


def _incident_snapshot(db: Path) -> None:
    """In ten minutes from one domain: 70 records with the SSL error and 60 without error
    text (category permanent), and 40 more of the latter spread over the day before (a burst
    counts every record of its kind in the selection it was found in); beside them, records a
    burst's selection must leave out: no text but another category, and no text from a domain
    that contains the burst's."""
    write_snapshot(
        db,
        [
            *_records(0, 70, T0, 10),
            *_records(1, 60, T0, 10, error=None),
            *_records(2, 20, T0, 10, error=None, category="transient"),
            *_records(3, 20, T0, 10, error=None, domain="cdn." + DOMAIN),
            *_records(4, 40, T0 - timedelta(hours=20), 19 * 60, error=None),
        ],
    )


def _partitions(db: Path, flt: RecordFilter) -> dict[int, int]:
    with Database(db).read() as con:
        refs = matching(con, TOPIC, flt)
    counts: dict[int, int] = {}
    for ref in refs:
        counts[ref.partition] = counts.get(ref.partition, 0) + 1
    return counts


def test_records_without_error_text_form_a_burst_by_domain_and_category(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    _incident_snapshot(db)
    with Database(db).read() as con:
        found = patterns.bursts(con, TOPIC, OPEN_RECORDS, min_records=50, window_minutes=10)
    assert [(b.signature, b.category, b.domain, b.total) for b in found] == [
        (SSL, None, DOMAIN, 70),
        (None, "permanent", DOMAIN, 100),
    ]
    no_text = found[1]
    assert no_text.label == "(no error text recorded), category permanent"
    assert (no_text.first_seen, no_text.last_seen) == (
        T0 - timedelta(hours=20),
        T0 + timedelta(minutes=9),
    )
    # The selection holds exactly the burst's records: not the other category, not the
    # domain that merely contains this one.
    assert _partitions(db, no_text.selection(OPEN_RECORDS)) == {1: 60, 4: 40}
    assert _partitions(db, found[0].selection(OPEN_RECORDS)) == {0: 70}


def test_a_burst_keeps_the_selection_it_was_found_in(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    _incident_snapshot(db)
    within = RecordFilter(states=("open",), since=T0 + timedelta(minutes=2))
    with Database(db).read() as con:
        found = patterns.bursts(con, TOPIC, within, min_records=20, window_minutes=10)
    ssl = next(b for b in found if b.signature == SSL)
    selection = ssl.selection(within)
    assert selection.since == T0 + timedelta(minutes=2)  # not the burst's first minute
    assert _partitions(db, selection) == {0: ssl.total}


def test_the_incident_names_the_burst_the_alert_and_the_runbook(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    _incident_snapshot(db)
    settings = Settings.model_validate({"dlq_topic": TOPIC, "db": db})
    as_of = T0 + timedelta(minutes=11)
    with Database(db).read() as con:
        found = incident.current(con, settings, as_of)
    assert found is not None and found.burst is not None and found.selection is not None
    assert (found.burst.signature, found.burst.total, found.active) == (SSL, 70, True)
    assert found.headline == f"70 records from {DOMAIN} failing since 2026-11-20 12:00 UTC"
    assert [p.key for p in found.patterns] == ["systematic"]
    # 17 records a minute for ten minutes: over 10 a minute from 12:03, firing from 12:08.
    assert [(s.rule.name, s.state) for s in found.alerts][:1] == [("KafkaDLQGrowthRapid", "firing")]
    text = "\n".join(found.details())
    assert f"Error: {SSL}." in text
    assert "Runbook pattern 5" in text
    assert "Alert KafkaDLQGrowthRapid firing since 2026-11-20 12:08 UTC." in text
    assert f"Also: 100 records from {DOMAIN}: (no error text recorded), category permanent" in text
    assert _partitions(db, found.selection) == {0: 70}
    [(_, other)] = found.others
    assert _partitions(db, other) == {1: 60, 4: 40}


def test_no_incident_when_nothing_is_active_or_raised(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    _incident_snapshot(db)
    settings = Settings.model_validate({"dlq_topic": TOPIC, "db": db})
    with Database(db).read() as con:
        assert incident.current(con, settings, T0 + timedelta(hours=3)) is None


def _burst(signature: str | None, last_seen: datetime) -> patterns.Burst:
    return patterns.Burst(
        signature,
        "permanent" if signature is None else None,
        DOMAIN,
        60,
        last_seen,
        80,
        last_seen - timedelta(minutes=20),
        last_seen,
    )


def test_a_firing_alert_names_the_last_burst_even_when_it_has_stopped() -> None:
    ended = _burst("HTTP 404: Not Found", T0)
    firing = AlertStatus(DEFAULT_ALERTS[0], "firing", 12.0, T0, T0 + timedelta(minutes=5), False)
    found = incident.summarize([ended], [firing], OPEN_RECORDS, T0 + timedelta(hours=1), 10)
    assert found is not None and found.burst == ended and not found.active
    assert "failed since" in found.headline
    # The signature also matches runbook pattern 1, so both patterns are named.
    assert [p.key for p in found.patterns] == ["systematic", "expired_url"]
    assert incident.summarize([ended], [], OPEN_RECORDS, T0 + timedelta(hours=1), 10) is None


def test_an_alert_without_any_burst_says_so_and_offers_no_selection() -> None:
    pending = AlertStatus(DEFAULT_ALERTS[2], "pending", 1500.0, T0, None, True)
    found = incident.summarize([], [pending], OPEN_RECORDS, T0, 10)
    assert found is not None and found.burst is None and found.selection is None
    assert (
        "Alert KafkaDLQSizeHigh pending since before 2026-11-20 12:00 UTC, when the data starts."
        in found.details()
    )


def test_the_text_rules_agree_with_their_sql_form(tmp_path: Path) -> None:
    signatures = ["HTTP 404: Not Found", "OneLake upload failed", "Read timed out", "x", None]
    db = tmp_path / "s.duckdb"
    write_snapshot(db, [])
    with Database(db).read() as con:
        for signature in signatures:
            (sql,) = con.execute(
                f"SELECT {patterns.pattern_case_sql('s')} FROM (SELECT $s::VARCHAR AS s)",
                {"s": signature},
            ).fetchone() or (None,)
            assert patterns.text_pattern(signature) == sql, signature


def test_the_dialog_says_how_the_burst_changed_since_its_button_counted() -> None:
    assert incident.grown_note(316, 316) is None
    through = datetime(2026, 11, 30, 9, 20, tzinfo=UTC)
    assert incident.grown_note(316, 328, through) == (
        "12 more records of this burst arrived after the button said 316: "
        "the 328 through 09:20 UTC are previewed here."
    )
    assert incident.grown_note(316, 313) == (
        "3 of the 316 records the button counted are no longer open (replayed or resolved "
        "since): 313 are previewed here."
    )

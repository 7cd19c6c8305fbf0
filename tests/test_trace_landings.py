"""Records sharing a trace id with another (dashboard.adapters.trace_landings): kept by the
ingest and by migration 0008, always equal to the flag derived from every record, and what
the escalation's replay-failures criterion reports."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from dashboard.adapters import trace_landings
from dashboard.adapters.db import Connection, Database
from dashboard.adapters.kafka import BrokerUnreachable, KafkaGateway
from dashboard.settings import Settings
from dashboard.triage import escalation
from ingest import store
from ingest.job import ingest_once
from ingest.parse import BatchParser, RawRecord, stage_raw
from tests.conftest import SettingsFactory
from tests.snapshots import TOPIC, VARIED_AT, demo_records, pipeline_record, write_snapshot
from tests.test_schema_migrations import as_released_before
from tests.test_transaction_writer import writer_for

OTHER = "claimx.downloads.dlq"


def record(partition: int, offset: int, trace: str, topic: str = TOPIC) -> RawRecord:
    at = VARIED_AT + timedelta(minutes=offset)
    return pipeline_record(partition, offset, at, trace_id=trace, topic=topic)


def mismatches(con: Connection) -> list[tuple[object, ...]]:
    return con.execute(
        f"SELECT * FROM {trace_landings.derived_sql()} WHERE trace_repeated <> derived_repeated"
    ).fetchall()


def flagged(con: Connection) -> list[tuple[object, ...]]:
    return con.execute(
        'SELECT topic, "partition", "offset" FROM records WHERE trace_repeated ORDER BY ALL'
    ).fetchall()


def test_each_ingest_flags_repeats_within_its_batch_and_with_earlier_records(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.duckdb"
    write_snapshot(path, [record(0, 0, "a"), record(0, 1, "b"), record(0, 2, "b")])
    # Later: "a" lands again; "c" once; an unreadable record keyed "a" is not a landing;
    # "b" in another DLQ's topic is another topic's.
    poison = RawRecord(0, 4, b"\xff not json", b"a", [], 0, topic=TOPIC)
    write_snapshot(path, [record(0, 3, "a"), poison, record(1, 0, "c")])
    write_snapshot(path, [record(0, 0, "b", topic=OTHER)], topic=OTHER)
    with Database(path).read() as con:
        assert mismatches(con) == []
        assert flagged(con) == [(TOPIC, 0, 0), (TOPIC, 0, 1), (TOPIC, 0, 2), (TOPIC, 0, 3)]


def test_the_criterion_reports_each_trace_id_landing_again(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    write_snapshot(path, [record(0, 0, "a"), record(0, 1, "b"), record(0, 2, "b")])
    write_snapshot(path, [record(0, 3, "a"), record(0, 4, "b")])
    with Database(path).read() as con:
        found = escalation.CRITERIA[3](con, Settings(), VARIED_AT + timedelta(hours=1))
    assert found.key == "replay_failures" and found.met
    assert [(e["trace id"], e["landings"]) for e in found.evidence] == [("b", 3), ("a", 2)]
    assert found.summary == "2 trace ids landed in the DLQ again"


def test_the_migration_flags_what_the_ingest_would_have(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before, now = tmp_path / "before.duckdb", tmp_path / "now.duckdb"
    records = demo_records(3_000)  # replayed-and-failed trace ids and poison records among them
    with monkeypatch.context() as patched:
        as_released_before(patched, "0008_records_trace_landings")
        write_snapshot(before, records[:2_000])
        write_snapshot(before, records[2_000:])
    write_snapshot(now, records[:2_000])
    write_snapshot(now, records[2_000:])
    query = 'SELECT "partition", "offset", trace_hash, trace_repeated FROM records ORDER BY ALL'
    with Database(before).write() as migrated:  # brings the file forward
        assert mismatches(migrated) == []
        kept = migrated.execute(query).fetchall()
    with Database(now).read() as ingested:
        assert kept == ingested.execute(query).fetchall()
    assert 0 < sum(repeated for *_, repeated in kept) < len(kept)


def test_the_kept_hash_is_md5_number_lower_so_hashes_kept_before_still_match() -> None:
    # Snapshots written before the expression was rewritten hold md5_number_lower's values.
    traces = ["evt-0edf5eef95b1", "", " ", "é", "😀 trace", "x" * 500, "a\x00b"]
    traces += [f"evt-{n:012x}" for n in range(0, 2**40, 2**40 // 5_000)]
    sql = trace_landings.TRACE_HASH_SQL.format(parse_error="NULL", trace_id="t")
    with duckdb.connect() as con:
        rows = con.execute(
            f"SELECT t, {sql} AS kept, md5_number_lower(t) AS reference "
            "FROM (SELECT unnest(?::VARCHAR[]) AS t) WHERE kept IS DISTINCT FROM reference",
            [traces],
        ).fetchall()
    assert rows == []


def test_a_hash_two_trace_ids_share_lists_neither(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    write_snapshot(path, [record(0, 0, "a"), record(0, 1, "a"), record(0, 2, "x")])
    write_snapshot(path, [record(0, 3, "y")])
    with Database(path).write() as con:  # as if "x" and "y" had the same 64-bit hash
        con.execute(
            "UPDATE records SET trace_hash = 42, trace_repeated = true WHERE trace_id IN ('x', 'y')"
        )
    with Database(path).read() as con:
        found = escalation.CRITERIA[3](con, Settings(), VARIED_AT + timedelta(hours=1))
    assert [(e["trace id"], e["landings"]) for e in found.evidence] == [("a", 2)]


def unchecked_notes(con: Connection) -> list[tuple[object, ...]]:
    return con.execute("SELECT * FROM trace_landings_unchecked ORDER BY ALL").fetchall()


def test_a_writer_holding_the_file_checks_once_per_hold_before_readers_see_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each check scans every hash of the topic: once per transaction, the ingest's cost would
    # grow with the square of the snapshot.
    checks: list[str] = []
    settle, after_ingest = trace_landings.settle, trace_landings.after_ingest

    def counted_settle(con: Connection, topic: str) -> bool:
        checked = settle(con, topic)
        if checked:
            checks.append("hold")
        return checked

    def counted_after_ingest(con: Connection, topic: str, run_id: int) -> None:
        checks.append("transaction")
        after_ingest(con, topic, run_id)

    monkeypatch.setattr(trace_landings, "settle", counted_settle)
    monkeypatch.setattr(trace_landings, "after_ingest", counted_after_ingest)
    db = Database(tmp_path / "s.duckdb")
    writer = writer_for(db, hold_seconds=600)  # one hold, however busy the machine
    writer.start()
    records = demo_records(3_100)  # trace ids that land again, within and across transactions
    for part in stage_raw(records).to_batches(max_chunksize=700):
        writer.put(pa.Table.from_batches([part]), {})
    writer.finish()  # four transactions, in one hold of the file

    assert checks == ["hold"]
    with db.read() as con:
        assert unchecked_notes(con) == []
        assert mismatches(con) == []
        assert len(flagged(con)) > 2


def killed_writer(path: Path) -> Database:
    """A snapshot whose last writer held the file across two transactions and was killed
    before it let go: its transactions are committed, their check never ran."""
    write_snapshot(path, [record(0, 0, "a"), record(0, 1, "b")])
    db = Database(path)
    parsed = BatchParser().parse(stage_raw([record(0, 2, "a"), record(1, 0, "c")]))
    later = BatchParser().parse(stage_raw([record(1, 1, "c"), record(0, 3, "d")]))
    with db.write() as con:
        run_id = store.start_run(con, TOPIC)
        session = store.prepare(con, TOPIC, defer_landings=True)
        store.write_parsed(con, run_id, TOPIC, parsed, session=session)
        store.write_parsed(con, run_id, TOPIC, later, session=session)
    with db.read() as con:
        assert unchecked_notes(con) == [(TOPIC, 0, 2), (TOPIC, 1, 0)]
        assert len(mismatches(con)) == 4  # (0, 0), (0, 2) share "a"; (1, 0), (1, 1) "c"
    return db


def assert_checked(db: Database) -> None:
    with db.read() as con:
        assert unchecked_notes(con) == []
        assert mismatches(con) == []
        assert flagged(con) == [(TOPIC, 0, 0), (TOPIC, 0, 2), (TOPIC, 1, 0), (TOPIC, 1, 1)]


def test_records_a_killed_writer_left_unchecked_are_checked_by_the_next_run(
    tmp_path: Path,
) -> None:
    db = killed_writer(tmp_path / "s.duckdb")
    write_snapshot(db.path, [])  # the next run of the topic, whatever it finds
    assert_checked(db)


def test_the_next_run_of_any_topic_checks_them(tmp_path: Path) -> None:
    # The killed writer's DLQ may since have been removed from the configuration.
    db = killed_writer(tmp_path / "s.duckdb")
    write_snapshot(db.path, [record(0, 0, "z", topic=OTHER)], topic=OTHER)
    assert_checked(db)


def test_they_are_checked_even_while_kafka_does_not_answer(
    make_settings: SettingsFactory,
) -> None:
    # An outage is when the escalation's replay failures are looked at.
    settings = make_settings(bootstrap_servers="127.0.0.1:1", dlq_topic=TOPIC)
    db = killed_writer(settings.db)
    with pytest.raises(BrokerUnreachable):
        ingest_once(settings, gateway=KafkaGateway(settings, timeout=1.0))
    assert_checked(db)

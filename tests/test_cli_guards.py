"""Bad input, bad settings and faults: one line naming the problem, exit 2 (input or setting)
or 1 (a fault), never a traceback, and nothing changed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dashboard.cli.main import main
from tests.snapshots import TOPIC, demo_records, pipeline_record, write_snapshot


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("guards") / "dlq.duckdb"
    write_snapshot(db, demo_records(20, seed=3))
    return db


def _prepare(tmp: Path, snapshot: Path) -> dict[str, str]:
    (tmp / "zero.duckdb").write_bytes(b"")
    (tmp / "truncated.duckdb").write_bytes(snapshot.read_bytes()[:5000])
    (tmp / "folder").mkdir()
    (tmp / "latin1.toml").write_bytes('operator = "J\xfcrgen"\n'.encode("latin-1"))
    (tmp / "kafka.toml").write_text('[kafka]\n"fetch.wait.max.msx" = 5\n')
    return {"snapshot": str(snapshot)}


NO_REFRESH = "--no-refresh"
CASES = [
    # (id, environment, arguments, exit code, words in the line)
    ("zero-byte file", {"DLQ_DB": "zero.duckdb"}, ["list", NO_REFRESH], 1, "zero.duckdb"),
    ("truncated file", {"DLQ_DB": "truncated.duckdb"}, ["list", NO_REFRESH], 1, "truncated"),
    ("DLQ_DB a folder", {"DLQ_DB": "folder"}, ["list", NO_REFRESH], 2, "folder"),
    ("DLQ_DB empty", {"DLQ_DB": ""}, ["list", NO_REFRESH], 2, "setting db"),
    ("limit over 64 bits", {}, ["list", NO_REFRESH, "--limit", str(2**70)], 2, "--limit"),
    ("negative timeout", {}, ["list", "--timeout", "-5"], 2, "--timeout"),
    ("days beyond a date", {}, ["report", NO_REFRESH, "--days", "99999999999"], 2, "--days"),
    ("output a folder", {}, ["report", NO_REFRESH, "--output", "folder"], 2, "folder"),
    ("output folder missing", {}, ["report", NO_REFRESH, "--output", "no/r.md"], 2, "exists"),
    ("config not UTF-8", {}, ["--config", "latin1.toml", "list", NO_REFRESH], 2, "UTF-8"),
    ("unknown kafka property", {}, ["--config", "kafka.toml", "list"], 2, "fetch.wait.max.msx"),
    ("lock timeout inf", {"DLQ_DB_LOCK_TIMEOUT": "inf"}, ["list", NO_REFRESH], 2, "finite"),
    ("malformed ref", {}, ["replay", f"{TOPIC}:x:1", "--reason", "r"], 2, "partition"),
    ("negative offset", {}, ["view", f"{TOPIC}:0:-1", NO_REFRESH], 2, "offset"),
    ("negative rate", {}, ["replay", f"{TOPIC}:0:1", "--rate", "-5", "--reason", "r"], 2, "rate"),
    ("operator blank", {"DLQ_OPERATOR": "  "}, ["list", NO_REFRESH], 2, "blank"),
    ("operators name no one", {"DLQ_OPERATORS": ","}, ["list", NO_REFRESH], 2, "operators"),
]


@pytest.mark.parametrize(
    ("env", "argv", "code", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_is_one_line_and_an_exit_code(
    env: dict[str, str],
    argv: list[str],
    code: int,
    words: str,
    snapshot: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _prepare(tmp_path, snapshot)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DLQ_DB", str(snapshot))
    monkeypatch.setenv("DLQ_TOPIC", TOPIC)
    monkeypatch.setenv("DLQ_OPERATOR", "tester")
    monkeypatch.setenv("DLQ_AUDIT_LOG", str(tmp_path / "audit.log"))
    monkeypatch.setenv("DLQ_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    before = snapshot.read_bytes()
    try:
        result = main(argv)
    except SystemExit as exit_:  # argparse's exit for a bad option value
        result = int(exit_.code or 0)
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert result == code, err
    assert len(lines) == 1 and words in lines[0], err
    assert "Traceback" not in err + out
    assert snapshot.read_bytes() == before  # nothing changed


def test_audit_csv_escapes_control_characters(
    snapshot: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db = tmp_path / "a.duckdb"
    db.write_bytes(snapshot.read_bytes())
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DLQ_DB", str(db))
    monkeypatch.setenv("DLQ_TOPIC", TOPIC)
    monkeypatch.setenv("DLQ_AUDIT_LOG", str(tmp_path / "audit.log"))
    monkeypatch.setenv("DLQ_OPERATOR", "tester")
    assert main(["view", f"{TOPIC}:0:0", NO_REFRESH]) == 0
    capsys.readouterr()
    from dashboard.actions.audit_entries import audit_look
    from dashboard.actions.identity import Identity
    from dashboard.settings import load_settings

    audit_look(load_settings(), Identity("tester", "settings", True), "view", None, "evt\x1b[2J\r")
    assert main(["audit", "list", "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\r" not in out.replace("\r\n", "\n")
    assert "\\x1b[2J" in out


def test_a_trace_id_of_several_records_lists_them_with_what_tells_them_apart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "twice.duckdb"
    first = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    write_snapshot(
        db,
        [
            pipeline_record(0, 0, first, trace_id="evt-twice"),
            pipeline_record(1, 0, first + timedelta(hours=2), trace_id="evt-twice"),
        ],
    )
    monkeypatch.setenv("DLQ_DB", str(db))
    assert main(["view", "evt-twice", NO_REFRESH]) == 1
    err = capsys.readouterr().err
    assert "trace id evt-twice matches 2 records" in err
    assert f"{TOPIC}:0:0  arrived 2026-11-30 09:00:00 UTC, open" in err
    assert f"{TOPIC}:1:0  arrived 2026-11-30 11:00:00 UTC, open" in err

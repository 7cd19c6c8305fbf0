"""The CLI's usage errors name the command that was used, without touching Kafka or DuckDB."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dashboard.actions.identity import Identity
from dashboard.actions.values import ItemResult, RecordRef, Report, Request
from dashboard.cli.main import build_parser, main


@pytest.mark.parametrize(
    ("argv", "usage"),
    [
        (["list", "--bogus"], "usage: dlq list"),
        (["audit", "list", "--bogus"], "usage: dlq audit list"),
        (["view", "evt-1", "--bogus"], "usage: dlq view"),
    ],
)
def test_an_unknown_option_prints_the_usage_of_its_command(
    argv: list[str], usage: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(usage)
    assert "unrecognized arguments: --bogus" in err


def test_time_options_take_what_their_help_shows(capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(["audit", "list", "--since", "2h", "--until", "2026-11-28"])
    assert datetime.now(UTC) - args.since - timedelta(hours=2) < timedelta(minutes=1)
    assert args.until == datetime(2026, 11, 29, tzinfo=UTC)  # a date covers its whole day
    with pytest.raises(SystemExit) as exit_info:
        main(["audit", "list", "--since", "yesterday"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "'yesterday' is not a time" in err and "fromisoformat" not in err


@pytest.mark.parametrize(
    "argv",
    [
        ["metrics", "--port", "99999"],
        ["metrics", "--port", "-1"],
        ["metrics", "--port", "0"],
        ["ingest", "--follow", "5", "--metrics-port", "70000"],
    ],
)
def test_a_port_out_of_range_is_one_line_and_exit_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "must be from 1 to 65,535" in err
    assert "Traceback" not in err and err.count("\n") == 1


def test_a_port_in_use_names_the_address(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "dlq.toml"
    config.write_text(f'db = "{tmp_path / "dlq.duckdb"}"\n')
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(["--config", str(config), "metrics", "--port", str(port)])
    assert code == 1
    err = capsys.readouterr().err
    assert err.startswith(f"dlq: cannot serve metrics on 127.0.0.1:{port}: ")
    assert "in use" in err


def test_a_dry_run_with_a_missing_audit_copy_does_not_say_the_action_happened() -> None:
    identity = Identity("amy", "settings", can_act=True)
    ref = RecordRef("xact.downloads.dlq", 0, 2)
    dry = Report(Request("replay", [ref], identity, "why", dry_run=True), None)
    dry.results.append(ItemResult(ref, "t", "dry-run"))
    dry.audit_missing.append("entry 3 missing in the audit topic a (Kafka down)")
    assert dry.summary().startswith("dry run: would replay 1 record. Nothing was changed")
    assert "happened" not in dry.summary()
    real = Report(Request("replay", [ref], identity, "why"), None)
    real.results.append(ItemResult(ref, "t", "success"))
    real.audit_missing.append("entry 4 missing in the audit topic a (Kafka down)")
    assert "The action happened but its audit is incomplete" in real.summary()


@pytest.mark.parametrize("argv", [["view", ""], ["view", "  "], ["replay", "", "--reason", "x"]])
def test_an_empty_record_name_is_bad_input(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert (
        "an empty record name: give a trace id or topic:partition:offset" in capsys.readouterr().err
    )


@pytest.fixture
def no_snapshot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Settings of an operator whose snapshot does not exist and whose Kafka does not
    answer: a command refused as bad input must touch neither."""
    db = tmp_path / "snapshot.duckdb"
    monkeypatch.setenv("DLQ_DB", str(db))
    monkeypatch.setenv("DLQ_OPERATOR", "ana")
    monkeypatch.setenv("DLQ_BOOTSTRAP_SERVERS", "127.0.0.1:1")  # nothing answers there
    return db


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (
            ["resolve", "--since", "now", "--until", "10m", "--reason", "x"],
            "dlq resolve: refused. The time window ends before it starts (from ",
        ),
        (
            ["replay", "--offset-from", "10", "--offset-to", "5", "--reason", "x", "--yes"],
            "dlq replay: refused. Offset from 10 is above offset to 5: no record can match.",
        ),
        (
            ["audit", "list", "--since", "2026-11-30", "--until", "2026-11-29"],
            "dlq audit list: refused. The time window ends before it starts (from 2026-11-30 "
            "until 2026-11-29): no entry can match.",
        ),
    ],
)
def test_bounds_given_the_wrong_way_round_are_refused_in_words(
    argv: list[str], said: str, no_snapshot: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not "nothing to do" (or an empty list): the operator most likely swapped the bounds,
    and is told so before anything is read, refreshed or asked."""
    assert main(argv) == 2
    assert said in capsys.readouterr().err
    assert not no_snapshot.exists()


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["replay", "--reason", "INC\udcff", "--yes", "t:0:1"], "dlq replay: --reason is"),
        (["replay", "--reason", "INC", "--dry-run", "t\udcff:0:1"], "dlq replay: the records"),
        (["view", "\udcff"], "dlq view: the record argument is"),
        (["resolve", "--reason", "x", "--domain", "a\udcfeb"], "dlq resolve: --domain is"),
    ],
)
def test_arguments_that_are_not_utf8_are_refused_before_anything_is_done(
    argv: list[str], said: str, no_snapshot: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A shell hands bytes that are not UTF-8 over as lone surrogates (os.fsdecode): no query,
    audit entry or Kafka header can take them, and a replay once crashed on its audit entry
    after it had been sent."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert said in err and "not valid UTF-8 text; nothing was done" in err, err
    assert "Traceback" not in err
    assert not no_snapshot.exists()


def test_an_offset_past_kafkas_range_says_the_range(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["view", "t:0:99999999999999999999999"]) == 2
    assert "an offset below 9,223,372,036,854,775,808" in capsys.readouterr().err

"""The CLI's usage errors name the command that was used, without touching Kafka or DuckDB."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

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

"""The CLI's usage errors name the command that was used, without touching Kafka or DuckDB."""

from __future__ import annotations

import pytest

from dashboard.cli.main import main


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

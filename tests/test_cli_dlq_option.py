"""`--dlq NAME` on every command: the settings narrowed to that DLQ, the first by default, and
an unknown name refused with one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboard.cli.context import settings_from
from dashboard.cli.main import build_parser
from tests.conftest import REPO, run_cli
from tests.test_settings_dlqs import THREE_DLQS


@pytest.mark.parametrize(
    ("argv", "topic"),
    [
        (["list"], "verisk-dlq"),
        (["list", "--dlq", "claimx-downloads"], "claimx-dlq"),
        (["--dlq", "claimx-downloads", "replay", "--trace", "t", "--reason", "r"], "claimx-dlq"),
        (["audit", "verify", "--dlq", "enrichment-worker"], "claimx.enrichment.pending.dlq"),
        (["--dlq", "xact-downloads", "report", "--dlq", "claimx-downloads"], "claimx-dlq"),
    ],
)
def test_every_command_takes_dlq(tmp_path: Path, argv: list[str], topic: str) -> None:
    config = tmp_path / "dlq.toml"
    config.write_text(THREE_DLQS)
    args, unknown = build_parser().parse_known_args(["--config", str(config), *argv])
    assert unknown == []
    assert settings_from(args).dlq_topic == topic


def test_an_unknown_dlq_is_refused_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "dlq.toml").write_text(THREE_DLQS)
    done = run_cli(
        ["list", "--dlq", "nope", "--no-refresh"], env={"PYTHONPATH": str(REPO)}, cwd=tmp_path
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "dlq: bad setting: no DLQ named 'nope' (configured: xact-downloads, claimx-downloads, "
        "enrichment-worker)"
    ]

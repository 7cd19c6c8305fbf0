"""The bench's peak RSS of a command is the command's own, whatever the bench holds."""

from __future__ import annotations

import os
import sys

from bench.common import run_measured

MB = 1024 * 1024


def test_peak_is_the_commands_own_not_the_benchs() -> None:
    # Linux charges a directly spawned process with its parent's peak at exec: the bench
    # holding 300 MB would have made a tiny command look 300 MB large.
    held = b"x" * (300 * MB)
    out, _, peak = run_measured([sys.executable, "-c", "print('ok')"], dict(os.environ))
    assert len(held) == 300 * MB
    assert out == "ok\n"
    assert peak < 100 * MB


def test_peak_counts_what_the_command_allocates() -> None:
    code = "data = b'x' * (200 * 1024 * 1024); print(len(data))"
    _, _, peak = run_measured([sys.executable, "-c", code], dict(os.environ))
    assert peak >= 200 * MB

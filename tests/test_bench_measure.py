"""The bench's peak RSS of a command is the command's own, whatever the bench holds."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import common
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


def test_a_run_is_marked_changed_by_code_changes_not_by_the_benches_own_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    (tmp_path / "benchmarks" / "runs").mkdir(parents=True)
    for name in ("BENCHMARKS.md", "benchmarks/runs/a.json", "code.py"):
        (tmp_path / name).write_text("first\n")
    git("init", "-q")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "first")
    monkeypatch.setattr(common, "REPO", tmp_path)
    assert not common.tree_changed()
    # The first `make bench`'s output, not committed yet, when the second one runs.
    (tmp_path / "BENCHMARKS.md").write_text("rendered again\n")
    (tmp_path / "benchmarks/runs/a.json").write_text("{}\n")
    (tmp_path / "benchmarks/runs/b.json").write_text("{}\n")
    assert not common.tree_changed()
    (tmp_path / "code.py").write_text("changed\n")
    assert common.tree_changed()

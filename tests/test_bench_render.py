"""The benches' recorded runs and BENCHMARKS.md rendered from them (no bench is run)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bench.common import (
    Figure,
    LoadAverage,
    Machine,
    Run,
    Target,
    recording,
    run_from_json,
    run_to_json,
)
from bench.render import load_runs, main, render

T0 = datetime(2026, 11, 28, 23, 0, tzinfo=UTC)
MACHINE = Machine("Example CPU @ 2.40GHz", 2, "Linux-6.1-x86_64", "3.11.9")


def sample_run(bench: str, started: datetime, ratio: float) -> Run:
    return Run(
        bench=bench,
        started_at=started,
        finished_at=started + timedelta(minutes=12),
        commit="0123456789abcdef0123456789abcdef01234567",
        dirty=False,
        machine=MACHINE,
        load_average=LoadAverage(min=1.1, mean=1.85, max=2.4, samples=140),
        parameters={"records": 1_000_000, "partitions": 6},
        figures=[
            Figure("ingest_rate", "dlq ingest", 72_500.4, "rec/s", note="13.8s in the job"),
            Figure("ratio_plain_defaults", "ratio ingest / plain", ratio, "x", Target(">=", 0.5)),
            Figure("peak_rss", "ingest peak RSS", 412.0, "MB", Target("<=", 400)),
        ],
    )


def write(directory: Path, run: Run) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{run.started_at:%Y-%m-%dT%H%M%SZ}-{run.bench}.json").write_text(run_to_json(run))


def test_a_run_round_trips_through_its_json() -> None:
    run = sample_run("ingest", T0, 0.75)
    text = run_to_json(run)
    data = json.loads(text)
    assert data["schema"] == 1
    assert data["machine"] == {
        "cpu_model": "Example CPU @ 2.40GHz",
        "cores": 2,
        "platform": "Linux-6.1-x86_64",
        "python": "3.11.9",
    }
    assert data["figures"][1]["target"] == {"op": ">=", "value": 0.5}
    assert data["figures"][0]["target"] is None
    assert run_from_json(text) == run


def test_benchmarks_md_shows_the_newest_run_of_each_bench_against_its_targets(
    tmp_path: Path,
) -> None:
    runs = tmp_path / "runs"
    write(runs, sample_run("ingest", T0 - timedelta(days=1), 0.41))
    write(runs, sample_run("ingest", T0, 0.75))
    write(runs, sample_run("actions", T0 + timedelta(hours=1), 0.26))
    text = render(load_runs(runs))
    assert "## Ingest (`python -m bench.ingest_bench`)" in text
    assert "## Bulk replay (`python -m bench.actions_bench`)" in text
    assert text.index("## Ingest") < text.index("## Bulk replay")  # the benches' own order
    assert (
        "Run of 2026-11-28 23:00 UTC (12 min) at commit `0123456789`, on Example CPU @ "
        "2.40GHz, 2 cores; load average 1.85 (min 1.10, max 2.40). "
        "Parameters: records = 1,000,000, partitions = 6." in text
    )
    assert "| dlq ingest (13.8s in the job) | 72,500 rec/s | | | |" in text
    assert "| ratio ingest / plain | 0.75 x | >= 0.5 x | 1.50 | met |" in text
    assert "| ingest peak RSS | 412 MB | <= 400 MB | 1.03 | **not met** |" in text
    assert "0.41 x" not in text  # an older run is listed, not shown as current
    history = text[text.index("## Every recorded run") :].splitlines()
    assert [line.split(" | ")[1] for line in history if line.startswith("| 2026")] == [
        "actions (0/2 met)",
        "ingest (1/2 met)",
        "ingest (0/2 met)",
    ]


def test_without_runs_it_says_none_was_recorded(tmp_path: Path) -> None:
    output = tmp_path / "BENCHMARKS.md"
    main(["--runs", str(tmp_path / "none"), "--output", str(output)])
    assert "No run has been recorded yet" in output.read_text()


def test_recording_writes_one_run_with_the_machine_load_and_commit(tmp_path: Path) -> None:
    with recording("unit", {"records": 10}, directory=tmp_path) as record:
        figure = record.add("rate", "something", 123.4, "rec/s", (">=", 100))
    assert figure.met is True
    (path,) = tmp_path.glob("*-unit.json")
    run = run_from_json(path.read_text())
    assert run.bench == "unit" and run.parameters == {"records": 10}
    assert run.figures == [figure]
    assert run.machine.cores >= 1 and run.machine.cpu_model
    assert run.load_average.samples >= 2
    assert run.started_at <= run.finished_at
    assert len(run.commit) == 40 or run.commit == "unknown"


def test_a_failed_bench_records_nothing(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), recording("unit", {}, directory=tmp_path):
        raise RuntimeError("broker gone")
    assert list(tmp_path.iterdir()) == []


def scale_run(started: datetime, search_ms: dict[str, float]) -> Run:
    figures = []
    for size, ms in search_ms.items():
        target = Target("<", 300) if size != "10M" else Target("<", 3000)
        figures += [
            Figure(f"{size}.ingest_rate", f"dlq ingest @ {size}", 80_000.0, "rec/s"),
            Figure(f"{size}.search.url_text", f"search: url text @ {size}", ms, "ms", target),
        ]
    run = sample_run("dashboard", started, 0.75)
    return Run(**{**run.__dict__, "figures": figures})


def test_a_scale_run_is_one_row_per_figure_and_one_column_per_size(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    write(runs, scale_run(T0, {"100k": 12.0, "1M": 140.0, "10M": 3_400.0}))
    text = render(load_runs(runs))
    assert "| figure | 100k | 1M | 10M |" in text
    assert "| dlq ingest (rec/s) | 80,000 | 80,000 | 80,000 |" in text
    assert (
        "| search: url text (ms) | 12.00 (< 300: met) | 140 (< 300: met) "
        "| 3,400 (< 3000: **not met**) |" in text
    )
    assert "Only one run recorded" in text


def test_two_runs_in_a_row_must_both_meet_every_target(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    write(runs, scale_run(T0, {"1M": 400.0}))
    write(runs, scale_run(T0 + timedelta(hours=1), {"1M": 140.0}))
    text = render(load_runs(runs))
    assert "Not met in at least one of the two newest runs: search: url text @ 1M." in text
    write(runs, scale_run(T0 + timedelta(hours=2), {"1M": 150.0}))
    assert "Every target met in the two newest runs in a row." in render(load_runs(runs))


def test_sizes_read_as_people_write_them() -> None:
    from bench.dashboard_bench import parse_sizes, size_label

    assert parse_sizes("100000,1_000_000, 10000000") == [100_000, 1_000_000, 10_000_000]
    assert [size_label(n) for n in (100_000, 1_000_000, 10_000_000, 2_500)] == [
        "100k",
        "1M",
        "10M",
        "2,500",
    ]
    with pytest.raises(SystemExit, match="sizes like"):
        parse_sizes("0")

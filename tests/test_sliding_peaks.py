"""The burst scan's sliding window, against a count done the slow, obvious way."""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.triage.sliding_peaks import KeyPeaks, busiest_windows

Event = tuple[int, int]  # (key, minute)


def by_brute_force(events: list[Event], window: int) -> dict[int, tuple[int, ...]]:
    """key -> (peak, first minute at peak, total, first minute, last minute)."""
    minutes: defaultdict[int, list[int]] = defaultdict(list)
    for key, minute in events:
        minutes[key].append(minute)
    found: dict[int, tuple[int, ...]] = {}
    for key, seen in minutes.items():
        per_minute = Counter(seen)
        best, best_at = -1, 0
        for end in range(min(seen), max(seen) + 1):
            inside = sum(per_minute[m] for m in range(end - window + 1, end + 1))
            if inside > best:
                best, best_at = inside, end
        found[key] = (best, best_at, len(seen), min(seen), max(seen))
    return found


def as_dict(peaks: KeyPeaks) -> dict[int, tuple[int, ...]]:
    return {
        int(key): (
            int(peaks.peak[i]),
            int(peaks.peak_minute[i]),
            int(peaks.total[i]),
            int(peaks.first_minute[i]),
            int(peaks.last_minute[i]),
        )
        for i, key in enumerate(peaks.keys)
    }


def run(events: list[Event], window: int, max_grid_cells: int) -> dict[int, tuple[int, ...]]:
    keys = np.array([k for k, _ in events], dtype=np.uint64)
    minutes = np.array([m for _, m in events], dtype=np.int64)
    return as_dict(busiest_windows(keys, minutes, window, max_grid_cells=max_grid_cells))


# Keys as hashes look: anywhere in the unsigned 64-bit range. Minutes near the epoch minute
# of today, or around zero (a timestamp before 1970 is bad data, not a crash).
keys_strategy = st.sampled_from([0, 1, 2**63, 2**64 - 1, 12345678901234567])
events_strategy = st.lists(st.tuples(keys_strategy, st.integers(0, 180)), min_size=1, max_size=200)


@settings(max_examples=200, deadline=None)
@given(
    events=events_strategy,
    base=st.sampled_from([29_000_000, -90]),
    window=st.integers(1, 40),
)
def test_both_paths_agree_with_counting_every_window(
    events: list[Event], base: int, window: int
) -> None:
    events = [(key, base + minute) for key, minute in events]
    expected = by_brute_force(events, window)
    # A grid large enough for the data, and none at all (the sort-based path).
    assert run(events, window, max_grid_cells=10**9) == expected
    assert run(events, window, max_grid_cells=0) == expected


@pytest.mark.parametrize("max_grid_cells", [10**9, 0])
def test_a_tie_reports_the_first_minute_at_the_peak(max_grid_cells: int) -> None:
    # Three in minutes 10-12, three again in minutes 50-52; a 5-minute window.
    events = [(7, m) for m in (10, 11, 12, 50, 51, 52)]
    assert run(events, 5, max_grid_cells)[7] == (3, 12, 6, 10, 52)


@pytest.mark.parametrize("max_grid_cells", [10**9, 0])
def test_keys_do_not_leak_into_each_other_windows(max_grid_cells: int) -> None:
    # Key 1 ends where key 2 starts (in the grid's and the sorted cells' layout alike).
    events = [(1, 100)] * 4 + [(2, 0)] * 3
    found = run(events, 30, max_grid_cells)
    assert found[1][0] == 4
    assert found[2][0] == 3


def test_no_events_give_no_keys() -> None:
    peaks = busiest_windows(np.zeros(0, np.uint64), np.zeros(0, np.int64), 10)
    assert len(peaks.keys) == 0


def test_a_window_under_one_minute_is_refused() -> None:
    with pytest.raises(ValueError, match="window"):
        busiest_windows(np.ones(1, np.uint64), np.ones(1, np.int64), 0)


@settings(max_examples=100, deadline=None)
@given(events=events_strategy, window=st.integers(1, 40), grid=st.sampled_from([10**9, 0]))
def test_events_counted_per_key_and_minute_give_the_same_windows(
    events: list[Event], window: int, grid: int
) -> None:
    counted = Counter(events)  # what the burst query hands over: one row per key and minute
    cells = list(counted)
    aggregated = busiest_windows(
        np.array([k for k, _ in cells], dtype=np.uint64),
        np.array([m for _, m in cells], dtype=np.int64),
        window,
        counts=np.array([counted[c] for c in cells], dtype=np.int64),
        max_grid_cells=grid,
    )
    expected = by_brute_force(events, window)
    found = as_dict(aggregated)
    assert found == expected


# Dense events, and a threshold at or next to one key's own peak: the pre-selection by
# blocks of `window` minutes is tested where a window straddles two blocks.
dense_events = st.lists(st.tuples(keys_strategy, st.integers(0, 40)), min_size=1, max_size=200)


@settings(max_examples=300, deadline=None)
@given(
    events=dense_events,
    window=st.integers(1, 15),
    pick=st.integers(0, 4),
    slack=st.integers(-1, 1),
    grid=st.sampled_from([10**9, 0]),
    counted=st.booleans(),
)
def test_keys_that_may_reach_a_peak_are_kept_whole(
    events: list[Event], window: int, pick: int, slack: int, grid: int, counted: bool
) -> None:
    # The burst scan asks only for keys peaking at `at_least` or more: every such key is
    # there with all its figures, whether events come one by one or counted per minute.
    expected = by_brute_force(events, window)
    peaks = sorted(v[0] for v in expected.values())
    at_least = max(1, peaks[pick % len(peaks)] + slack)
    per_cell = Counter(events)
    cells = list(per_cell) if counted else events
    keys = np.array([k for k, _ in cells], dtype=np.uint64)
    minutes = np.array([m for _, m in cells], dtype=np.int64)
    counts = np.array([per_cell[c] for c in cells], dtype=np.int64) if counted else None
    found = as_dict(
        busiest_windows(
            keys, minutes, window, counts=counts, at_least=at_least, max_grid_cells=grid
        )
    )
    every = as_dict(busiest_windows(keys, minutes, window, counts=counts))
    assert {k for k, v in expected.items() if v[0] >= at_least} <= found.keys()
    assert found == {k: expected[k] for k in found}
    assert found == {k: every[k] for k in found}

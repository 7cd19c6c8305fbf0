"""The busiest sliding window of each key over (key, minute) events: the burst scan's core.

Counting in a key x minute grid needs no sort of the events, which a RANGE window over
(key, minute) groups in SQL does. When the grid would be large (many keys over a long span)
a sort-based path gives the same answer with memory that follows the number of events.
A caller that wants only the keys peaking at some threshold (the burst scan) says so: keys
that cannot reach it, judged on blocks of `window` minutes, are left out before the windows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa

Int64s = npt.NDArray[np.int64]

# Above this many key x minute cells the grid (a few arrays of this many int64) costs more
# memory than a page query should take; the sort-based path takes over.
MAX_GRID_CELLS = 4_000_000


@dataclass(frozen=True)
class KeyPeaks:
    """Per distinct key (in order of first appearance), its busiest window and totals."""

    keys: npt.NDArray[np.uint64]
    peak: Int64s  # most events within `window` minutes ending at some minute
    peak_minute: Int64s  # the first minute at which a window ending there held `peak`
    total: Int64s
    first_minute: Int64s
    last_minute: Int64s


def busiest_windows(
    keys: npt.NDArray[np.uint64],
    minutes: npt.ArrayLike,
    window: int,
    *,
    counts: npt.ArrayLike | None = None,
    at_least: int = 1,
    max_grid_cells: int = MAX_GRID_CELLS,
) -> KeyPeaks:
    """For each key whose busiest window may hold `at_least` events, the most events within
    any `window` consecutive minutes.

    `keys[i]` and `minutes[i]` describe one event, or `counts[i]` (at least one) events when
    given (events counted per key and minute; a key's minute may come more than once, and its
    counts add up); minutes are integers (e.g. epoch minutes). A
    window of `window` minutes ending at minute t covers t - window + 1 .. t. Every key
    whose peak reaches `at_least` is in the result; some below it may be too.
    """
    if window < 1:
        raise ValueError("window must be at least one minute")
    minute = np.asarray(minutes, dtype=np.int64)
    weight = None if counts is None else np.asarray(counts, np.int64)
    if not len(keys) == len(minute) == (len(minute) if weight is None else len(weight)):
        raise ValueError("keys, minutes and counts differ in length")
    if len(minute) == 0:
        empty = np.zeros(0, np.int64)
        return KeyPeaks(np.zeros(0, np.uint64), empty, empty, empty, empty, empty)
    # Hash-based (linear time): a sort would cost more than everything else here together.
    encoded = pa.array(keys, pa.uint64()).dictionary_encode()
    codes = encoded.indices.to_numpy().astype(np.int64)
    distinct = encoded.dictionary.to_numpy()
    low = int(minute.min())
    span = int(minute.max()) - low + 1
    offsets = minute - low
    if len(distinct) * span <= max_grid_cells:
        counts = _minute_counts(codes, offsets, weight, len(distinct), span)
        if at_least > 1:
            chosen = _may_reach(_per_block(counts, window), at_least)
            distinct, counts = distinct[chosen], counts[chosen]
        found = _on_grid(counts, window)
    else:
        if at_least > 1:
            block = offsets // window
            blocks = int(block.max()) + 1
            per_block = np.bincount(
                codes * blocks + block, weights=weight, minlength=len(distinct) * blocks
            ).reshape(len(distinct), blocks)
            chosen = _may_reach(per_block.astype(np.int64), at_least)
            if len(chosen) < len(distinct):
                renumbered = np.full(len(distinct), -1, np.int64)
                renumbered[chosen] = np.arange(len(chosen))
                kept = renumbered[codes]
                inside = kept >= 0
                codes, offsets = kept[inside], offsets[inside]
                weight = None if weight is None else weight[inside]
                distinct = distinct[chosen]
            if len(chosen) == 0:
                return KeyPeaks(distinct, *(np.zeros(0, np.int64),) * 5)
        found = _sorted(codes, offsets, weight, span, window)
    peak, peak_at, total, first, last = found
    return KeyPeaks(distinct, peak, peak_at + low, total, first + low, last + low)


def _may_reach(per_block: Int64s, at_least: int) -> Int64s:
    """The keys (rows of events per block of `window` minutes) whose busiest window may hold
    `at_least` events: a window lies within two neighbouring blocks, so a key with no two
    neighbouring blocks holding `at_least` together cannot reach it. The blocks are
    `window` times fewer than the minutes: the minutes are left to the keys that may."""
    last_alone = per_block[:, -1:]  # the last block has no neighbour after it
    pairs = per_block[:, :-1] + per_block[:, 1:]
    return np.flatnonzero(np.maximum(pairs.max(axis=1, initial=0), last_alone[:, 0]) >= at_least)


def _per_block(counts: Int64s, window: int) -> Int64s:
    """Events per key and block of `window` minutes, from events per key and minute."""
    return np.add.reduceat(counts, np.arange(0, counts.shape[1], window), axis=1)


def _minute_counts(
    codes: Int64s, offsets: Int64s, weight: Int64s | None, key_count: int, span: int
) -> Int64s:
    """Events per key (row) and minute (column)."""
    cells = codes * span + offsets
    if weight is None:  # one event each: counted as integers, no float pass
        counts = np.bincount(cells, minlength=key_count * span).astype(np.int64, copy=False)
    else:  # bincount adds weights as floats: exact for any count below 2**53.
        counts = np.bincount(cells, weights=weight, minlength=key_count * span).astype(np.int64)
    return counts.reshape(key_count, span)


def _on_grid(counts: Int64s, window: int) -> tuple[Int64s, Int64s, Int64s, Int64s, Int64s]:
    span = counts.shape[1]
    cumulative = np.cumsum(counts, axis=1)
    in_window = cumulative.copy()
    in_window[:, window:] -= cumulative[:, :-window]
    seen = counts > 0
    return (
        in_window.max(axis=1),
        in_window.argmax(axis=1),  # argmax: the first of equal maxima
        cumulative[:, -1],
        seen.argmax(axis=1),
        span - 1 - seen[:, ::-1].argmax(axis=1),
    )


def _sorted(
    codes: Int64s, offsets: Int64s, weight: Int64s | None, span: int, window: int
) -> tuple[Int64s, Int64s, Int64s, Int64s, Int64s]:
    if weight is None:
        weight = np.ones(len(codes), np.int64)
    # One integer per (key, minute), keys `stride` apart so no window reaches the previous key.
    stride = span + window
    unsorted = codes * stride + offsets
    order = np.argsort(unsorted, kind="stable")
    cells = unsorted[order]
    starts = np.flatnonzero(np.diff(cells, prepend=-1))
    cell = cells[starts]
    per_cell = np.add.reduceat(weight[order], starts)
    cumulative = np.concatenate(([0], np.cumsum(per_cell)))
    window_start = np.searchsorted(cell, cell - (window - 1), side="left")
    in_window = cumulative[1:] - cumulative[window_start]
    key_of_cell = cell // stride
    minute_of_cell = cell % stride
    # Every code occurs, and cells are sorted by code: segment i is code i.
    key_starts = np.flatnonzero(np.diff(key_of_cell, prepend=-1))
    key_ends = np.append(key_starts[1:], len(cell)) - 1
    peak = np.maximum.reduceat(in_window, key_starts)
    segment = np.cumsum(np.diff(key_of_cell, prepend=-1) > 0) - 1
    position = np.arange(len(cell))
    at_peak = np.where(in_window == peak[segment], position, len(cell))
    first_at_peak = np.minimum.reduceat(at_peak, key_starts)
    return (
        peak,
        minute_of_cell[first_at_peak],
        np.add.reduceat(per_cell, key_starts),
        minute_of_cell[key_starts],
        minute_of_cell[key_ends],
    )

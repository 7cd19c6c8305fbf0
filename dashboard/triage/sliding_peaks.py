"""The busiest sliding window of each key over (key, minute) events: the burst scan's core.

Counting in a key x minute grid needs no sort of the events, which a RANGE window over
(key, minute) groups in SQL does. When the grid would be large (many keys over a long span)
a sort-based path gives the same answer with memory that follows the number of events.
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
    first_index: Int64s  # position in the input of the key's first event


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
    given (events counted per key and minute); minutes are integers (e.g. epoch minutes). A
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
        return KeyPeaks(np.zeros(0, np.uint64), empty, empty, empty, empty, empty, empty)
    # Hash-based (linear time): a sort would cost more than everything else here together.
    encoded = pa.array(keys, pa.uint64()).dictionary_encode()
    codes = encoded.indices.to_numpy().astype(np.int64)
    distinct = encoded.dictionary.to_numpy()
    first_index = np.full(len(distinct), len(codes), np.int64)
    np.minimum.at(first_index, codes, np.arange(len(codes), dtype=np.int64))
    low = int(minute.min())
    span = int(minute.max()) - low + 1
    offsets = minute - low
    key_count = len(distinct)
    if at_least > 1:
        chosen = _may_reach(codes, offsets, weight, key_count, window, at_least)
        if len(chosen) == 0:
            empty = np.zeros(0, np.int64)
            return KeyPeaks(distinct[chosen], empty, empty, empty, empty, empty, empty)
        if len(chosen) < key_count:
            distinct, first_index = distinct[chosen], first_index[chosen]
            # The other keys' events share one row after the chosen keys', dropped below:
            # cheaper than taking them out of every array.
            renumbered = np.full(key_count, len(chosen), np.int64)
            renumbered[chosen] = np.arange(len(chosen))
            codes, key_count = renumbered[codes], len(chosen) + 1
    if key_count * span <= max_grid_cells:
        found = _on_grid(codes, offsets, weight, key_count, span, window)
    else:
        inside = codes < len(distinct)  # the sort wants every code it sees to be a key
        if not inside.all():
            codes, offsets = codes[inside], offsets[inside]
            weight = None if weight is None else weight[inside]
        found = _sorted(codes, offsets, weight, span, window)
    peak, peak_at, total, first, last = (part[: len(distinct)] for part in found)
    return KeyPeaks(distinct, peak, peak_at + low, total, first + low, last + low, first_index)


def _may_reach(
    codes: Int64s,
    offsets: Int64s,
    weight: Int64s | None,
    key_count: int,
    window: int,
    at_least: int,
) -> Int64s:
    """The codes of the keys whose busiest window may hold `at_least` events: a window of
    `window` minutes lies within two consecutive blocks of `window` minutes, so a key with
    no two neighbouring blocks holding `at_least` together cannot reach it. The blocks are
    `window` times fewer cells than the minutes: the minute grid is left to those keys."""
    block = offsets // window
    blocks = int(block.max()) + 2  # one empty block after the last: its neighbour
    per_block = np.bincount(
        codes * blocks + block, weights=weight, minlength=key_count * blocks
    ).reshape(key_count, blocks)
    pairs = per_block[:, :-1] + per_block[:, 1:]
    return np.flatnonzero(pairs.max(axis=1) >= at_least)


def _on_grid(
    codes: Int64s, offsets: Int64s, weight: Int64s | None, key_count: int, span: int, window: int
) -> tuple[Int64s, Int64s, Int64s, Int64s, Int64s]:
    cells = codes * span + offsets
    if weight is None:  # one event each: counted as integers, no float pass
        counts = np.bincount(cells, minlength=key_count * span).astype(np.int64, copy=False)
    else:  # bincount adds weights as floats: exact for any count below 2**53.
        counts = np.bincount(cells, weights=weight, minlength=key_count * span).astype(np.int64)
    counts = counts.reshape(key_count, span)
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

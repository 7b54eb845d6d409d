"""Steps 2-3 of reading a number: a mask as horizontal runs, and its 8-connected components (and step 1's
hysteresis, which grows a mask through weaker ink by them).

    row, start, end = runs_of(mask)            # (n,) int64 each, row-major; a run covers [start, end)
    a, b = run_edges(row, start, end)          # the pairs of touching runs
    comp, k = label_runs(len(row), a, b)       # each run's component 0..k-1, by first run
    ink = candidate_ink(mask, ink_map, box, row, start, end)   # one candidate character's ink (step 6)
    row, start, end = joined(pieces)           # several pieces' runs as one set; paint(...) as a mask
    mask, joins = hysteresis(v, weak, label_runs)   # v >= 0.5 grown through v > weak (step 1, on paper)

``label_runs`` and ``candidate_ink`` here are the numpy references; ``engines`` also has them
in C (the same labels, the same float64 values bit for bit).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np


class Runs(Protocol):
    """Anything made of runs (a ``segment.Piece``): (n,) int64 rows, first columns, ends."""

    row: np.ndarray
    start: np.ndarray
    end: np.ndarray


def runs_of(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Step 2: (row, start, end) int64 arrays of the horizontal runs of True, row-major;
    a run covers columns [start, end)."""
    h, w = mask.shape
    p = np.zeros((h, w + 2), np.int8)
    p[:, 1:-1] = mask
    d = np.diff(p, axis=1).ravel()  # (h (w + 1),): +1 where a run starts, -1 after it ends
    starts = np.flatnonzero(d == 1)
    ends = np.flatnonzero(d == -1)
    row = starts // (w + 1)
    return row, starts - row * (w + 1), ends - row * (w + 1)


def run_edges(row: np.ndarray, start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Step 3: the pairs of touching runs (a in row r - 1, b in row r), as two (edges,) arrays:
    start_a <= end_b and start_b <= end_a (end exclusive: diagonal neighbours count)."""
    n = len(row)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    span = int(end.max()) + 2
    key_e, key_s = row * span + end, row * span + start  # both increasing in run order
    lo = np.searchsorted(key_e, (row - 1) * span + start, side="left")  # first a of row r-1 with end_a >= start_b
    hi = np.searchsorted(key_s, (row - 1) * span + end, side="right")  # last a + 1 with start_a <= end_b
    cnt = np.maximum(hi - lo, 0)
    b = np.repeat(np.arange(n), cnt)  # (edges,)
    a = np.repeat(lo - np.cumsum(cnt) + cnt, cnt) + np.arange(int(cnt.sum()))
    return a, b


def label_runs(n: int, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, int]:
    """Step 3: the 8-connected component (0..k-1, numbered by first run) of each of the n runs,
    and k, from the run graph's edges (``run_edges``): label propagation with pointer jumping
    (a few vectorised rounds)."""
    if n == 0:
        return np.zeros(0, np.int64), 0
    lab = np.arange(n)
    while True:
        m = np.minimum(lab[a], lab[b])
        new = lab.copy()
        np.minimum.at(new, a, m)
        np.minimum.at(new, b, m)
        new = new[new[new]]
        if np.array_equal(new, lab):
            break
        lab = new
    roots, comp = np.unique(lab, return_inverse=True)  # roots increase with their first run
    return comp, len(roots)


def hysteresis(v: np.ndarray, weak: float,
               label_runs: Callable[[int, np.ndarray, np.ndarray], tuple[np.ndarray, int]]) -> tuple[np.ndarray, int]:
    """Step 1 (on paper): the mask v >= 0.5 of the (h, w) soft ink ``v``, grown by hysteresis: the 8-connected
    components of v > ``weak`` that hold a pixel of it (bool (h, w)); and how many fewer components
    that has than v >= 0.5 alone (the pieces the weaker ink joins)."""
    h, w = v.shape
    strong = v >= 0.5
    row, start, end = runs_of(strong)
    n_strong = label_runs(len(row), *run_edges(row, start, end))[1]
    row, start, end = runs_of(v > weak)
    comp, k = label_runs(len(row), *run_edges(row, start, end))
    at = np.concatenate([[0], np.cumsum(strong.ravel())])  # strong pixels before each flat index
    holds = at[row * w + end] > at[row * w + start]  # (n,): the run holds a strong pixel
    keep = np.zeros(k, bool)
    keep[comp[holds]] = True
    kept = keep[comp]
    return paint(row[kept], start[kept], end[kept], (0, h, 0, w)), n_strong - int(keep.sum())


def joined(pieces: Sequence[Runs]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The (row, start, end) runs of several pieces (``segment.Piece``s), one after another."""
    if len(pieces) == 1:
        return pieces[0].row, pieces[0].start, pieces[0].end
    return (np.concatenate([p.row for p in pieces]), np.concatenate([p.start for p in pieces]),
            np.concatenate([p.end for p in pieces]))


def paint(row: np.ndarray, start: np.ndarray, end: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The runs as a (y1 - y0, x1 - x0) bool mask of ``box`` = (y0, y1, x0, x1), which holds them."""
    y0, y1, x0, x1 = box
    m = np.zeros((y1 - y0, x1 - x0), bool)
    lens = end - start
    base = (row - y0) * (x1 - x0) + (start - x0)
    flat = np.repeat(base - np.cumsum(lens) + lens, lens) + np.arange(int(lens.sum()))
    m.ravel()[flat] = True
    return m


def grow(m: np.ndarray) -> np.ndarray:
    """One 3x3 dilation of a bool mask (nothing beyond its edges)."""
    g = m.copy()
    g[1:] |= m[:-1]
    g[:-1] |= m[1:]
    h = g.copy()
    h[:, 1:] |= g[:, :-1]
    h[:, :-1] |= g[:, 1:]
    return h


def candidate_ink(mask: np.ndarray, ink: np.ndarray, box: tuple[int, int, int, int], row: np.ndarray,
                  start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Step 6 of reading a number: the ink of one candidate character, (y1 - y0, x1 - x0) float64
    over ``box`` = (y0, y1, x0, x1) of the page: ``ink`` (the page's ink map) inside the runs'
    mask grown by one pixel, minus the other pieces' ink (``mask``, the page's, outside the runs)."""
    y0, y1, x0, x1 = box
    mine = paint(row, start, end, box)
    others = mask[y0:y1, x0:x1] & ~mine
    return ink[y0:y1, x0:x1] * (grow(mine) & ~others)

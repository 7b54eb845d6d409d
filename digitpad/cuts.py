"""Step 5 of reading a number: where touching characters may be cut apart.

A component that may hold several characters (wide enough, and doubtful when read whole) is
cut along paths from its top row to its bottom row (``cut_paths``); every part is a piece,
and ``numbers.py`` lets the model decide which pieces form each character. Two kinds of
path, found on the upright (deskewed) ink:

- seams: the cheapest path from the top to each bottom column, found row by row (cost: ink
  pixels crossed, plus SEAM_STEP per column moved sideways): it slips between digits that
  touch at a point and crosses only the ink where they touch;
- reservoirs: digits that touch along a stretch leave notches in the upper and lower
  contours (the water they would hold, ``_reservoirs``); from the deepest column of a notch a
  cut runs down (up, from a lower notch) through the middle of the strokes it meets, which
  splits two strokes merged side by side between them (``_through_middle``); and from
  notches in a run of characters, a drop fall (``_drop_fall``): a ball dropped there rolls
  along the contour to the lowest point it can reach before it cuts through, which follows
  the diagonal and curved boundaries a straight cut misses (a 2's base running under a 0, a
  9's stem under a 2's corner).
"""

from __future__ import annotations

import math

import numpy as np

from .inkmap import round_half_up
from .segment import Line, Piece, reading_order

CUT_MIN_WIDTH = 0.3  # components at least this wide (line heights, deskewed) may be cut
CUT_MAX_INK = 2.6  # a seam crosses at most this many stroke widths of ink
SEAM_STEP = 0.3  # a seam's cost per column moved sideways (ink pixels)
RESERVOIR = 0.1  # contour notches at least this deep (line heights) are cut
CUT_MARGIN = 0.08  # cuts stay this far (line heights) from a component's ends...
CUT_SPACING = 0.15  # ... and from each other
CUTS_PER_LINE = 2.5  # at most this many cuts per line height of width...
MAX_CUTS = 10  # ... and this many in all
DROP_MIN_WIDTH = 1.1  # notches of components at least this wide (line heights) are also cut by drop falls...
FALL_SPACING = 1.0  # ... those of notches not chosen where no other path runs this near (stroke widths, middle row)


def _deskewed(c: Piece, line: Line) -> np.ndarray:
    """The piece's ink sheared upright: (height, width) bool, column 0 at deskewed x = d0."""
    shift = np.floor(line.slant * (c.row - line.mid) - c.d0 + 0.5).astype(np.int64)
    w = int((c.end + shift).max()) + 1
    m = np.zeros((c.y1 - c.y0, w + 1), np.int8)
    np.add.at(m, (c.row - c.y0, np.maximum(0, c.start + shift)), 1)
    np.add.at(m, (c.row - c.y0, c.end + shift), -1)
    return np.cumsum(m, axis=1)[:, :w] > 0


def _reservoirs(edge: np.ndarray) -> np.ndarray:
    """Depth of the water that the contour ``edge`` (first ink row per column, y down) holds
    when water is poured from above: the notches between neighbouring characters. (w,)"""
    rim_left = np.minimum.accumulate(edge)
    rim_right = np.minimum.accumulate(edge[::-1])[::-1]
    return edge - np.maximum(rim_left, rim_right)


def _window(v: np.ndarray, win: int, fill: float) -> np.ndarray:
    """The values within ``win`` of each place of ``v`` (w,), past its ends ``fill``: (w, 2 win + 1)."""
    return np.lib.stride_tricks.sliding_window_view(np.pad(v, win, constant_values=fill), 2 * win + 1)


def _through_middle(mb: np.ndarray, x: int, upward: bool, widest: float) -> np.ndarray:
    """A cut from a contour notch at column x: straight on through background, and through
    the middle of the ink run it meets (two strokes merged side by side are split between
    them), unless that run is wider than ``widest`` (a stroke crossed, not a band). (h,)"""
    h, w = mb.shape
    cols = np.empty(h, np.int64)
    for r in (range(h - 1, -1, -1) if upward else range(h)):
        line = mb[r]
        if line[x]:
            s = x - int(np.argmin(line[x::-1])) + 1 if not line[: x + 1].all() else 0
            e = x + int(np.argmin(line[x:])) if not line[x:].all() else w
            if e - s <= widest:
                x = (s + e) // 2
        cols[r] = x
    return cols


def _rows(mb: np.ndarray) -> list[list[bool]]:
    """The mask as plain rows for the drop fall's walk, each padded with ink on both sides (the
    ball stays inside the columns): row r's column c is ``rows[r][c + 1]``. (h lists of w + 2)"""
    h, w = mb.shape
    padded = np.ones((h, w + 2), bool)
    padded[:, 1:-1] = mb
    return padded.tolist()


def _fall(rows: list[list[bool]], x: int, right: bool) -> tuple[list[int], int]:
    """``_drop_fall`` downward on ``_rows``: the column per row and the ink pixels cut through.
    (A walk pixel by pixel: plain lists, since numpy's per-element access costs more than the step.)"""
    h = len(rows)
    side, other = (1, -1) if right else (-1, 1)
    cols = [x] * h
    y, crossed, came = 0, int(rows[0][x + 1]), -1  # came: the column it moved from in this row
    while y < h - 1:
        below = rows[y + 1]
        if not below[x + 1]:
            y, came = y + 1, -1
        elif not below[x + 1 + side]:
            y, x, came = y + 1, x + side, -1
        elif not below[x + 1 + other]:
            y, x, came = y + 1, x + other, -1
        elif not rows[y][x + 1 + side] and came != x + side:
            x, came = x + side, x
        elif not rows[y][x + 1 + other] and came != x + other:
            x, came = x + other, x
        else:
            y, came, crossed = y + 1, -1, crossed + 1
        cols[y] = x
    return cols, crossed


def _drop_fall(mb: np.ndarray, x: int, right: bool, upward: bool) -> tuple[np.ndarray, int]:
    """A drop-fall cut from column x of the top row (the bottom row when upward, the ball
    falling up): the ball moves down when the pixel below is background, else down and to
    the side (left first, right first when ``right``), else sideways (never straight back),
    else cuts down through the ink; it stays inside the columns of ``mb``. Returns the
    column per row (h,) (where the ball leaves the row) and the ink pixels it cut through."""
    rows = _rows(mb)
    cols, crossed = _fall(rows[::-1] if upward else rows, x, right)
    return np.array(cols[::-1] if upward else cols, np.int64), crossed


def _best_fall(rows: list[list[bool]], x: int, upward: bool) -> tuple[np.ndarray, int]:
    """The drop fall from column x of ``_rows`` (upside down when ``upward``) rolling left first
    or right first, whichever cuts less ink (the first of equal ink: left, so a left fall that
    cuts nothing is the answer without rolling right)."""
    best = None
    for right in (False, True):
        cols, crossed = _fall(rows, x, right)
        if best is None or crossed < best[1]:
            best = (cols, crossed)
        if best[1] == 0:
            break
    cols, crossed = best
    return np.array(cols[::-1] if upward else cols, np.int64), crossed


def cut_paths(c: Piece, line: Line) -> tuple[list[np.ndarray], list[float]]:
    """Where piece ``c`` may be cut: paths from its top row to its bottom row, each (height,)
    int64, the image column per row (ink left of it goes left), left to right; and the ink
    each crosses, in stroke widths. Candidates: seams ending at a local minimum of their cost,
    crossing at most CUT_MAX_INK stroke widths (score: that ink), and reservoir cuts from
    notches at least RESERVOIR line heights deep (score: 2 - 3 depth / line height). Best
    score first, at most CUTS_PER_LINE per line height of width (MAX_CUTS in all),
    CUT_SPACING apart and CUT_MARGIN from the ends. In a component at least DROP_MIN_WIDTH
    line heights wide (a run of touching characters, not one character with a loop or a
    crossing), a notch chosen is cut twice when the two differ: through the middle, and by the
    drop fall (rolling left or right first, whichever cuts less ink; left on a tie); and every
    other notch (deepest first) by its drop fall, unless another path runs within FALL_SPACING
    stroke widths of it at the middle row. Paths are ordered by their column at the middle row.
    """
    width = c.d1 - c.d0
    if width < max(CUT_MIN_WIDTH * line.height, 3 * line.stroke):
        return [], []
    mb = _deskewed(c, line)  # (h, w) bool
    m = mb.astype(np.float64)
    h, w = m.shape
    cost = m[0].copy()
    from_left = np.zeros((h, w), bool)  # where the cheapest path to each pixel came from: the left,
    from_above = np.ones((h, w), bool)  # else above, else the right (the first of equal costs)
    pad = np.full(w + 2, np.inf)
    for r in range(1, h):
        pad[1:-1] = cost
        left, right = pad[:-2] + SEAM_STEP, pad[2:] + SEAM_STEP  # (w,)
        best = np.minimum(np.minimum(left, cost), right)
        np.equal(left, best, out=from_left[r])
        np.equal(cost, best, out=from_above[r])
        cost = best + m[r]
    back = np.where(from_left, -1, np.where(from_above, 0, 1))  # (h, w): the column step back up
    margin = max(CUT_MARGIN * line.height, line.stroke)
    spacing = CUT_SPACING * line.height
    win = max(1, int(spacing / 2))
    lo, hi = int(math.ceil(margin)), int(w - margin)
    xs = np.arange(w)
    inside = (xs >= lo) & (xs < hi)  # (w,) columns CUT_MARGIN from the ends
    cands = []  # (score, column, kind)
    near = _window(cost, win, np.inf).min(axis=1)  # (w,) the least cost within win columns
    for x in np.flatnonzero(inside & (cost <= CUT_MAX_INK * line.stroke) & (cost <= near)).tolist():
        cands.append((float(cost[x]) / line.stroke, x, "seam"))
    has = mb.any(axis=0)
    top = np.where(has, mb.argmax(axis=0), h)
    bottom = np.where(has, h - 1 - mb[::-1].argmax(axis=0), -1)
    for kind, depth in (("top", _reservoirs(top)), ("bottom", _reservoirs((h - 1) - bottom))):
        deepest = _window(depth.astype(np.float64), win, -np.inf).max(axis=1)  # (w,) (small integers: exact)
        for x in np.flatnonzero(inside & (depth >= RESERVOIR * line.height) & (depth >= deepest)).tolist():
            cands.append((2.0 - 3.0 * depth[x] / line.height, x, kind))
    chosen: list[tuple[int, str]] = []
    most = min(MAX_CUTS, max(1, int(round_half_up(CUTS_PER_LINE * width / line.height))))
    for _, x, kind in sorted(cands):
        if len(chosen) < most and all(abs(x - y) >= spacing for y, _ in chosen):
            chosen.append((x, kind))
    found = []  # (deskewed column per row (h,), ink crossed in pixels)
    drops = width >= DROP_MIN_WIDTH * line.height  # wide enough for drop falls
    if drops:
        rows = _rows(mb)  # for the drop falls (falling up: the rows upside down)
        rows_up = rows[::-1]
    for x, kind in sorted(chosen):
        if kind == "seam":
            cols = np.empty(h, np.int64)
            for r in range(h - 1, -1, -1):  # back along the path, bottom to top
                cols[r] = x
                x += int(back[r, x]) if r else 0
            found.append((cols, float(cost[cols[-1]])))
        else:
            cols = _through_middle(mb, x, kind == "bottom", 2.5 * line.stroke)
            found.append((cols, float(m[np.arange(h), np.clip(cols, 0, w - 1)].sum())))
            if drops:
                fall, crossed = _best_fall(rows_up if kind == "bottom" else rows, x, kind == "bottom")
                if (fall != cols).any():
                    found.append((fall, float(crossed)))
    mid = h // 2
    if drops:  # the other notches: a drop fall where no path runs
        for _, x, kind in sorted(cands):
            if kind != "seam" and (x, kind) not in chosen:
                fall, crossed = _best_fall(rows_up if kind == "bottom" else rows, x, kind == "bottom")
                if all(abs(int(fall[mid]) - int(f[mid])) >= FALL_SPACING * line.stroke for f, _ in found):
                    found.append((fall, float(crossed)))
    paths, costs = [], []
    shift = np.floor(line.slant * (np.arange(c.y0, c.y1) - line.mid) - c.d0 + 0.5).astype(np.int64)
    for cols, crossed in sorted(found, key=lambda t: int(t[0][mid])):  # (stable: ties keep their order)
        path = cols - shift  # back to image columns
        if paths:
            path = np.maximum(path, paths[-1])  # paths must not cross
        paths.append(path)
        costs.append(crossed / line.stroke)
    return paths, costs


def split(c: Piece, paths: list[np.ndarray], costs: list[float]) -> list[Piece]:
    """Piece ``c`` cut along ``paths`` (image column per row of ``c``, left to right; ``costs``
    their ink crossed): its parts, left to right (a run is split at its row's column)."""
    parts = []
    row, start, end = c.row, c.start, c.end
    for k, path in enumerate(paths + [None]):
        b = path[row - c.y0] if path is not None else end
        left_end = np.minimum(end, b)
        keep = left_end > start
        if keep.any():
            parts.append(Piece(row[keep], start[keep], left_end[keep], c.comp, False,
                               costs[k - 1] if k else -1.0, costs[k] if path is not None else -1.0))
        rest = end > np.maximum(start, b)
        row, start, end = row[rest], np.maximum(start, b)[rest], end[rest]
        if not len(row):
            break
    if len(parts) == 1:
        parts[0].whole, parts[0].cut_l, parts[0].cut_r = True, -1.0, -1.0
    return parts


def cut(comps: list[Piece], line: Line, which: set[int] | None = None) -> list[Piece]:
    """The components, those numbered in ``which`` (default: all) cut where they may be
    (``cut_paths``), as pieces in reading order (``segment.reading_order``)."""
    pieces = []
    for c in comps:
        paths, costs = cut_paths(c, line) if which is None or c.comp in which else ([], [])
        pieces += [p.deskew(line) for p in split(c, paths, costs)] if paths else [c]
    return reading_order(pieces, line)

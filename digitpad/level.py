"""A number written uphill or downhill, turned level before it is read (step 4a of reading a number).

People drift as they write, more on a phone held in one hand than on paper, and a photo taken
with the phone held askew turns the whole line. Characters turned 10 degrees clockwise lean
further than any the digit model learnt (a 1 reads as a 7), and digits that touch are cut and
read by the sequence model along a line that is no longer level. So where the line's tilt is
clear the page is turned level, and steps 1b-10 run on the turned page.

Steps (the JavaScript twin, ``static/level.js``, follows them; constants are UPPER_CASE):

 4a. Tilt (``tilt``): the least-squares lines through the bottoms and through the tops of the
     tall components (at least half the line's height), against their centres, as ``line_of``
     fits the baseline but unclipped; with three tall components or more, and both slopes within
     AGREE of each other, the tilt is their mean. Otherwise (digits that touch: a few wide
     components whose bottoms and tops are no line) the slope of the ink's long axis (its runs'
     second moments, the writer's slant sheared out), where the ink spreads LONG times as far
     along it as across it. The page is turned only past LEVEL_MIN (a drift the model knows, and
     a short line's noise, are left alone) and up to LEVEL_MAX (a steeper "line" is no line of
     writing: a column of digits, a diagonal doodle).
     Turned (``level``): a new page, each pixel the old page's nearest (its ink, soft ink and
     mask), sized to hold the whole old page, about the old page's centre. Steps 1b-4 run again on it (``levelled``); ``to_file`` maps its
     points back to the file's pixels (the characters' boxes, the training crops' owners).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from .inkmap import fit_line
from .segment import Line, Page, Piece, components_of

LEVEL_MIN = 0.12  # tan of the smallest tilt turned level (~7 degrees: past the drift of upright characters that
# compose draws, up to 4 degrees, and its estimate's noise; val: 0.09 turned 3 framed numbers of 300 wrong)
LEVEL_MAX = 0.6  # tan of the steepest (~31 degrees)
AGREE = 0.08  # the baseline's and the top line's slopes differ by at most this
LONG = 3.3  # without a baseline and top line that agree (digits that touch), the ink's long axis, where it
# spreads this many times as far along it as across it: a short line's axis is its digits' shapes (val and train
# writers' numbers drifting 4 degrees at most: 34 of 40 axes past LEVEL_MIN spread under 3 times; 2.3 turned
# val's two-digit real photos 14-30 degrees)


def tilt(comps: list[Piece], line: Line) -> float:
    """Step 4a: the line's slope (dy/dx in working pixels, >0 running downhill), 0.0 when unclear."""
    tall = [c for c in comps if c.height >= 0.5 * line.height]
    agree, base, top = False, 0.0, 0.0
    if len(tall) >= 3:
        cx = [(c.x0 + c.x1) / 2 for c in tall]
        base = fit_line(cx, [float(c.y1) for c in tall], math.inf)[1]
        top = fit_line(cx, [float(c.y0) for c in tall], math.inf)[1]
        agree = abs(base - top) <= AGREE
    # (digits that touch: a few wide components, their tops and bottoms no line: the ink's long axis)
    b = (base + top) / 2 if agree else _axis(comps, line)
    return b if LEVEL_MIN <= abs(b) <= LEVEL_MAX else 0.0


def _axis(comps: list[Piece], line: Line) -> float:
    """The slope of the ink's long axis (second moments of its runs, the writer's slant sheared out);
    0.0 unless the ink spreads LONG times as far along it as across it (a line of four digits or more)."""
    n = sx = sy = sxx = sxy = syy = 0.0
    for c in comps:
        for y, a, e in zip(c.row.tolist(), c.start.tolist(), c.end.tolist()):
            k = e - a  # a run: k pixels at x = a .. e-1, sheared by the slant about the line's middle
            x = (a + e - 1) / 2 + line.slant * (y - line.mid)
            n, sx, sy = n + k, sx + k * x, sy + k * y
            sxx, sxy, syy = sxx + k * x * x + k * (k * k - 1) / 12, sxy + k * x * y, syy + k * y * y
    mx, my = sx / n, sy / n
    cxx, cxy, cyy = sxx / n - mx * mx, sxy / n - mx * my, syy / n - my * my
    # The covariance's first eigenvector (1, b): b = cxy / (d + sqrt(d^2 + cxy^2)), d = (cxx - cyy) / 2
    # (no trigonometry: the same double in JavaScript, whose Math.atan2 may differ in the last bit).
    d, m = (cxx - cyy) / 2, (cxx + cyy) / 2
    q = math.sqrt(d * d + cxy * cxy)  # the eigenvalues are m + q (along) and m - q (across)
    return cxy / (d + q) if d + q > 0 and m + q >= LONG * LONG * (m - q) else 0.0


def levelled(page: Page, found: tuple[list[Piece], Line]) -> tuple[Page, tuple[list[Piece], Line]]:
    """Step 4a: the page and its components (``segment.components_of``), turned level where the
    line's tilt is clear; as they were where it is not, or where nothing is left once turned."""
    b = tilt(*found)
    if b == 0.0:
        return page, found
    turned = level(page, b)
    again = components_of(turned.mask, turned.engine)
    return (turned, again) if again is not None else (page, found)


def level(page: Page, b: float) -> Page:
    """The page turned by the slope ``b`` (its line level): a new Page whose ``turn`` maps back."""
    h, w = page.mask.shape
    r = math.sqrt(1.0 + b * b)
    c, s = 1.0 / r, b / r  # (cos, sin) of the turn: the turned page's (1, 0) is (c, s) on this one
    h2, w2 = int(math.ceil(w * abs(s) + h * c)), int(math.ceil(w * c + h * abs(s)))
    turn = (c, s, (w2 - 1) / 2, (h2 - 1) / 2, (w - 1) / 2, (h - 1) / 2)
    u, v = np.arange(w2, dtype=np.float64)[None, :], np.arange(h2, dtype=np.float64)[:, None]
    x, y = unturned(turn, u, v)  # (h2, w2) each: where each new pixel lies on the old page
    # Each new pixel is the old page's nearest, not interpolated: the ink keeps its levels, which
    # preprocessing weighs against the noise (a faint photo's ink, blurred, fell below 6 sigma: nothing).
    xi, yi = np.floor(x + 0.5).astype(np.int64), np.floor(y + 0.5).astype(np.int64)
    inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
    at = yi[inside] * w + xi[inside]

    def turned(a: np.ndarray) -> np.ndarray:
        out = np.zeros((h2, w2), a.dtype)
        out[inside] = a.ravel()[at]
        return out

    return replace(page, ink=turned(page.ink), v=turned(page.v), mask=turned(page.mask), turn=turn)


def unturned(turn: tuple[float, ...], u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Turned page pixels (u, v) -> the page's pixels before the turn (x, y)."""
    c, s, cu, cv, cx, cy = turn
    return cx + c * (u - cu) - s * (v - cv), cy + s * (u - cu) + c * (v - cv)


def to_file(page: Page, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points (x, y) of ``page`` -> the file's (both with pixel i spanning i..i+1; the turn's pixel
    centres are at the integers)."""
    if page.turn is not None:
        x, y = unturned(page.turn, x - 0.5, y - 0.5)
        x, y = x + 0.5, y + 0.5
    return page.origin[0] + x * page.scale, page.origin[1] + y * page.scale

"""Steps 4-10 of preprocessing (``digitpad.preprocess`` has the numbered specification): an
ink map -> the 28x28 MNIST-style image, as the readable numpy reference.

The C twin (``digitpad/_fastpre.c``, ``finish``) computes the same thing bit for bit and the
JavaScript twin (``static/preprocess.js``) step by step; tests hold all three together. The
constants below are compiled into the C extension too, which reports them (``CONSTANTS``) so
that a stale build is refused (``digitpad.engines``).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .inkmap import percentile, round_half_up

INTER_SIDE = 80  # step 7: the digit's longest side at the intermediate resolution (4x the 20 px box)
PAD = 8  # step 7: border of the intermediate array, room for thickening (rho <= 0.12 * 80 / 2)
STROKE_TARGET = 0.12  # step 8: thinner strokes are thickened to this share of the digit size (MNIST: median 0.127)
STROKE_MAX = 0.2  # step 8: thicker strokes are thinned to this
MAX_THIN = 0.3  # step 8: shrink strokes by at most this share of their width
MIN_CONTRAST = 16.0  # step 4: ink contrast c below max(this, 6 noise) is an empty image (blank paper)
ZOOM_SIDE = 24  # step 4a: ink spanning at most this many working pixels is re-read from the file's pixels
CONSTANTS = {"INTER_SIDE": INTER_SIDE, "PAD": PAD, "STROKE_TARGET": STROKE_TARGET, "STROKE_MAX": STROKE_MAX,
             "MAX_THIN": MAX_THIN, "MIN_CONTRAST": MIN_CONTRAST, "ZOOM_SIDE": ZOOM_SIDE}


class Finished(NamedTuple):
    """What steps 4-10 made of an ink map (``finish`` here, ``_fastpre.finish`` in C)."""

    kind: str  # "empty"; "zoom" (step 4a: re-read box); "done"
    box: tuple[int, int, int, int] | None = None  # zoom: candidates' (cy0, cy1, cx0, cx1); done: ink (y0, y1, x0, x1)
    image: np.ndarray | None = None  # done: (28, 28) uint8
    stroke: float = 0.0  # done: stroke width / digit size before step 8


def finish(ink: np.ndarray, noise: float, min_pixels: float, zoom: bool, normalize_stroke: bool) -> Finished:
    """Steps 4-10 on the (h, w) float64 ink map: the readable reference (``_fastpre.finish``
    is its C twin, and the tests hold the two to identical results). ``zoom``: step 4a may
    ask for a re-read (only when the image was reduced, k > 1). Ink that is all specks far
    apart (dust over a page) may leave nothing at the intermediate resolution: "empty", as in
    both engines and the JavaScript twin."""
    # 4. soft threshold relative to the ink's own contrast.
    floor = max(4 * noise, 10.0)
    inked = ink > floor  # (h, w) bool: the candidates
    cand = ink[inked]
    if cand.size < min_pixels:
        return Finished("empty")
    c = percentile(cand, 0.9)
    if c < max(MIN_CONTRAST, 6 * noise):
        return Finished("empty")

    # 4a. zoom: a digit that spans few working pixels; to_mnist re-reads its box.
    if zoom:
        cy0, cy1, cx0, cx1 = bbox(inked)
        if max(cy1 - cy0, cx1 - cx0) <= ZOOM_SIDE:
            return Finished("zoom", (cy0, cy1, cx0, cx1))
    lo = max(floor, 0.25 * c)
    hi = max(0.75 * c, lo + 1.0)
    v = np.clip((ink - lo) / (hi - lo), 0.0, 1.0)  # (h, w) in [0, 1]

    # 5. binary mask without edge specks.
    mask = _trim_specks(v >= 0.5)
    if int(mask.sum()) < min_pixels:
        return Finished("empty")
    y0, y1, x0, x1 = bbox(mask)  # dropped specks lie outside this box, by construction

    # 6. crop; stroke width at working resolution.
    crop = v[y0:y1, x0:x1]  # (hc, wc)
    hc, wc = crop.shape
    side = max(hc, wc)
    w_work = stroke_width(mask[y0:y1, x0:x1])

    # 7. intermediate: longest side INTER_SIDE, PAD px of room around, binarised.
    f = INTER_SIDE / side
    soft = resample_area(crop, 0, -(-hc * INTER_SIDE // side) + 2 * PAD, f, PAD)  # (hi, wc)
    soft = resample_area(soft, 1, -(-wc * INTER_SIDE // side) + 2 * PAD, f, PAD)  # (hi, wi)
    t = min(0.5, 0.4 * w_work * f)
    m = soft >= t  # (hi, wi) bool
    w_i = stroke_width(m)
    bb = bbox(m)
    if bb is None:  # specks far apart, each averaged below t: nothing to read
        return Finished("empty")
    by0, by1, bx0, bx1 = bb
    side_i = max(by1 - by0, bx1 - bx0)
    stroke = w_i / side_i

    # 8. stroke thickness -> STROKE_TARGET of the digit's size.
    if normalize_stroke and (stroke < STROKE_TARGET or stroke > STROKE_MAX):
        goal = STROKE_TARGET if stroke < STROKE_TARGET else STROKE_MAX
        rho = int(round_half_up((goal * side_i - w_i) / (2 * (1 - goal))))
        rho = max(-int(MAX_THIN * w_i), min(PAD - 1, rho))
        if rho != 0:
            grown = thicken(m, rho)
            if grown.any():
                m = grown

    # 9. fit the long side to 20 px, centre the short side in the 20 px box, then move the
    # box by whole pixels to put the centre of mass on 14.5, as MNIST was built.
    by0, by1, bx0, bx1 = bbox(m)
    bh, bw = by1 - by0, bx1 - bx0
    s = 20.0 / max(bh, bw)
    mf = m.astype(np.float64)
    # Sums of integers and halves, exact in any order (so C may sum them its own way).
    mass = float(mf.sum())
    cy = float((mf.sum(axis=1) * (np.arange(m.shape[0]) + 0.5)).sum()) / mass  # centre of mass,
    cx = float((mf.sum(axis=0) * (np.arange(m.shape[1]) + 0.5)).sum()) / mass  # continuous coords
    offsets = []
    for c0, extent, cm in ((by0, bh, cy), (bx0, bw, cx)):
        box = (20.0 - extent * s) / 2  # where the digit starts inside the 20 px box
        com = (cm - c0) * s + box  # centre of mass inside the 20 px box
        shift = float(round_half_up(14.5 - com))  # box origin in the 28 px field
        shift = min(max(shift, -box), 28.0 - box - extent * s)  # keep the digit inside
        offsets.append(shift + box - c0 * s)  # out = in * s + offset
    oy, ox = offsets
    out = resample_area(resample_area(mf, 0, 28, s, oy), 1, 28, s, ox)  # (28, 28) in [0, 1]

    # 10. uint8, white ink on black.
    image = np.clip(round_half_up(out * 255.0), 0, 255).astype(np.uint8)
    return Finished("done", (y0, y1, x0, x1), image, float(stroke))


def resample_area(x: np.ndarray, axis: int, n_out: int, scale: float, offset: float) -> np.ndarray:
    """Area (box-filter) resampling of 2-D ``x`` along ``axis`` to ``n_out`` pixels, up or down.

    Input pixel j covers [j, j + 1) and maps to [j * scale + offset, (j + 1) * scale + offset)
    in output coordinates. Output pixel i = the integral of the input over its preimage
    [(i - offset) / scale, (i + 1 - offset) / scale), times scale: a fully covered output
    pixel is the mean of what it covers, and ink outside the input counts as 0. Computed with
    the running integral F(t) = sum(x[:floor t]) + frac(t) x[floor t], so no matrix product
    (and no BLAS thread pool) is involved.
    """
    x = np.asarray(x, dtype=np.float64)
    if axis == 1:
        return resample_area(x.T, 0, n_out, scale, offset).T
    n = x.shape[0]
    csum = np.zeros((n + 1, x.shape[1]))  # (n + 1, m): csum[j] = sum(x[:j])
    np.cumsum(x, axis=0, out=csum[1:])
    t = np.clip((np.arange(n_out + 1, dtype=np.float64) - offset) / scale, 0.0, n)  # (n_out + 1,) edges
    i0 = np.minimum(t.astype(np.intp), n - 1)  # the input pixel each edge falls in
    frac = (t - i0)[:, None]
    integral = csum[i0] + frac * x[i0]  # F(t), (n_out + 1, m)
    return (integral[1:] - integral[:-1]) * scale  # (n_out, m)


def stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width, in pixels, of a binary (h, w) drawing.

    A stroke of length L and width W has area A = L W and perimeter P = 2 (L + W), so
    W = (P / 2 - sqrt(P^2 / 4 - 4 A)) / 2 (closed loops and end caps included). P is the
    sum over 2x2 cells of the gradient magnitude, which is nearly the same for strokes at
    any angle (a plain edge count would overstate diagonal ones by up to 41%).
    """
    a = float(np.count_nonzero(mask))
    if a == 0:
        return 0.0
    h, w = mask.shape
    m = np.zeros((h + 2, w + 2), np.uint8)
    m[1:-1, 1:-1] = mask
    # Each 2x2 cell is one of 16 patterns (tl + 2 tr + 4 bl + 8 br); its gradient magnitude
    # sqrt(gx^2 + gy^2), gx = (tr + br - tl - bl) / 2, gy = (bl + br - tl - tr) / 2, is 1 for
    # a straight edge (two side-by-side pixels set), sqrt(1/2) for a corner (one or three
    # set) and 0 otherwise. So P = edges + sqrt(1/2) corners, with both counts exact integers:
    # one multiply and one add, the same in C and JavaScript (a dot product over the 16
    # patterns would round in whatever order BLAS sums).
    code = m[:-1, :-1] + 2 * m[:-1, 1:] + 4 * m[1:, :-1] + 8 * m[1:, 1:]  # (h + 1, w + 1)
    counts = np.bincount(code.ravel(), minlength=16)  # (16,) cells per pattern
    p = int(counts[_EDGE_CELLS].sum()) + int(counts[_CORNER_CELLS].sum()) * math.sqrt(0.5)
    return (p / 2 - math.sqrt(max(p * p / 4 - 4 * a, 0.0))) / 2


_EDGE_CELLS = [3, 5, 10, 12]  # tl+tr, tl+bl, tr+br, bl+br: |gradient| = 1
_CORNER_CELLS = [1, 2, 4, 8, 7, 11, 13, 14]  # one or three pixels set: |gradient| = sqrt(1/2)


def _shift_op(mask: np.ndarray, axis: int, shrink: bool) -> np.ndarray:
    """One 3-tap max (min if shrink) along ``axis``; outside the array counts as background."""
    m = mask if axis == 0 else mask.T
    out = m.copy()
    if shrink:
        out[1:] &= m[:-1]
        out[:-1] &= m[1:]
        out[0] = False
        out[-1] = False
    else:
        out[1:] |= m[:-1]
        out[:-1] |= m[1:]
    return out if axis == 0 else out.T


def _grow(mask: np.ndarray, steps: int, cross: bool, shrink: bool) -> np.ndarray:
    """``steps`` binary dilations (erosions if shrink) by a 3x3 square or a 3x3 cross
    (the centre and its 4 neighbours). Outside the array counts as background. (h, w) bool."""
    for _ in range(steps):
        if cross:
            rows, cols = _shift_op(mask, 0, shrink), _shift_op(mask, 1, shrink)
            mask = (rows & cols) if shrink else (rows | cols)
        else:  # separable 3x3 square: along columns, then along rows
            mask = _shift_op(_shift_op(mask, 0, shrink), 1, shrink)
    return mask


def thicken(mask: np.ndarray, rho: int) -> np.ndarray:
    """Grow (rho > 0) or shrink (rho < 0) binary strokes by |rho| px with an octagon, close to a disc.

    A square of radius a then a diamond of radius b reach a + b along the axes and
    (a sqrt 2 + b / sqrt 2) along the diagonals; b = a sqrt 2 makes the two equal.
    """
    n = abs(int(rho))
    if n == 0:
        return mask
    a = int(round_half_up(n / 2.414))
    mask = _grow(mask, a, cross=False, shrink=rho < 0)
    return _grow(mask, n - a, cross=True, shrink=rho < 0)


def bbox(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """(y0, y1, x0, x1), end-exclusive, of the True pixels; None if there are none."""
    rows = np.flatnonzero(mask.any(axis=1))
    if len(rows) == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def _trim_specks(mask: np.ndarray) -> np.ndarray:
    """Step 5: drop small runs of ink at the ends of the row/column profiles (dust, paper edges)."""
    for axis in (1, 0):  # axis=1 -> profile over rows; axis=0 -> over columns
        prof = mask.sum(axis=axis)  # (h,) or (w,)
        total = prof.sum()
        if total == 0:
            return mask
        gap = max(2, len(prof) // 50)
        runs = []  # [start, end) of non-empty lines, split at gaps of >= gap empty lines
        idx = np.flatnonzero(prof)
        start = prev = int(idx[0])
        for j in idx[1:]:
            if j - prev > gap:
                runs.append((start, prev + 1))
                start = int(j)
            prev = int(j)
        runs.append((start, prev + 1))
        keep = [int(prof[a:b].sum()) for a, b in runs]
        while len(runs) > 1 and keep[0] < 0.02 * total:
            a, b = runs.pop(0)
            keep.pop(0)
            mask = mask.copy()
            if axis == 1:
                mask[a:b] = False
            else:
                mask[:, a:b] = False
        while len(runs) > 1 and keep[-1] < 0.02 * total:
            a, b = runs.pop()
            keep.pop()
            mask = mask.copy()
            if axis == 1:
                mask[a:b] = False
            else:
                mask[:, a:b] = False
    return mask

"""Step 1a of reading a number: a sheet's lines are not ink (photos and scans of ruled or squared
paper; the page's transparent canvas never gets here). ``segment.ink_map`` hands ``sheet_lines``
to the ink map (``inkmap.ink``), which drops what it returns before the sheet's border is
dropped (a digit touching a rule would otherwise go with it): the rules, printed fainter than a
pen writes (``paper_rules``), and a notebook's margin, a vertical line printed as dark as a pen
(``margins``). The browser's twin is ``static/rules.js``.
"""

from __future__ import annotations

import math

import numpy as np

from . import inkmap

RULE_FAINT = 0.5  # step 1a: ink below this share of the pen's (90th percentile) may be a sheet's rule
RULE_CORE = 0.6  # step 1a: a paper rule's row holds this share of the image's width ...
RULE_EDGE = 0.25  # ... and the rows beside it this share, for its thickness ...
RULE_TILTS = np.linspace(-0.175, 0.175, 71)  # ... at a tilt of at most 10 degrees (tan: a phone is held
# askew), in steps of 0.29 degrees: looked for on every k-th column (k = width // RULE_SAMPLE, >= 1),
# where a core row need hold only RULE_LENIENT of RULE_CORE (a sample's count varies); the
# RULE_CANDIDATES tilts of the most ink in such rows are then looked at on every pixel, each
# within a step, in half steps
RULE_SAMPLE = 32
RULE_LENIENT = 0.8
RULE_CANDIDATES = 4
MARGIN_THIN = 40  # step 1a: a margin (a line along the columns, from edge to edge) is at most 1/MARGIN_THIN
# of the height thick (a pen's stroke across a tight crop is thicker) ...
MARGIN_DARK = 0.5  # ... and as dark as the pen (RULE_FAINT of its contrast or more) along this share of the height


def sheet_lines(d: np.ndarray, sigma: float) -> np.ndarray:
    """Step 1a: the (h, w) bool pixels of ``d`` (a photo's deviation from its background, either
    sign; ``sigma`` its noise) that are the sheet's, not ink: its rules, ``paper_rules`` of the ink
    (beyond max(3 sigma, 4), as steps 3b-3c see it) fainter than RULE_FAINT of the pen's (its 90th
    percentile), since a rule is printed lighter than a pen writes; and a margin, as dark as the
    pen (``margins``)."""
    a, seen, pen = _contrast(d, sigma)
    if not seen.any():
        return seen
    rules = paper_rules(seen & (a < RULE_FAINT * pen))
    return rules | margins(seen & ~rules, a >= RULE_FAINT * pen)


def _contrast(d: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Of ``d`` (h, w): |d|, what steps 3b-3c call ink (beyond max(3 sigma, 4): a rule missed there
    is ink to 3c's regions) and the pen's contrast, the 90th percentile of that ink (0 if none)."""
    a = np.abs(d)
    seen = a > max(3 * sigma, 4.0)
    if not seen.any():
        return a, seen, 0.0
    pen = inkmap.percentile(a[seen], 0.9)
    # On squared paper with a small number the rules are most of what is seen, and that is a
    # rule's own contrast: then the pen's is measured on what is not a line from edge to edge
    # (never lower: a number's own rows may run from edge to edge of a crop around it).
    off = seen & ~paper_rules(seen)
    if off.any():
        pen = max(pen, inkmap.percentile(a[off], 0.9))
    return a, seen, pen


def paper_rules(mask: np.ndarray) -> np.ndarray:
    """Step 1a, photos and scans only: the (h, w) bool pixels of ``mask`` that are the paper's
    ruling, not ink. A rule is a straight line whose one row, at the sheet's tilt, holds
    RULE_CORE of the image's width: a line from edge to edge, which a pen's stroke inside a
    number never is; the rows beside it holding RULE_EDGE of it are its thickness. Rules along
    the rows (and squared paper's along the columns) may tilt by up to 10 degrees (RULE_TILTS:
    a photo is never square to the sheet, and a phone is held askew). ``sheet_lines`` passes it only ink
    fainter than the pen's (RULE_FAINT): a pen stroke crossing a rule is not part of it (and,
    to measure the pen's contrast, all the ink)."""
    out = np.zeros_like(mask)
    for m, o in ((mask, out), (mask.T, out.T)):  # o: a view; the rules run along m's rows
        found = _lines(m)
        if found is not None:
            rr, cc, idx, rows = found
            on = np.isin(idx, list(rows))
            o[rr[on], cc[on]] = True
    return out


def margins(mask: np.ndarray, dark: np.ndarray) -> np.ndarray:
    """Step 1a: the (h, w) bool pixels of ``mask`` (the ink the rules are not) that are a notebook's
    margin: a line along the columns, as ``paper_rules`` finds them, that
    - runs from edge to edge (within its thickness of either: a box drawn round a number turns at
      its corners, inside the image),
    - is thin for its length (MARGIN_THIN: a pen's stroke across a tight crop, a 1 as tall as the
      image, is thicker) and alone on the paper (the rows two and three beside it hold under
      RULE_EDGE of the height: not a desk's or a shadow's edge),
    - is ``dark`` (as dark as the pen: RULE_FAINT of its contrast or more) along MARGIN_DARK of the
      height (a rule ``paper_rules`` missed is fainter, and so is a JPEG's streak),
    with a row either side of it (its tilt is found in steps). Printed as dark as a pen writes, it
    passes no faintness test. Only along the columns: a long number's own rows may hold most of a
    row. A digit written across the margin loses the margin's few columns."""
    out = np.zeros_like(mask)
    H = mask.shape[0]
    e = int(max(2.0, H / MARGIN_THIN))  # (the most a margin's ends may stop short of the edges)
    if not (mask[: e + 1].any() and mask[H - 1 - e:].any()):
        return out  # a quick no: no ink at the top and the bottom edge, so no line from edge to edge
    found = _lines(mask.T)
    if found is None:
        return out
    rr, cc, idx, rows = found
    order = sorted(rows)
    bands = np.split(np.array(order), np.flatnonzero(np.diff(order) > 1) + 1)  # each line's rows
    per_row = np.bincount(idx, minlength=int(idx.max(initial=0)) + 5)  # ink in each row at the tilt
    for band in bands:
        beside = max(int(per_row[r]) for r in (band[0] - 3, band[0] - 2, band[-1] + 2, band[-1] + 3) if 0 <= r < len(per_row))
        if len(band) > max(2.0, H / MARGIN_THIN) or beside >= RULE_EDGE * H:
            continue  # too thick, or not alone on the paper (the edge of a desk, of a shadow)
        on = np.isin(idx, np.arange(band[0] - 1, band[-1] + 2))
        ends = max(2, len(band))  # (a box's side ends at its corners, inside the image)
        if (cc[on].min() <= ends and cc[on].max() >= H - 1 - ends
                and np.unique(cc[on][dark.T[rr[on], cc[on]]]).size >= MARGIN_DARK * H):
            out.T[rr[on], cc[on]] = True
    return out


def _lines(m: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, set[int]] | None:
    """``paper_rules`` along the rows of ``m`` (H, W): its ink pixels (rows ``rr``, columns ``cc``),
    their rows at the sheet's tilt (``_rows``) and the rows that are rules, or None (no rule)."""
    H, W = m.shape
    if np.count_nonzero(m) < RULE_CORE * W or _widest_band(m) < RULE_CORE * W:
        return None  # (counted, not indexed: the pixels' indices are only needed past the quick no)
    rr, cc = np.nonzero(m)
    # One sheet: every rule of a direction has the same tilt, the one of the most ink in core
    # rows: the likeliest on a sample of the columns, then each of those on all pixels
    k = max(1, W // RULE_SAMPLE)
    sample = cc % k == 0
    held = _held(_counts(rr[sample], cc[sample], RULE_TILTS, W), RULE_LENIENT * RULE_CORE * len(range(0, W, k)))
    likely = [j for j in np.argsort(-held, kind="stable")[:RULE_CANDIDATES] if held[j]]  # (the first of equals first)
    if not likely:
        return None
    tilts = (RULE_TILTS[likely][:, None] + (RULE_TILTS[1] - RULE_TILTS[0]) * np.linspace(-1, 1, 5)).ravel()
    counts = _counts(rr, cc, tilts, W)  # (T, L)
    held = _held(counts, RULE_CORE * W)
    j = int(np.argmax(held))  # (the first of equals)
    if not held[j]:
        return None
    idx = _rows(rr, cc, tilts[j], W)
    on = np.flatnonzero(counts[j] >= RULE_CORE * W)
    rows = set(on.tolist())
    for d in (-1, 1):
        rows |= {int(r + d) for r in on if counts[j, r + d] >= RULE_EDGE * W}
    return rr, cc, idx, rows


def _rows(rr: np.ndarray, cc: np.ndarray, tilt: float, W: int) -> np.ndarray:
    """Each ink pixel's (row ``rr``, column ``cc``) row at column 0 along ``tilt``, shifted by W
    so that it is >= 0 (|tilt| < 1)."""
    return rr + W - np.round(cc * tilt).astype(np.int64)


def _counts(rr: np.ndarray, cc: np.ndarray, tilts: np.ndarray, W: int) -> np.ndarray:
    """(T, L) how many ink pixels lie in each row (``_rows``) at each of the T ``tilts``; L leaves
    room for a row beyond the last on either side."""
    idx = _rows(rr, cc[None, :], tilts[:, None], W)  # (T, N)
    L = int(idx.max(initial=0)) + 2
    return np.bincount((idx + L * np.arange(len(tilts))[:, None]).ravel(), minlength=L * len(tilts)).reshape(-1, L)


def _held(counts: np.ndarray, core: float) -> np.ndarray:
    """Of (T, L) ``_counts``: (T,) how many pixels the rows holding ``core`` or more hold."""
    return np.where(counts >= core, counts, 0).sum(axis=1)


def _widest_band(m: np.ndarray) -> int:
    """How many columns of ``m`` (H, W) hold ink within the best band of rows as tall as a rule
    at the steepest tilt looked at (a step beyond RULE_TILTS' ends) spans across the width. A
    rule's row holds one pixel per column, all in such a band: below RULE_CORE of the width,
    ``paper_rules`` finds no rule (a quick no)."""
    H, W = m.shape
    steepest = np.abs(RULE_TILTS).max() + (RULE_TILTS[1] - RULE_TILTS[0])
    band = min(H, int(math.ceil(steepest * W)) + 2)
    cs = np.zeros((H + 1, W), np.int32)
    np.cumsum(m, axis=0, out=cs[1:])
    return int(((cs[band:] - cs[:-band]) > 0).sum(axis=1).max())

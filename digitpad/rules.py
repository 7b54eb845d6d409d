"""Step 1a of reading a number: a sheet's rules are not ink (photos and scans of ruled or squared
paper; the page's transparent canvas never gets here). ``segment.ink_map`` hands ``faint_rules``
to the ink map (``inkmap.ink``), which drops what it returns before the sheet's border is
dropped (a digit touching a rule would otherwise go with it). The browser's twin is
``static/rules.js``.
"""

from __future__ import annotations

import math

import numpy as np

from . import inkmap

RULE_FAINT = 0.5  # step 1a: ink below this share of the pen's (90th percentile) may be a sheet's rule
RULE_CORE = 0.6  # step 1a: a paper rule's row holds this share of the image's width ...
RULE_EDGE = 0.25  # ... and the rows beside it this share, for its thickness ...
RULE_TILTS = np.linspace(-0.035, 0.035, 29)  # ... at a tilt of at most 2 degrees (tan), in steps of 0.14


def faint_rules(d: np.ndarray, sigma: float) -> np.ndarray:
    """Step 1a: a sheet's rules in ``d`` (h, w), a photo's deviation from its background (either
    sign): ``paper_rules`` of the ink fainter than RULE_FAINT of the pen's (its 90th percentile),
    since a rule is printed lighter than a pen writes."""
    a = np.abs(d)
    seen = a > max(4 * sigma, 10.0)
    if not seen.any():
        return seen
    pen = inkmap.percentile(a[seen], 0.9)
    # On squared paper with a small number the rules are most of what is seen, and that is a
    # rule's own contrast: then the pen's is measured on what is not a line from edge to edge
    # (never lower: a number's own rows may run from edge to edge of a crop around it).
    off = seen & ~paper_rules(seen)
    if off.any():
        pen = max(pen, inkmap.percentile(a[off], 0.9))
    return paper_rules(seen & (a < RULE_FAINT * pen))


def paper_rules(mask: np.ndarray) -> np.ndarray:
    """Step 1a, photos and scans only: the (h, w) bool pixels of ``mask`` that are the paper's
    ruling, not ink. A rule is a straight line at a tilt of at most 2 degrees (a photo is never
    square to the sheet) whose one row, at its tilt, holds RULE_CORE of the image's width
    (horizontal rules) or height (squared paper's vertical ones): a line from edge to edge,
    which a pen's stroke inside a number never is; the rows beside it holding RULE_EDGE of it
    are its thickness. ``faint_rules`` passes only ink fainter than the pen's (RULE_FAINT): a pen
    stroke crossing a rule is not part of it (and, to measure the pen's contrast, all the ink)."""
    out = np.zeros_like(mask)
    for m, o in ((mask, out), (mask.T, out.T)):  # o: a view; the rules run along m's rows
        H, W = m.shape
        if np.count_nonzero(m) < RULE_CORE * W or _widest_band(m) < RULE_CORE * W:
            continue  # (counted, not indexed: the pixels' indices are only needed past the quick no)
        rr, cc = np.nonzero(m)
        # (T, W): each tilt's row shift at each column (per column, not per pixel: the same values)
        shifts = np.round(np.outer(RULE_TILTS, np.arange(W, dtype=np.float64))).astype(np.int64)
        best, found = 0, None  # one sheet: every rule of a direction has the same tilt, the one
        for shift in shifts:  # that puts the most ink in core rows
            idx = rr + W - shift[cc]  # the row at column 0, shifted >= 0
            counts = np.bincount(idx, minlength=H + 2 * W + 2)
            on = np.flatnonzero(counts >= RULE_CORE * W)
            if len(on) and counts[on].sum() > best:
                best, found = counts[on].sum(), (idx, counts, on)
        if found is None:
            continue
        idx, counts, on = found
        rows = set(on.tolist())
        for d in (-1, 1):
            rows |= {int(r + d) for r in on if counts[r + d] >= RULE_EDGE * W}
        on = np.isin(idx, list(rows))
        o[rr[on], cc[on]] = True
    return out


def _widest_band(m: np.ndarray) -> int:
    """How many columns of ``m`` (H, W) hold ink within the best band of rows as tall as a rule
    at the steepest tilt spans across the width. A rule's row holds one pixel per column, all in
    such a band: below RULE_CORE of the width, ``paper_rules`` finds no rule (a quick no)."""
    H, W = m.shape
    band = min(H, int(math.ceil(np.abs(RULE_TILTS).max() * W)) + 2)
    cs = np.zeros((H + 1, W), np.int32)
    np.cumsum(m, axis=0, out=cs[1:])
    return int(((cs[band:] - cs[:-band]) > 0).sum(axis=1).max())

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
RULE_TILTS = np.linspace(-0.175, 0.175, 71)  # ... at a tilt of at most 10 degrees (tan: a phone is held
# askew), in steps of 0.29 degrees: looked for on every k-th column (k = width // RULE_SAMPLE, >= 1),
# where a core row need hold only RULE_LENIENT of RULE_CORE (a sample's count varies); the
# RULE_CANDIDATES tilts of the most ink in such rows are then looked at on every pixel, each
# within a step, in half steps
RULE_SAMPLE = 32
RULE_LENIENT = 0.8
RULE_CANDIDATES = 4


def faint_rules(d: np.ndarray, sigma: float) -> np.ndarray:
    """Step 1a: a sheet's rules in ``d`` (h, w), a photo's deviation from its background (either
    sign): ``paper_rules`` of the ink (beyond max(3 sigma, 4), as steps 3b-3c see it) fainter than
    RULE_FAINT of the pen's (its 90th percentile), since a rule is printed lighter than a pen writes."""
    a = np.abs(d)
    seen = a > max(3 * sigma, 4.0)  # (what steps 3b-3c call ink: a rule missed there is ink to 3c's regions)
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
    ruling, not ink. A rule is a straight line whose one row, at the sheet's tilt, holds
    RULE_CORE of the image's width: a line from edge to edge, which a pen's stroke inside a
    number never is; the rows beside it holding RULE_EDGE of it are its thickness. Rules along
    the rows (and squared paper's along the columns) may tilt by up to 10 degrees (RULE_TILTS:
    a photo is never square to the sheet, and a phone is held askew). ``faint_rules`` passes only ink
    fainter than the pen's (RULE_FAINT): a pen stroke crossing a rule is not part of it (and,
    to measure the pen's contrast, all the ink)."""
    out = np.zeros_like(mask)
    for m, o in ((mask, out), (mask.T, out.T)):  # o: a view; the rules run along m's rows
        H, W = m.shape
        if np.count_nonzero(m) < RULE_CORE * W or _widest_band(m) < RULE_CORE * W:
            continue  # (counted, not indexed: the pixels' indices are only needed past the quick no)
        rr, cc = np.nonzero(m)
        # One sheet: every rule of a direction has the same tilt, the one of the most ink in core
        # rows: the likeliest on a sample of the columns, then each of those on all pixels
        k = max(1, W // RULE_SAMPLE)
        sample = cc % k == 0
        held = _held(_counts(rr[sample], cc[sample], RULE_TILTS, W), RULE_LENIENT * RULE_CORE * len(range(0, W, k)))
        likely = [j for j in np.argsort(-held, kind="stable")[:RULE_CANDIDATES] if held[j]]  # (the first of equals first)
        if not likely:
            continue
        tilts = (RULE_TILTS[likely][:, None] + (RULE_TILTS[1] - RULE_TILTS[0]) * np.linspace(-1, 1, 5)).ravel()
        counts = _counts(rr, cc, tilts, W)  # (T, L)
        held = _held(counts, RULE_CORE * W)
        j = int(np.argmax(held))  # (the first of equals)
        if not held[j]:
            continue
        idx = _rows(rr, cc, tilts[j], W)
        on = np.flatnonzero(counts[j] >= RULE_CORE * W)
        rows = set(on.tolist())
        for d in (-1, 1):
            rows |= {int(r + d) for r in on if counts[j, r + d] >= RULE_EDGE * W}
        on = np.isin(idx, list(rows))
        o[rr[on], cc[on]] = True
    return out


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

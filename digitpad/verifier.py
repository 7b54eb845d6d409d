"""Is this candidate exactly one character? The number reader's verifier (step 8 of ``numbers``).

A logistic model on a few numbers the reader has anyway: the model's two best scores, the
candidate's size and place relative to the line, how many pieces and cut sides it has, the
share of its components' ink it holds, and which digit the model read (with its width, since
a '1' is narrow and a '0' wide). Fitted by ``bench/numbers_fit.py`` on composed numbers of the
train writers (never the val or test ones) for the shipped model: a retrained model needs a refit,
since the features include its probabilities. A 21-class model's ``other`` probability is one
more feature: fragments and pairs of digits look like no character of a number.
After a refit, ``python -m digitpad.numberparams`` hands the new WEIGHTS to the browser's twin.
"""

from __future__ import annotations

import math

import numpy as np

from .segment import Line, Piece

DIGITS = "0123456789"
FEATURES = ("bias", "log_p1", "log_p2", "width", "height", "width2", "height2", "pieces", "cut_sides", "cut_ink",
            "gap", "drop", "rise", "share", "log_other") + tuple(f"is_{d}" for d in "0123456789") + tuple(
            f"width_{d}" for d in "0123456789")
WEIGHTS = {"bias": -20.06, "log_p1": 0.6084, "log_p2": -0.06789, "width": 6.962, "height": 31.01, "width2": -5.439,
           "height2": -14.54, "pieces": 0.2069, "cut_sides": -0.7973, "cut_ink": -0.1549, "gap": 11.78,
           "drop": 0.2747, "rise": -1.676, "share": -0.02908, "log_other": -0.3429, "is_0": 0.6247, "is_1": 1.126,
           "is_2": -1.055, "is_3": 0.5643, "is_4": 1.479, "is_5": 1.566, "is_6": 2.613, "is_7": -1.179,
           "is_8": 3.274, "is_9": 2.678, "width_0": 2.608, "width_1": 0.127, "width_2": 2.521, "width_3": 1.172,
           "width_4": -0.8853, "width_5": 0.01168, "width_6": -1.733, "width_7": 2.892, "width_8": -1.854,
           "width_9": -1.57}


def features(parts: list[Piece], box: tuple[int, int, int, int], scores: dict[str, float], line: Line,
             comp_area: dict[int, int], other: float = 0.0) -> np.ndarray:
    """(len(FEATURES),) float64 for one tall candidate. ``comp_area``: ink of each component;
    ``other``: the model's probability that the candidate is no character of a number (a
    fragment, two digits, a scribble; 0 for a model without that class)."""
    H = line.height
    y0, y1, x0, x1 = box
    top2 = sorted(scores.values(), reverse=True)[:2] + [0.0, 0.0]
    best = max(scores, key=scores.get) if scores else ""
    d0, d1 = min(p.d0 for p in parts), max(p.d1 for p in parts)
    left = min(parts, key=lambda p: p.d0)
    right = max(parts, key=lambda p: p.d1)
    cuts = [c for c in (left.cut_l, right.cut_r) if c >= 0]
    gap, reach = 0.0, -math.inf
    for p in sorted(parts, key=lambda p: p.d0):
        if reach > -math.inf:
            gap = max(gap, p.d0 - reach)
        reach = max(reach, p.d1)
    xc = (x0 + x1) / 2
    w, h = (d1 - d0) / H, (y1 - y0) / H
    share = sum(p.area for p in parts) / sum(comp_area[c] for c in {p.comp for p in parts})
    digit = [0.0] * 10
    if best in DIGITS:
        digit[DIGITS.index(best)] = 1.0
    # One list, one array (the values np.concatenate of the three parts would hold, for less).
    return np.array([1.0, math.log(max(top2[0], 1e-6)), math.log(max(top2[1], 1e-6)), w, h, w * w, h * h,
                     len(parts) - 1.0, float(len(cuts)), float(sum(cuts)), gap / H,
                     (y1 - line.base_at(xc)) / H, (line.top_at(xc) - y0) / H, share,
                     math.log(max(other, 1e-4)), *digit, *(d * w for d in digit)])


_weights: tuple[dict, np.ndarray] | None = None  # (the WEIGHTS it was made from, (len(FEATURES),) float64)


def verify(f: np.ndarray) -> float:
    """log P(one character) from ``features``."""
    global _weights
    if _weights is None or _weights[0] is not WEIGHTS:  # made once per WEIGHTS (numbers_fit.py swaps them)
        _weights = (WEIGHTS, np.array([WEIGHTS[k] for k in FEATURES]))
    z = float(f @ _weights[1])
    return -math.log1p(math.exp(-z)) if z > -30 else z

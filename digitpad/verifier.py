"""Is this candidate exactly one character? The number reader's verifier (step 8 of ``numbers``).

A logistic model on a few numbers the reader has anyway: the model's two best scores, the
candidate's size and place relative to the line, how many pieces and cut sides it has, the
share of its components' ink it holds, and which digit the model read (with its width, since
a '1' is narrow and a '0' wide). Fitted by ``bench/numbers_fit.py`` on composed numbers of the
dev writers (never the held-out ones) for the shipped model: a retrained model needs a refit,
since the features include its probabilities. (The retrained model's ``other`` class, trained
on the reader's own fragments, does much of this job from the image itself.)
"""

from __future__ import annotations

import math

import numpy as np

from .segment import Line, Piece

DIGITS = "0123456789"
FEATURES = ("bias", "log_p1", "log_p2", "width", "height", "width2", "height2", "pieces", "cut_sides", "cut_ink",
            "gap", "drop", "rise", "share") + tuple(f"is_{d}" for d in "0123456789") + tuple(
            f"width_{d}" for d in "0123456789")
WEIGHTS = {"bias": -16.91, "log_p1": 0.8359, "log_p2": -1.064, "width": 16.15, "height": 23.88, "width2": -10.8,
           "height2": -12.15, "pieces": -0.05689, "cut_sides": -1.214, "cut_ink": 0.01116, "gap": -8.222, "drop": 0.3255,
           "rise": -2.196, "share": 0.8827, "is_0": -4.656, "is_1": -3.575, "is_2": -4.877, "is_3": -3.701,
           "is_4": -1.075, "is_5": -4.978, "is_6": -2.455, "is_7": -3.59, "is_8": -0.2668, "is_9": -0.9917,
           "width_0": 2.371, "width_1": 1.031, "width_2": 2.535, "width_3": 0.8232, "width_4": -3.319, "width_5": 2.345,
           "width_6": -0.5906, "width_7": 0.4885, "width_8": -4.269, "width_9": -1.284}


def features(parts: list[Piece], box: tuple[int, int, int, int], scores: dict[str, float], line: Line,
             comp_area: dict[int, int]) -> np.ndarray:
    """(len(FEATURES),) float64 for one tall candidate. ``comp_area``: ink of each component."""
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
    digit = np.zeros(10)
    if best in DIGITS:
        digit[DIGITS.index(best)] = 1.0
    return np.concatenate([[1.0, math.log(max(top2[0], 1e-6)), math.log(max(top2[1], 1e-6)), w, h, w * w, h * h,
                            len(parts) - 1.0, float(len(cuts)), float(sum(cuts)), gap / H,
                            (y1 - line.base_at(xc)) / H, (line.top_at(xc) - y0) / H, share], digit, digit * w])


def verify(f: np.ndarray) -> float:
    """log P(one character) from ``features``."""
    z = float(f @ np.array([WEIGHTS[k] for k in FEATURES]))
    return -math.log1p(math.exp(-z)) if z > -30 else z

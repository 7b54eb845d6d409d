"""Pen strokes as numpy arrays: the small geometry that hand styles, doodles and made-up
symbols share. A drawing is a list of strokes, each an (n, 2) float64 array of canvas points
(x, y), y down, in the order the pen went.

    s = as_arrays(record)            # record["strokes"] -> Strokes
    lo, hi = box(s)                  # bounding box corners, (2,) each
    bar = line(p, q, rng)            # a hand-drawn straight stroke
    s = refit(new, like=s)           # back to the original's size and place
"""

from __future__ import annotations

import numpy as np

Strokes = list[np.ndarray]  # each (n, 2) float64, canvas px, y down
STEP = 7.0  # px between the points of a drawn stroke, like the real samples


def as_arrays(record: dict) -> Strokes:
    """A record's strokes as (n, 2) arrays (empty strokes dropped)."""
    return [np.asarray(s, dtype=np.float64).reshape(-1, 2) for s in record["strokes"] if len(s)]


def box(strokes: Strokes) -> tuple[np.ndarray, np.ndarray]:
    """(min corner, max corner) of all the points."""
    allp = np.concatenate(strokes)
    return allp.min(axis=0), allp.max(axis=0)


def _tremor(n: int, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """(n, 2) smoothed noise: a hand's wobble, not per-point sparkle."""
    noise = rng.normal(0, sigma, (n, 2))
    if n > 2:
        noise = (noise + np.roll(noise, 1, 0) + np.roll(noise, -1, 0)) / 3
    return noise


def line(p, q, rng: np.random.Generator, *, bow: float = 0.03, tremor: float = 0.7) -> np.ndarray:
    """A hand-drawn straight stroke from p to q: (n, 2) points every ~STEP px, bowed sideways
    by up to ``bow`` of its length, with ``tremor`` px of smoothed jitter (ends kept)."""
    p, q = np.asarray(p, float), np.asarray(q, float)
    length = float(np.linalg.norm(q - p))
    n = max(2, int(np.ceil(length / STEP)) + 1)
    t = np.linspace(0, 1, n)[:, None]
    pts = p + (q - p) * t
    normal = np.array([-(q - p)[1], (q - p)[0]]) / max(length, 1e-9)
    pts += normal * (rng.uniform(-bow, bow) * length * np.sin(np.pi * t))
    if tremor and n > 2:
        noise = _tremor(n, tremor, rng)
        noise[[0, -1]] = 0
        pts += noise
    return pts


def pen(points: np.ndarray, rng: np.random.Generator, tremor: float = 0.8) -> np.ndarray:
    """A polyline as a pen draws it: resampled every ~STEP px, with smoothed tremor."""
    seg = np.linalg.norm(np.diff(points, axis=0), axis=1)
    at = np.concatenate([[0.0], np.cumsum(seg)])
    n = max(2, int(np.ceil(at[-1] / STEP)) + 1)
    u = np.linspace(0, at[-1], n)
    p = np.stack([np.interp(u, at, points[:, 0]), np.interp(u, at, points[:, 1])], axis=1)
    return p + _tremor(n, tremor, rng)


def refit(strokes: Strokes, like: Strokes) -> Strokes:
    """Scale ``strokes`` (about their bbox centre) to the longest side and centre of ``like``."""
    lo, hi = box(strokes)
    lo0, hi0 = box(like)
    k = float((hi0 - lo0).max()) / max(float((hi - lo).max()), 1e-9)
    return [(s - (lo + hi) / 2) * k + (lo0 + hi0) / 2 for s in strokes]


def crossings(strokes: Strokes, y: float) -> list[float]:
    """x of every point where the strokes cross the horizontal line at ``y``."""
    xs = []
    for s in strokes:
        for (x0, y0), (x1, y1) in zip(s[:-1], s[1:], strict=True):
            if (y0 - y) * (y1 - y) <= 0 and y0 != y1:
                xs.append(x0 + (x1 - x0) * (y - y0) / (y1 - y0))
    return xs


def path_ratio(s: np.ndarray) -> float:
    """Ink length / chord: 1 for a straight stroke, larger for curved or folded ones."""
    chord = float(np.linalg.norm(s[-1] - s[0]))
    return float(np.linalg.norm(np.diff(s, axis=0), axis=1).sum()) / max(chord, 1e-9)

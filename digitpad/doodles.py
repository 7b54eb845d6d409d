"""Procedural doodles and scribbles: drawings that are no character at all, for the model's
``other`` class (issue 16: "a horse, a scribble" must not read as a digit).

How they are made. Each kind is a small function that draws in a unit box (about [-1, 1]^2,
y down) with its own random proportions, angles and counts; the result is rotated a little,
squashed on one axis (x or y by 0.6-1.0), scaled so its longest side is 150-230 px on the 280
canvas and centred at (140, 140) +- 15 px (the digits' size and place), then drawn like a pen:
every stroke resampled every ~7 px (as the real samples are) with ~0.8 px of smoothed tremor,
pen width 16 like the records. Kinds:

    hatching        4-8 parallel lines (separate strokes, or one back-and-forth stroke)
    crosshatch      two hatchings of 4-5 lines crossing at 40-90 degrees
    spiral          1.9-2.4 turns, in or out, 200-230 px, a little elliptic (0.85-1): more
                    turns or a smaller or flatter spiral fills in at 28x28 (a ring: a 0)
    zigzag          5-10 segments
    wave            a sine wave of 2.5-5 periods
    coil            a cursive loop chain "eeee" of 3-6 loops
    star            a five-pointed star in one stroke, or a six-pointed one in two
    triangle        a closed triangle, no side flatter than 0.35 of the longest
    square          a closed quadrilateral (square, rectangle, diamond) with sharp corners
    envelope        a rectangle with its two diagonals
    house           a square, a roof and a door
    scribble        a crossing-out: a dense back-and-forth scrawl over a region
    squiggle        one long smooth random curve through 6-10 points
    strokes         3-5 short random curves scattered
    stick-figure    head, body, arms, legs
    heart           one or two strokes
    arrow           a shaft with a head, never near vertical (an up-arrow is close to a flagged 1)
    smiley          a face circle with eyes and a mouth
    sun             a circle with 6-10 rays
    cloud           a closed outline of 5-7 deep bumps

Deliberately absent, because they ARE characters: plain circles and ovals (0, O), single
straight lines (1, /, -, |) and two lines crossing (+, x).

    records = doodles(300, seed=1)        # 300 records, kinds taken in turn; deterministic
    rec = doodle("spiral", seed=7)         # one record
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .strokes import Strokes, pen

CANVAS = 280


def _circle(c, r, a0: float, turns: float, n: int = 60, ry: float | None = None) -> np.ndarray:
    t = a0 + np.linspace(0, 2 * np.pi * turns, max(8, int(n * turns)))
    return np.stack([c[0] + r * np.cos(t), c[1] + (ry or r) * np.sin(t)], axis=1)


def _polyline(*pts) -> np.ndarray:
    return np.asarray(pts, dtype=np.float64)


def _catmull(points: np.ndarray, n: int = 12) -> np.ndarray:
    """A smooth curve through ``points`` (Catmull-Rom, ``n`` samples per segment)."""
    p = np.concatenate([points[:1], points, points[-1:]])
    t = np.linspace(0, 1, n, endpoint=False)[:, None]
    out = []
    for i in range(1, len(p) - 2):
        p0, p1, p2, p3 = p[i - 1], p[i], p[i + 1], p[i + 2]
        out.append(0.5 * (2 * p1 + (p2 - p0) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
                          + (3 * p1 - p0 - 3 * p2 + p3) * t**3))
    return np.concatenate(out + [points[-1:]])


def hatching(rng: np.random.Generator, angle: float | None = None, most: int = 8) -> Strokes:
    n = int(rng.integers(4, most + 1))
    a = rng.uniform(0, np.pi) if angle is None else angle
    d, u = np.array([np.cos(a), np.sin(a)]), np.array([-np.sin(a), np.cos(a)])
    offs = np.linspace(-0.8, 0.8, n) + rng.normal(0, 0.03, n)
    lines = [(o * u - d * rng.uniform(0.6, 1.0), o * u + d * rng.uniform(0.6, 1.0)) for o in offs]
    if rng.random() < 0.5:
        return [_polyline(p, q) for p, q in lines]
    pts = []  # one back-and-forth stroke
    for i, (p, q) in enumerate(lines):
        pts += [p, q] if i % 2 == 0 else [q, p]
    return [np.asarray(pts)]


def crosshatch(rng: np.random.Generator) -> Strokes:
    a = rng.uniform(0, np.pi)
    return hatching(rng, a, 5) + hatching(rng, a + np.radians(rng.uniform(40, 90)), 5)


def spiral(rng: np.random.Generator) -> Strokes:
    turns = rng.uniform(1.9, 2.4)  # more turns fill in at 28x28: a ring (a 0) or a blob (a ".")
    t = np.linspace(0, 2 * np.pi * turns, int(50 * turns))
    r = 0.25 + 0.75 * t / t[-1]
    a0 = rng.uniform(0, 2 * np.pi)
    s = np.stack([r * np.cos(t + a0), rng.uniform(0.85, 1.0) * r * np.sin(t + a0)], axis=1)
    return [s if rng.random() < 0.5 else s[::-1]]


def zigzag(rng: np.random.Generator) -> Strokes:
    n = int(rng.integers(5, 11))
    x = np.linspace(-1, 1, n + 1)
    y = np.where(np.arange(n + 1) % 2 == 0, -1, 1) * rng.uniform(0.3, 0.8) + rng.normal(0, 0.05, n + 1)
    return [np.stack([x, y], axis=1)]


def wave(rng: np.random.Generator) -> Strokes:
    periods = rng.uniform(2.5, 5)
    x = np.linspace(-1, 1, int(40 * periods))
    return [np.stack([x, rng.uniform(0.25, 0.6) * np.sin(np.pi * periods * (x + 1) + rng.uniform(0, 6))], axis=1)]


def coil(rng: np.random.Generator) -> Strokes:
    loops = int(rng.integers(3, 7))
    t = np.linspace(0, 2 * np.pi * loops, 40 * loops)
    k = rng.uniform(1.6, 2.5)  # > 1: the curve crosses itself, a loop per turn
    x = t / t[-1] * 2 - 1 - k * 0.25 / loops * np.sin(t)
    y = -0.4 * np.cos(t) * rng.uniform(0.6, 1.0)
    return [np.stack([x, y], axis=1)]


def star(rng: np.random.Generator) -> Strokes:
    a0 = rng.uniform(0, 2 * np.pi)
    if rng.random() < 0.7:
        t = a0 + np.arange(6) * 4 * np.pi / 5
        return [np.stack([np.cos(t), np.sin(t)], axis=1) * rng.uniform(0.85, 1.0, (6, 1))]
    t1, t2 = a0 + np.arange(4) * 2 * np.pi / 3, a0 + np.pi / 3 + np.arange(4) * 2 * np.pi / 3
    return [np.stack([np.cos(t), np.sin(t)], axis=1) for t in (t1, t2)]


def triangle(rng: np.random.Generator) -> Strokes:
    while True:
        p = rng.uniform(-1, 1, (3, 2))
        sides = np.linalg.norm(p - np.roll(p, 1, 0), axis=1)
        u, v = p[1] - p[0], p[2] - p[0]
        area = abs(u[0] * v[1] - u[1] * v[0]) / 2
        if sides.min() > 0.35 * sides.max() and area > 0.25 * sides.max() ** 2 / 2:
            return [np.concatenate([p, p[:1]])]


def square(rng: np.random.Generator) -> Strokes:
    w, h = 1.0, rng.uniform(0.5, 1.0)
    p = np.array([[-w, -h], [w, -h], [w, h], [-w, h]]) + rng.normal(0, 0.04, (4, 2))
    if rng.random() < 0.3:  # a diamond
        p = p @ np.array([[np.cos(np.pi / 4), -np.sin(np.pi / 4)], [np.sin(np.pi / 4), np.cos(np.pi / 4)]])
    start = int(rng.integers(4))
    p = np.roll(p, -start, 0)
    return [np.concatenate([p, p[:1]])]


def envelope(rng: np.random.Generator) -> Strokes:
    box = square(rng)[0]
    return [box, _polyline(box[0], box[2]), _polyline(box[1], box[3])]


def house(rng: np.random.Generator) -> Strokes:
    w, top, roof = rng.uniform(0.6, 0.9), rng.uniform(-0.1, 0.2), rng.uniform(-1.0, -0.6)
    body = _polyline((-w, top), (-w, 1), (w, 1), (w, top), (-w, top))
    dw = rng.uniform(0.15, 0.3)
    door = _polyline((-dw, 1), (-dw, 0.5), (dw, 0.5), (dw, 1))
    return [body, _polyline((-w - 0.1, top), (0, roof), (w + 0.1, top)), door]


def scribble(rng: np.random.Generator) -> Strokes:
    n = int(rng.integers(8, 17))
    t = np.arange(n)
    x = np.where(t % 2 == 0, -1, 1) * rng.uniform(0.6, 1.0, n)
    y = np.linspace(-0.8, 0.8, n) * rng.uniform(0.7, 1.0) + rng.normal(0, 0.12, n)
    if rng.random() < 0.5:  # back up again: crossings-out go over the same ground twice
        x, y = np.concatenate([x, x[::-1][1:] * 0.9]), np.concatenate([y, y[::-1][1:] + 0.1])
    return [_catmull(np.stack([x, y], axis=1), n=5)]


def squiggle(rng: np.random.Generator) -> Strokes:
    return [_catmull(rng.uniform(-1, 1, (int(rng.integers(6, 11)), 2)))]


def strokes(rng: np.random.Generator) -> Strokes:
    out = []
    for _ in range(int(rng.integers(3, 6))):
        c = rng.uniform(-0.7, 0.7, 2)
        out.append(_catmull(c + rng.uniform(-0.35, 0.35, (int(rng.integers(2, 5)), 2))))
    return out


def stick_figure(rng: np.random.Generator) -> Strokes:
    r = rng.uniform(0.18, 0.28)
    neck, hip = -1 + 2 * r, rng.uniform(0.25, 0.45)
    arm_y, span = neck + rng.uniform(0.15, 0.3), rng.uniform(0.4, 0.7)
    head = _circle((0, -1 + r), r, rng.uniform(0, 6), 1.05, n=30)
    return [head, _polyline((0, neck), (0, hip)),
            _polyline((-span, arm_y + rng.uniform(-0.3, 0.3)), (0, arm_y), (span, arm_y + rng.uniform(-0.3, 0.3))),
            _polyline((-rng.uniform(0.25, 0.5), 1), (0, hip), (rng.uniform(0.25, 0.5), 1))]


def heart(rng: np.random.Generator) -> Strokes:
    t = np.linspace(0, 2 * np.pi, 80)
    x = 16 * np.sin(t) ** 3 / 16
    y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t)) / 16
    s = np.stack([x, y], axis=1)
    if rng.random() < 0.4:  # two strokes, each half from the top dip to the point
        return [s[:41], s[40:][::-1]]
    return [s]


def arrow(rng: np.random.Generator) -> Strokes:
    a = np.radians(rng.choice([rng.uniform(-60, 60), rng.uniform(120, 240)]))  # never near vertical
    d = np.array([np.cos(a), np.sin(a)])
    tail, tip = -d, d
    head = rng.uniform(0.3, 0.5)
    spread = np.radians(rng.uniform(25, 45))
    rot = lambda v, t: np.array([v[0] * np.cos(t) - v[1] * np.sin(t), v[0] * np.sin(t) + v[1] * np.cos(t)])  # noqa: E731
    left, right = tip - head * rot(d, spread), tip - head * rot(d, -spread)
    if rng.random() < 0.5:
        return [_polyline(tail, tip), _polyline(left, tip, right)]
    return [_polyline(tail, tip, left), _polyline(tip, right)]


def smiley(rng: np.random.Generator) -> Strokes:
    face = _circle((0, 0), 1, rng.uniform(0, 6), 1.05)
    e = rng.uniform(0.25, 0.4)
    eyes = [_polyline((x, -0.35), (x + 0.02, -0.3)) for x in (-e, e)]
    t = np.linspace(np.radians(20), np.radians(160), 20)
    mouth = np.stack([0.55 * np.cos(t), 0.15 + rng.uniform(0.2, 0.4) * np.sin(t)], axis=1)
    return [face, *eyes, mouth]


def sun(rng: np.random.Generator) -> Strokes:
    r = rng.uniform(0.35, 0.5)
    out = [_circle((0, 0), r, rng.uniform(0, 6), 1.05)]
    n = int(rng.integers(6, 11))
    for a in np.linspace(0, 2 * np.pi, n, endpoint=False) + rng.uniform(0, 1):
        d = np.array([np.cos(a), np.sin(a)])
        out.append(_polyline(d * (r + 0.12), d * rng.uniform(0.8, 1.0)))
    return out


def cloud(rng: np.random.Generator) -> Strokes:
    bumps = int(rng.integers(5, 8))
    t = np.linspace(0, 2 * np.pi, 40 * bumps)
    r = 0.6 + 0.4 * np.abs(np.sin(t * bumps / 2))  # deep scallops: shallow ones read as a 0
    return [np.stack([r * np.cos(t), 0.65 * r * np.sin(t)], axis=1)]


KINDS: dict[str, Callable[[np.random.Generator], Strokes]] = {
    "hatching": hatching, "crosshatch": crosshatch, "spiral": spiral, "zigzag": zigzag,
    "wave": wave, "coil": coil, "star": star, "triangle": triangle, "square": square,
    "envelope": envelope, "house": house, "scribble": scribble, "squiggle": squiggle,
    "strokes": strokes, "stick-figure": stick_figure, "heart": heart, "arrow": arrow,
    "smiley": smiley, "sun": sun, "cloud": cloud,
}


def doodle(kind: str, seed: int, index: int = 0) -> dict:
    """One doodle of ``kind`` as a stroke record on the 280 canvas (deterministic)."""
    if kind not in KINDS:
        raise ValueError(f"unknown doodle kind {kind!r}; known: {', '.join(KINDS)}")
    rng = np.random.default_rng([seed, index, list(KINDS).index(kind)])
    shapes = [np.asarray(s, dtype=np.float64) for s in KINDS[kind](rng)]
    a = np.radians(rng.uniform(-15, 15))
    squash = rng.uniform(0.85 if kind == "spiral" else 0.6, 1.0)  # a flat spiral fills in
    m = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]) @ np.diag(
        [1.0, squash] if rng.random() < 0.5 else [squash, 1.0])
    shapes = [s @ m.T for s in shapes]
    allp = np.concatenate(shapes)
    lo, hi = allp.min(axis=0), allp.max(axis=0)
    k = rng.uniform(200 if kind == "spiral" else 150, 230) / max(float((hi - lo).max()), 1e-9)
    centre = CANVAS / 2 + rng.uniform(-15, 15, 2)
    pts = [pen((s - (lo + hi) / 2) * k + centre, rng) for s in shapes]
    return {"id": f"doodle:{seed}:{index}:{kind}", "label": "doodle", "writer": f"doodles:{seed}",
            "lab": "doodles", "source": "doodles", "quality": None, "style": kind,
            "canvas": CANVAS, "lineWidth": 16, "strokes": [np.round(s, 2).tolist() for s in pts]}


def doodles(n: int, seed: int = 0, kinds: list[str] | None = None) -> list[dict]:
    """``n`` doodles, the kinds (default: all) taken in turn; deterministic given ``seed``."""
    names = kinds or list(KINDS)
    return [doodle(names[i % len(names)], seed, i) for i in range(n)]

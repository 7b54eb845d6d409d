"""Number symbols made up: '$' and '%' composed from real strokes (UNIPEN has 13 and 12 of
them, too few to learn from), and the simple ones (- . , / : ( ) +) drawn like a pen, because
the training writers wrote only ~30 of each.

How they are made (on the 280 canvas, then refit to a digit's size: longest side 180-215 px):

- ``dollar(s, rng)``: a real S or s (its strokes as written) and one (70%) or two (30%)
  near-vertical lines through it, drawn after it, overshooting the S by 10-30% of its height
  above and below, 2-6 degrees off vertical; two lines sit +-8-14% of the S's width apart.
- ``percent(o1, o2, rng)``: two real small o's (o, O or 0 drawings), each scaled to 25-38% of
  the slash's height, at the upper left and the lower right of a slash rising to the right at
  55-70 degrees, 2-8% of the height clear of it (touching, they read as 8, 9 or b); drawn o,
  slash, o (60%) or slash, o, o.

- ``simple(label, rng)``: sizes drawn from what the UNIPEN writers' symbols measure on the
  canvas (relative to the writer's tall symbols = 200 px, 10th-90th percentile): '-' 70-230 px
  long and within 10 degrees of level; '.' a tap of 0-8 px or a tiny loop of 6-14 px; ',' a
  tail 40-140 px long, curving down to the left, sometimes from a dot; ':' two taps 60-140 px
  apart; '/' 120-230 px tall at 55-80 degrees; '(' ')' arcs 150-230 px tall bowed by 10-30% of
  their height; '+' two strokes of 80-170 px, within 8 degrees of level and upright, crossing
  within 15% of their middles (horizontal first in 60%).

Parts are chosen by ``usable_s`` / ``usable_o``: single-stroke S/s at least as tall as wide
(cursive s and mislabeled samples make no '$'), o/O/0 of one or two strokes.

The parts come from the same split's writers (train from train writers, test from test
writers), so a composed symbol never leaks a held-out writer into training.

    rec = dollar_record(s_record, seed=0, index=3)
    rec = percent_record(o_record, o_record2, seed=0, index=3)
"""

from __future__ import annotations

import numpy as np

from .strokes import Strokes, as_arrays, box, line


def _fit(strokes: Strokes, rng: np.random.Generator, canvas: int = 280) -> Strokes:
    """Longest side 180-215 px, centred near the canvas centre (like the real digits)."""
    lo, hi = box(strokes)
    k = rng.uniform(180, 215) / max(float((hi - lo).max()), 1e-9)
    centre = canvas / 2 + rng.uniform(-10, 10, 2)
    return [(s - (lo + hi) / 2) * k + centre for s in strokes]


def dollar(s: Strokes, rng: np.random.Generator) -> Strokes:
    lo, hi = box(s)
    w, h = hi - lo
    cx = (lo[0] + hi[0]) / 2 + rng.uniform(-0.05, 0.05) * w
    offsets = [0.0] if rng.random() < 0.7 else [-rng.uniform(0.08, 0.14) * w, rng.uniform(0.08, 0.14) * w]
    out = list(s)
    for dx in offsets:
        top, bottom = lo[1] - rng.uniform(0.1, 0.3) * h, hi[1] + rng.uniform(0.1, 0.3) * h
        lean = np.tan(np.radians(rng.uniform(2, 6))) * (bottom - top) / 2
        out.append(line((cx + dx + lean, top), (cx + dx - lean, bottom), rng))
    return out


def percent(o1: Strokes, o2: Strokes, rng: np.random.Generator) -> Strokes:
    height = 200.0
    angle = np.radians(rng.uniform(55, 70))
    cot = 1 / np.tan(angle)
    c = np.array([140.0, 140.0])
    half = np.array([cot * height / 2, -height / 2])  # up and to the right
    slash = line(c - half, c + half, rng)  # from the bottom left up to the top right

    def small(o: Strokes, dy: float, side: int) -> Strokes:
        """An o of 25-38% of the height, centred ``dy`` below the middle, clear of the slash
        on ``side`` (-1 left, +1 right)."""
        lo, hi = box(o)
        size = rng.uniform(0.25, 0.38) * height
        k = size / max(float((hi - lo).max()), 1e-9)
        # the slash's x at dy, then clear of it: radius + both pens' half widths, measured
        # across the slanted slash, plus a gap
        x = -cot * dy + side * ((size / 2 + 16) / np.sin(angle) + rng.uniform(0.02, 0.08) * height)
        return [(p - (lo + hi) / 2) * k + c + (x, dy) for p in o]

    upper = small(o1, -height * rng.uniform(0.2, 0.32), -1)
    lower = small(o2, height * rng.uniform(0.2, 0.32), +1)
    return upper + [slash] + lower if rng.random() < 0.6 else [slash] + upper + lower


def _arc(p0, p1, bow: float, rng: np.random.Generator) -> np.ndarray:
    """A pen stroke from p0 to p1 bowed sideways by ``bow`` (signed) of its length."""
    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    base = line(p0, p1, rng, bow=0.0, tremor=0.6)
    t = np.linspace(0, 1, len(base))[:, None]
    d = p1 - p0
    normal = np.array([-d[1], d[0]])
    return base + normal * bow * 4 * t * (1 - t)


def _tap(c, rng: np.random.Generator) -> np.ndarray:
    """A pen tap: a dot of 0-8 px (70%) or a tiny loop of 6-14 px (the pen fills it; a wider
    loop keeps a hole and reads as a 0)."""
    c = np.asarray(c, float)
    if rng.random() < 0.7:
        return c + rng.normal(0, 1, (int(rng.integers(1, 4)), 2)) * rng.uniform(0, 3)
    r = rng.uniform(3, 7)
    t = np.linspace(0, 2 * np.pi * rng.uniform(0.8, 1.2), 10) + rng.uniform(0, 6)
    return c + np.stack([np.cos(t), np.sin(t)], axis=1) * r


def simple(label: str, rng: np.random.Generator) -> Strokes:
    """One of - . , / : ( ) + drawn like a pen, about the canvas centre (see the docstring)."""
    c = np.array([140.0, 140.0])
    if label == "-":
        half = rng.uniform(35, 115) * np.array([1.0, np.tan(np.radians(rng.uniform(-10, 10)))])
        return [_arc(c - half, c + half, rng.uniform(-0.04, 0.04), rng)]
    if label == ".":
        return [_tap(c, rng)]
    if label == ",":
        length = rng.uniform(40, 140)
        tail = [_arc(c, c + (-length * rng.uniform(0.15, 0.5), length), rng.uniform(-0.2, 0.05), rng)]
        return ([_tap(c, rng)] + tail) if rng.random() < 0.2 else tail
    if label == ":":
        gap = rng.uniform(60, 140)
        return [_tap(c - (0, gap / 2), rng), _tap(c + (rng.uniform(-8, 8), gap / 2), rng)]
    if label == "/":
        h = rng.uniform(120, 230)
        half = np.array([h / 2 / np.tan(np.radians(rng.uniform(55, 80))), -h / 2])
        return [_arc(c - half, c + half, rng.uniform(-0.04, 0.04), rng)]
    if label in "()":
        h = rng.uniform(150, 230)
        top, bottom = c + (rng.uniform(-10, 10), -h / 2), c + (rng.uniform(-10, 10), h / 2)
        bow = rng.uniform(0.1, 0.3) * (1 if label == "(" else -1)  # ( bulges left, ) right
        return [_arc(top, bottom, bow, rng)]
    if label == "+":
        a, b = rng.uniform(80, 170) / 2, rng.uniform(80, 170) / 2
        th, tv = np.radians(rng.uniform(-8, 8)), np.radians(rng.uniform(-8, 8))
        ch = c + (rng.uniform(-0.15, 0.15) * a, 0)
        cv = c + (0, rng.uniform(-0.15, 0.15) * b)
        horizontal = line(ch - a * np.array([np.cos(th), np.sin(th)]), ch + a * np.array([np.cos(th), np.sin(th)]), rng)
        vertical = line(cv - b * np.array([np.sin(tv), np.cos(tv)]), cv + b * np.array([np.sin(tv), np.cos(tv)]), rng)
        return [horizontal, vertical] if rng.random() < 0.6 else [vertical, horizontal]
    raise ValueError(f"no simple drawing for {label!r}")


SIMPLE = "-.,/:()+"


def usable_s(record: dict) -> bool:
    """An S or s fit to make a '$': one stroke, at least as tall as wide."""
    s = as_arrays(record)
    if record["label"] not in ("S", "s") or len(s) != 1:
        return False
    lo, hi = box(s)
    return (hi - lo)[1] >= (hi - lo)[0]


def usable_o(record: dict) -> bool:
    """An o, O or 0 fit to be one of a '%''s circles: one or two strokes."""
    return str(record["label"]) in ("o", "O", "0") and 1 <= len(as_arrays(record)) <= 2


def _record(parent: dict, label: str, strokes: Strokes, rng: np.random.Generator, index: int) -> dict:
    return {"id": f"synth:{label}:{index}:{parent['id']}", "label": label, "writer": parent["writer"],
            "lab": parent.get("lab", "?"), "source": "synth-symbols", "quality": None, "style": "composed",
            "parent": parent["id"], "canvas": 280, "lineWidth": 16,
            "strokes": [np.round(s, 2).tolist() for s in _fit(strokes, rng)]}


def simple_record(label: str, seed: int = 0, index: int = 0, writer: str = "synth") -> dict:
    """One of SIMPLE drawn like a pen, at its own size (not refit), centred near (140, 140)."""
    rng = np.random.default_rng([seed, index, ord(label)])
    shift = rng.uniform(-10, 10, 2)
    strokes = [s + shift for s in simple(label, rng)]
    return {"id": f"synth:{label}:{seed}:{index}", "label": label, "writer": writer, "lab": "synth",
            "source": "synth-symbols", "quality": None, "style": "drawn", "canvas": 280, "lineWidth": 16,
            "strokes": [np.round(s, 2).tolist() for s in strokes]}


def dollar_record(s_record: dict, seed: int = 0, index: int = 0) -> dict:
    """A '$' from an S/s record (deterministic given seed and index)."""
    rng = np.random.default_rng([seed, index, 36])
    return _record(s_record, "$", dollar(as_arrays(s_record), rng), rng, index)


def percent_record(o_record: dict, o_record2: dict, seed: int = 0, index: int = 0) -> dict:
    """A '%' from two o/O/0 records (the writer is the first one's)."""
    rng = np.random.default_rng([seed, index, 37])
    return _record(o_record, "%", percent(as_arrays(o_record), as_arrays(o_record2), rng), rng, index)

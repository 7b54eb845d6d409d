"""Hand styles at the stroke level: what people's pens actually add to a digit, applied to
real trajectories so that styles reach the model even where the training writers lack them.

Measured on UNIPEN's gmd lab (the slashing lab) before writing these:
- a slashed zero's slash is a second, straight stroke through the middle, mostly from beyond
  the top right to beyond the bottom left of the oval (10 in 12), rising at ~50-75 degrees and
  overshooting it by 0-45% above and 0-60% below (of the oval's height); lab art's writers
  slash steeply, nearly vertically, and one of them (art:writer03) the other way, from the top
  left to the bottom right: ``digitnet-2.1``, trained on '/' slashes only, read every UNIPEN
  slashed zero mirrored (so slashed '\\') as ``other`` 81% of the time and as 0 only 12%;
- a zero may run clockwise as well as anticlockwise (its closing overlap then sits on the other
  side): ``digitnet-2.1`` read the dev writers' zeros mirrored left-right as 0 only 73% (UNIPEN)
  and 92% (pendigits) of the time, against 99% as written (mirrored 8s: 99-100%);
- a barred seven's bar is a separate, near-horizontal stroke at 45-65% of the height, drawn
  left to right across the stem, often as wide as the seven;
- a flagged one is one stroke that starts low on the left (55-70% of the height) and runs up
  to the top before coming down the stem;
- fours come as "open" (the left stroke goes straight down, its top away from the stem's) or
  "closed" (the left stroke starts at the stem's top: a triangle).

Each style is a function ``(record, rng) -> record | None`` (None: it does not apply, e.g. a
four that is already open, or a one that already has a flag). The added strokes are placed
relative to the digit's own bounding box, with random angle, length and position, a slight
bow and tremor, at the spacing of real samples (~7 px); the pen width is the record's. The
result is scaled back to the original's longest side and centre, so it fits the canvas the way
the real samples do. Stroke order is kept (added strokes go where a writer would put them).

    new = apply("slashed-zero", record, seed=0)        # record -> record (or None), deterministic
    new = variant(record, seed=0)                      # one style drawn for the record's digit
    detect_style(record)                                # "slashed-zero", "open-four", ... or "natural"

A new record has ``style`` set to the style's name, ``id`` = ``<parent id>~<style>`` and
``parent`` = the original id.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

import numpy as np

from .strokes import Strokes, as_arrays, box, crossings, line, path_ratio, refit

# Which styles each digit may get, with their weights (``variant`` draws one).
VARIANTS: dict[str, dict[str, float]] = {
    "0": {"slashed-zero": 0.7, "mirrored-zero": 0.2, "dotted-zero": 0.1},
    "1": {"one-flag": 0.5, "one-foot": 0.15, "one-flag-foot": 0.35},
    "4": {"open-four": 0.5, "closed-four": 0.5},
    "7": {"barred-seven": 0.8, "seven-serif": 0.2},
}


def slashed_zero(strokes: Strokes, rng: np.random.Generator) -> Strokes | None:
    """Ø: a straight slash through the middle of the oval, past its outline at both ends."""
    lo, hi = box(strokes)
    h = (hi - lo)[1]
    centre = (lo + hi) / 2 + rng.normal(0, 0.04, 2) * (hi - lo)
    # Rising to the right at 50-75 degrees (gmd's writers), or steeply at 75-88 (art's); one
    # slash in four falls to the right instead, as art:writer03 writes it.
    angle = np.radians(rng.uniform(50, 75) if rng.random() < 0.8 else rng.uniform(75, 88))
    run = (1 if rng.random() < 0.75 else -1) / np.tan(angle)  # x change per unit of y going up
    y_top, y_bottom = lo[1] - rng.uniform(0.0, 0.45) * h, hi[1] + rng.uniform(0.0, 0.6) * h
    top = (centre[0] + run * (centre[1] - y_top), y_top)
    bottom = (centre[0] - run * (y_bottom - centre[1]), y_bottom)
    ends = (top, bottom) if rng.random() < 0.8 else (bottom, top)
    return strokes + [line(*ends, rng)]


def mirrored_zero(strokes: Strokes, rng: np.random.Generator) -> Strokes | None:
    """A zero drawn the other way round (clockwise for most): the strokes mirrored left-right."""
    return [s * (-1.0, 1.0) for s in strokes]


def dotted_zero(strokes: Strokes, rng: np.random.Generator) -> Strokes | None:
    """A zero with a dot (a short tap) in the middle, as some programmers write it."""
    lo, hi = box(strokes)
    c = (lo + hi) / 2 + rng.normal(0, 0.04, 2) * (hi - lo)
    return strokes + [line(c, c + rng.normal(0, 3, 2), rng, tremor=0)]


def barred_seven(strokes: Strokes, rng: np.random.Generator) -> Strokes | None:
    """7 with a bar: a short near-horizontal stroke across the stem at mid height."""
    lo, hi = box(strokes)
    w, h = hi - lo
    y = lo[1] + rng.uniform(0.45, 0.62) * h
    xs = crossings(strokes, y)
    if not xs:
        return None
    stem = float(np.median(xs))
    half = rng.uniform(0.2, 0.4) * h
    centre = stem + rng.uniform(-0.05, 0.15) * h
    tilt = np.tan(np.radians(rng.uniform(-8, 3))) * half  # usually rising a little to the right
    return strokes + [line((centre - half, y - tilt), (centre + half, y + tilt), rng)]


def seven_serif(strokes: Strokes, rng: np.random.Generator) -> Strokes | None:
    """7 whose top bar starts with a short down-stroke at its left end (a serif)."""
    first = strokes[0]
    lo, hi = box(strokes)
    w, h = hi - lo
    if first[0][1] > lo[1] + 0.2 * h or first[0][0] > lo[0] + 0.25 * w or w < 0.45 * h:
        return None  # not a top bar starting at the left, or so narrow that a serif closes a 9
    length = rng.uniform(0.08, 0.18) * h
    start = first[0] + (rng.uniform(-0.3, 0.1) * length, length)
    return [np.concatenate([line(start, first[0], rng)[:-1], first])] + strokes[1:]


def _has_flag(strokes: Strokes) -> bool:
    """A flag already: wide, or the first stroke starts left of and below its top point."""
    lo, hi = box(strokes)
    w, h = hi - lo
    first = strokes[0]
    top = first[int(np.argmin(first[:, 1]))]
    return w > 0.3 * h or (top[0] - first[0][0] > 0.05 * h and first[0][1] - top[1] > 0.08 * h)


def one_flag(strokes: Strokes, rng: np.random.Generator) -> Strokes | None:
    """1 with a flag: an up-stroke from low on the left to the top, then down the stem."""
    if _has_flag(strokes):
        return None
    lo, hi = box(strokes)
    h = (hi - lo)[1]
    first = strokes[0]
    top = first[int(np.argmin(first[:, 1]))]
    length, angle = rng.uniform(0.25, 0.7) * h, np.radians(rng.uniform(30, 65))
    start = top + (-length * np.cos(angle), length * np.sin(angle))
    flag = line(start, top, rng, bow=0.05)
    if first[0][1] <= lo[1] + 0.15 * h:  # the stem starts at the top: one pen-down, flag first
        return [np.concatenate([flag[:-1], first[int(np.argmin(first[:, 1])):]])] + strokes[1:]
    return [flag] + strokes


def _foot(strokes: Strokes, rng: np.random.Generator) -> Strokes | None:
    """A base bar centred under the stem, drawn after it."""
    lo, hi = box(strokes)
    h = (hi - lo)[1]
    allp = np.concatenate(strokes)
    base = allp[allp[:, 1] > hi[1] - 0.25 * h]
    if np.ptp(base[:, 0]) > 0.15 * h:  # the stem curls at its foot: a bar would make it a 2
        return None
    bottom = allp[int(np.argmax(allp[:, 1]))]
    half = rng.uniform(0.15, 0.3) * h
    y = bottom[1] + rng.uniform(-0.02, 0.03) * h
    tilt = np.tan(np.radians(rng.uniform(-4, 4))) * half
    x = bottom[0] + rng.uniform(-0.05, 0.05) * h
    return strokes + [line((x - half, y - tilt), (x + half, y + tilt), rng)]


def one_foot(strokes: Strokes, rng: np.random.Generator) -> Strokes | None:
    """1 with a foot. Not on a one that is already wide (a long shallow flag over a slanted
    stem): with a bar under it, it reads as a 2."""
    lo, hi = box(strokes)
    return None if (hi - lo)[0] > 0.4 * (hi - lo)[1] else _foot(strokes, rng)


def one_flag_foot(strokes: Strokes, rng: np.random.Generator) -> Strokes | None:
    """1 with a (new, steep) flag and a foot."""
    flagged = one_flag(strokes, rng)
    return None if flagged is None else _foot(flagged, rng)


def _four_parts(strokes: Strokes) -> tuple[int, int, int] | None:
    """(index of the left stroke, index of its corner point, index of the stem) of a four
    written in two strokes, or None when the drawing is not clearly one. The stem is the
    straighter stroke and runs mostly down; the left stroke comes down to a corner (the maximum
    of y - x / 2 along it: lowest before the bar runs right) and then runs right, past the stem."""
    if len(strokes) != 2 or min(len(s) for s in strokes) < 3:
        return None
    stem = int(np.argmin([path_ratio(s) for s in strokes]))
    left = 1 - stem
    st, s = strokes[stem], strokes[left]
    lo, hi = box(strokes)
    h = (hi - lo)[1]
    if np.ptp(st[:, 1]) < max(1.5 * np.ptp(st[:, 0]), 0.5 * h):
        return None
    corner = int(np.argmax(s[:, 1] - 0.5 * s[:, 0]))
    down, right = s[: corner + 1], s[corner:]
    if np.ptp(down[:, 1]) < 0.2 * h or right[:, 0].max() - s[corner, 0] < 0.25 * h:
        return None
    if max(path_ratio(down), path_ratio(right)) > 1.5:  # curled, not a down-stroke and a bar
        return None
    xs = crossings([st], float(s[corner, 1]))
    if not xs or right[:, 0].max() < max(xs) + 0.12 * h:  # the bar crosses the stem (else: a 9)
        return None
    return left, corner, stem


def four_shape(strokes: Strokes) -> str | None:
    """'open', 'closed' or 'slanted' for a two-stroke four, else None."""
    parts = _four_parts(strokes)
    if parts is None:
        return None
    left, corner, stem = parts
    lo, hi = box(strokes)
    h = (hi - lo)[1]
    start, c = strokes[left][0], strokes[left][corner]
    stem_top = strokes[stem][int(np.argmin(strokes[stem][:, 1]))]
    if np.linalg.norm(start - stem_top) < 0.15 * h:
        return "closed"
    dx, dy = start - c
    return "open" if abs(dx) < 0.35 * abs(dy) else "slanted"


def _redraw_four(strokes: Strokes, rng: np.random.Generator, closed: bool) -> Strokes | None:
    parts = _four_parts(strokes)
    if parts is None or four_shape(strokes) == ("closed" if closed else "open"):
        return None
    left, corner, stem = parts
    lo, hi = box(strokes)
    h = (hi - lo)[1]
    c = strokes[left][corner]
    stem_top = strokes[stem][int(np.argmin(strokes[stem][:, 1]))]
    if closed:
        start = stem_top + rng.normal(0, 0.02, 2) * h
    else:
        start = (c[0] + rng.uniform(-0.12, 0.08) * h, stem_top[1] + rng.uniform(0.0, 0.15) * h)
    new = np.concatenate([line(start, c, rng), strokes[left][corner + 1:]])
    out = list(strokes)
    out[left] = new
    return out


def open_four(strokes: Strokes, rng: np.random.Generator) -> Strokes | None:
    """4 whose left stroke goes straight down, its top away from the stem's top."""
    return _redraw_four(strokes, rng, closed=False)


def closed_four(strokes: Strokes, rng: np.random.Generator) -> Strokes | None:
    """4 whose left stroke starts at the stem's top (a closed triangle)."""
    return _redraw_four(strokes, rng, closed=True)


def jitter(strokes: Strokes, rng: np.random.Generator) -> Strokes | None:
    """A slightly different hand: slant (shear up to +-14 deg), rotation (+-6 deg), width
    (+-15%) and smoothed per-point noise (~1 px); stroke order and point order kept."""
    lo, hi = box(strokes)
    c = (lo + hi) / 2
    shear = np.tan(np.radians(rng.uniform(-14, 14)))
    a = np.radians(rng.uniform(-6, 6))
    m = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]) @ np.array([[rng.uniform(0.85, 1.15), shear],
                                                                                [0.0, 1.0]])
    out = []
    for s in strokes:
        p = (s - c) @ m.T + c
        noise = rng.normal(0, 1.0, p.shape)
        if len(p) > 2:
            noise = (noise + np.roll(noise, 1, 0) + np.roll(noise, -1, 0)) / 3
        out.append(p + noise)
    return out


STYLES: dict[str, Callable[[Strokes, np.random.Generator], Strokes | None]] = {
    "slashed-zero": slashed_zero, "mirrored-zero": mirrored_zero, "dotted-zero": dotted_zero,
    "barred-seven": barred_seven, "seven-serif": seven_serif,
    "one-flag": one_flag, "one-foot": one_foot, "one-flag-foot": one_flag_foot,
    "open-four": open_four, "closed-four": closed_four,
    "jitter": jitter,
}


def _generator(record: dict, style: str, seed: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(record["id"].encode()), zlib.crc32(style.encode())])


def apply(style: str, record: dict, seed: int = 0) -> dict | None:
    """``record`` redrawn in hand style ``style`` (a key of STYLES), or None where the style
    does not apply. Deterministic: the same (style, record id, seed) gives the same strokes."""
    if style not in STYLES:
        raise ValueError(f"unknown hand style {style!r}; known: {', '.join(STYLES)}")
    strokes = as_arrays(record)
    new = STYLES[style](strokes, _generator(record, style, seed)) if strokes else None
    if new is None:
        return None
    new = refit(new, strokes)
    return {**record, "id": f"{record['id']}~{style}", "parent": record["id"], "style": style,
            "strokes": [np.round(s, 2).tolist() for s in new]}


def variant(record: dict, seed: int = 0, weights: dict[str, dict[str, float]] | None = None) -> dict | None:
    """One hand style drawn (by ``weights``, default VARIANTS) for the record's digit and
    applied; if it does not apply, the others are tried in turn. None for other digits, or
    when none applies."""
    table = (weights or VARIANTS).get(str(record["label"]))
    if not table:
        return None
    names = list(table)
    p = np.array([table[n] for n in names], dtype=np.float64)
    rng = _generator(record, "variant", seed)
    order = rng.choice(len(names), size=len(names), replace=False, p=p / p.sum())
    for i in order:
        new = apply(names[i], record, seed)
        if new is not None:
            return new
    return None


def detect_style(record: dict) -> str:
    """The hand style a real drawing shows, where simple geometry can tell: 'slashed-zero'
    (a 0 with a long straight stroke through the middle of the others), 'barred-seven' (a 7 with a short near-horizontal
    stroke below its top third, across another stroke), 'one-flag' (a 1 whose first stroke starts left of and below
    its top), 'open-four' / 'closed-four'; else 'natural'."""
    strokes, label = as_arrays(record), str(record["label"])
    if not strokes:
        return "natural"
    lo, hi = box(strokes)
    w, h = hi - lo
    if label == "0" and len(strokes) >= 2:
        for i, s in enumerate(strokes):  # a straight stroke through the middle of the others
            olo, ohi = box(strokes[:i] + strokes[i + 1:])
            size = np.maximum(ohi - olo, 1.0)
            mid = (s[0] + s[-1]) / 2
            if (len(s) >= 2 and path_ratio(s) < 1.4 and np.linalg.norm(s[-1] - s[0]) > 0.7 * size[1]
                    and (np.abs(mid - (olo + ohi) / 2) < 0.35 * size).all()):
                return "slashed-zero"
    if label == "7" and len(strokes) >= 2:
        for i, s in enumerate(strokes):
            dx, dy = np.ptp(s[:, 0]), np.ptp(s[:, 1])
            y = float(s[:, 1].mean())
            if (len(s) >= 2 and path_ratio(s) < 1.4 and dy < 0.5 * dx and dx > 0.12 * h
                    and y > lo[1] + 0.25 * h and y < lo[1] + 0.85 * h
                    and any(s[:, 0].min() < x < s[:, 0].max() for x in crossings(strokes[:i] + strokes[i + 1:], y))):
                return "barred-seven"
    if label == "1":
        first = strokes[0]
        top = first[int(np.argmin(first[:, 1]))]
        if top[0] - first[0][0] > 0.08 * h and first[0][1] - top[1] > 0.1 * h:
            return "one-flag"
    if label == "4":
        shape = four_shape(strokes)
        if shape in ("open", "closed"):
            return f"{shape}-four"
    return "natural"

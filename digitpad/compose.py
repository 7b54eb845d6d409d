"""Whole numbers composed from ONE writer's own isolated characters, drawn like a canvas or a photo.

There is no large set of real handwritten numbers with character boxes, so numbers are built from a
writer's isolated digits (UNIPEN ``trajectories-dev``, pendigits: 280-canvas strokes, longest side ~200)
and symbols (UNIPEN ``symbols-dev``, each sized relative to the writer's digit height, ``SYMBOLS``),
placed left to right on a drifting, slanted baseline with size jitter, in one of three ``LAYOUTS``:

- ``spaced``: a clear gap between the characters' boxes (0.15-0.45 digit heights);
- ``tight``: the closest ink of neighbours 0.04-0.12 digit heights apart (slanted characters nest
  into each other's boxes, their ink does not touch);
- ``touching``: neighbouring digits' strokes overlap by 0.1-0.7 pen widths (symbols keep the tight spacing).

A gap in the string (``"(408) 975-3621"``) is 0.7-1.1 digit heights of extra space. A letter in the
string (``Hand.letters``: the writer's own, never a digit-like one) is drawn like a digit: strings with
characters that are not a number's. The ground truth is the string and each character's ink box. A
number may be ``marked``: a box or a ring drawn around it or a line under it (``MARKINGS``).
``paper.SCHEMES`` say how it is drawn (the page's transparent canvas, ink colours and pen widths, phone
photos of plain, ruled and squared paper). Writers come from the project's one split
(``handwriting.writer_splits``); ``styles`` adds the hand styles of ``handstyles`` (slashed zeros, barred
sevens, flagged ones, open/closed fours) to each hand. Everything is deterministic: the same hand,
string, layout, scheme and seed give the same bytes; ``samples`` draws many.

    hands = load_hands(unipen_dir, pendigits_path, split="test")   # writers held out
    text = random_text(random.Random(0), hands[0], "price")
    sample = compose(hands[0], text, "tight", "pad", seed=0)
    sample.image, sample.text, sample.boxes                         # PNG bytes, "$12.50", [(x0, y0, x1, y1), ...]
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import charset, handstyles, handwriting, paper
from .paper import SCHEMES, encode  # noqa: F401 (SCHEMES re-exported: benches and training draw from compose.SCHEMES)
from .pendigits import stroke_coverage

DIGITS = charset.DIGITS
SEPARATORS = charset.NUMBER_SYMBOLS  # the characters people write inside numbers
MARKINGS = ("box", "ring", "underline")  # ink drawn around or under a number, no character of it (``marking``)

# Symbol geometry relative to the digit height H; y up from the baseline, in H units.
# size: which extent is scaled ("h" height, "w" width, "m" the longer side) and its range;
# y: where it sits ("bottom" of the ink, "centre" or "top") and that position's range.
SYMBOLS: dict[str, tuple[str, tuple[float, float], str, tuple[float, float]]] = {
    ".": ("m", (0.05, 0.14), "bottom", (-0.02, 0.04)),  # a dot on the baseline
    ",": ("h", (0.18, 0.35), "top", (0.06, 0.14)),  # starts just above the baseline, hangs below
    "-": ("w", (0.3, 0.6), "centre", (0.38, 0.55)),  # at mid height
    ":": ("h", (0.35, 0.6), "bottom", (-0.02, 0.04)),  # two dots, the lower on the baseline
    "/": ("h", (1.0, 1.25), "bottom", (-0.12, 0.0)),
    "(": ("h", (1.1, 1.35), "centre", (0.45, 0.55)),
    ")": ("h", (1.1, 1.35), "centre", (0.45, 0.55)),
    "+": ("m", (0.45, 0.75), "centre", (0.4, 0.55)),
    "$": ("h", (1.05, 1.35), "centre", (0.45, 0.55)),
    "%": ("h", (0.8, 1.05), "bottom", (-0.02, 0.02)),
}


@dataclass(frozen=True)
class Layout:
    gap: tuple[float, float]  # between neighbours: box gap (spaced) or closest-ink gap, in H
    by_ink: bool  # the gap is measured between the closest ink (tight, touching), not the boxes
    touch: tuple[float, float] | None = None  # digits: ink overlap in pen widths instead of a gap


LAYOUTS = {
    "spaced": Layout((0.15, 0.45), by_ink=False),
    "tight": Layout((0.04, 0.12), by_ink=True),
    "touching": Layout((0.04, 0.12), by_ink=True, touch=(0.1, 0.7)),
}


@dataclass
class Hand:
    """One writer's isolated characters: char -> list of drawings, each a list of (n, 2) strokes."""

    writer: str
    chars: dict[str, list[list[np.ndarray]]] = field(default_factory=dict)
    letters: dict[str, list[list[np.ndarray]]] = field(default_factory=dict)  # not a number's characters

    @property
    def alphabet(self) -> set[str]:
        return set(self.chars)


@dataclass
class Sample:
    """A composed number: image file bytes, string, each character's ink box (x0, y0, x1, y1, image px)."""

    image: bytes
    text: str
    boxes: list[tuple[int, int, int, int]]
    writer: str
    layout: str
    scheme: str
    strokes: list[list[np.ndarray]] = field(default_factory=list, repr=False)  # per character, pixels
    pen: float = 0.0  # line width, pixels
    size: tuple[int, int] = (0, 0)  # (width, height) of the image

    def ownership(self) -> np.ndarray:
        """(height, width) int16: which character (index into the non-space characters) each
        pixel's ink belongs to (the one covering it most), -1 where no ink covers it."""
        w, h = self.size
        cov = np.stack([stroke_coverage(c, w, h, self.pen) for c in self.strokes])  # (n, h, w)
        own = cov.argmax(axis=0).astype(np.int16)
        own[cov.max(axis=0) <= 0] = -1
        return own


# ------------------------------------------------------------------------------ data


def load_records(unipen_dir: str | Path | None, pendigits_path: str | Path | None, split: str = "test",
                 seed: int = 0) -> dict[str, list[dict]]:
    """The records of one split of the project's writers (``handwriting.writer_splits``: "train", "val" or
    "test"), by kind: ``digits`` (pendigits and UNIPEN isolated digits), ``symbols`` (UNIPEN, vetted),
    ``letters`` (UNIPEN upper and lower case) and ``numbers`` (real UNIPEN numbers), on the 280 canvas."""
    if split not in handwriting.SPLITS:
        raise ValueError(f"split is one of {handwriting.SPLITS}, not {split!r}")
    splits = handwriting.writer_splits(pendigits_path=pendigits_path, unipen_dir=unipen_dir, seed=seed)
    kinds = {"digits": ("pendigits", "unipen-digits"), "symbols": ("unipen-symbols",),
             "letters": ("unipen-upper", "unipen-lower"), "numbers": ("unipen-numbers",)}
    out: dict[str, list[dict]] = {k: [] for k in kinds}
    for kind, sources in kinds.items():
        for source in sources:
            if (pendigits_path if source == "pendigits" else unipen_dir) is not None:  # (that file was given)
                recs = handwriting.load_source(source, pendigits_path=pendigits_path, unipen_dir=unipen_dir)
                out[kind] += [r for r in recs if splits.get(r["writer"]) == split]
    return out


def _strokes(record: dict) -> list[np.ndarray]:
    return [np.asarray(s, np.float64).reshape(-1, 2) for s in record["strokes"] if len(s)]


def hands_of(records: dict[str, list[dict]], styles: bool = False, seed: int = 0) -> list[Hand]:
    """Writers with at least one of every digit, each with their digits, the symbols of ``SEPARATORS``
    they wrote and their letters (``Hand.letters``, for strings with characters that are not a number's),
    in writer order. ``styles``: each 0, 1, 4 and 7 is also drawn once in a hand style
    (``handstyles.variant``: slashed zeros, barred sevens, flagged ones, open and closed fours)."""
    hands: dict[str, Hand] = {}
    digits = list(records["digits"])
    if styles:
        digits += [v for r in records["digits"] if (v := handstyles.variant(r, seed=seed)) is not None]
    for r in digits + records["symbols"]:
        ch = str(r["label"])
        if ch in DIGITS or ch in SEPARATORS:
            hands.setdefault(r["writer"], Hand(r["writer"])).chars.setdefault(ch, []).append(_strokes(r))
    for r in records.get("letters", []):
        ch = str(r["label"])
        if r["writer"] in hands and charset.training_class(ch) == charset.OTHER:
            hands[r["writer"]].letters.setdefault(ch, []).append(_strokes(r))
    return [h for _, h in sorted(hands.items()) if set(DIGITS) <= h.alphabet]


def load_hands(unipen_dir: str | Path | None, pendigits_path: str | Path | None, split: str = "test",
               seed: int = 0, styles: bool = False) -> list[Hand]:
    return hands_of(load_records(unipen_dir, pendigits_path, split, seed), styles, seed)


# ------------------------------------------------------------------------------ strings


def _digits(r: random.Random, n: int) -> str:
    return "".join([r.choice("123456789")] + [r.choice(DIGITS) for _ in range(n - 1)]) if n > 1 else r.choice(DIGITS)


def _d(r: random.Random, lo: int, hi: int) -> str:
    return str(r.randint(lo, hi))


def _frac(r: random.Random, n: int) -> str:
    return "".join(r.choice(DIGITS) for _ in range(n))


TEMPLATES = {  # name -> a random string of that kind
    "integer": lambda r: _digits(r, r.choice([1, 2, 2, 3, 3, 4, 4, 5, 6, 7, 8])),
    "long": lambda r: _digits(r, r.randint(9, 14)),
    "year": lambda r: _d(r, 1900, 2039),
    "price": lambda r: r.choice(["$", "$", ""]) + r.choice([_d(r, 0, 99), _d(r, 100, 999),
                                                            f"{_d(r, 1, 9)},{_frac(r, 3)}"]) + "." + _frac(r, 2),
    "phone": lambda r: r.choice([f"({_d(r, 200, 999)}) ", f"{_d(r, 200, 999)}-", ""])
    + f"{_d(r, 200, 999)}-{_frac(r, 4)}",
    "date": lambda r: r.choice([f"{_d(r, 1, 12)}/{_d(r, 1, 31)}/{_d(r, 1950, 2035)}", f"{_d(r, 1, 12)}/{_d(r, 1, 31)}",
                                f"{r.randint(1, 31):02d}.{r.randint(1, 12):02d}.{_d(r, 1950, 2035)}",
                                f"{_d(r, 1950, 2035)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}"]),
    "time": lambda r: f"{_d(r, 0, 23)}:{_frac(r, 2)}",
    "percent": lambda r: r.choice([_d(r, 0, 100), f"{_d(r, 0, 99)}.{_d(r, 0, 9)}"]) + "%",
    "decimal": lambda r: r.choice(["", "", "-", "+"]) + _d(r, 0, 999) + r.choice(".,") + _frac(r, r.randint(1, 3)),
}
DIGIT_TEMPLATES = ("integer", "long", "year")


def random_text(r: random.Random, hand: Hand, template: str) -> str | None:
    """A string of ``template`` that ``hand`` can write: only characters the writer has (a
    template needing a symbol the writer never wrote gives None)."""
    for _ in range(20):
        text = TEMPLATES[template](r)
        if set(text) - {" "} <= hand.alphabet:
            return text
    return None


# ------------------------------------------------------------------------------ placing


def samples(hands: list[Hand], n: int, templates: list[str], seed: int, schemes: list[str]) -> Iterator[Sample]:
    """``n`` composed numbers per layout, in LAYOUTS order, each of a random hand and of a template
    it can write, the ``schemes`` in turn: the ones the benches read (``bench/numbers_accuracy.py``)."""
    r = random.Random(seed)
    for k, (layout, i) in enumerate((layout, i) for layout in LAYOUTS for i in range(n)):
        text = None
        while text is None:
            hand = r.choice(hands)
            text = random_text(r, hand, r.choice(templates))
        yield compose(hand, text, layout, schemes[k % len(schemes)], seed=seed + i)


def _place(r: random.Random, hand: Hand, ch: str, H: float) -> list[np.ndarray]:
    """One drawing of ``ch`` scaled to the digit height H (pixels), x from 0, y with the
    baseline at 0 (y down, as on a canvas: ink above the baseline has y < 0)."""
    strokes = r.choice(hand.chars.get(ch) or hand.letters[ch])
    pts = np.concatenate(strokes)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    ext = np.maximum(hi - lo, 1e-6)
    size = H * r.uniform(0.9, 1.1)
    if ch in SYMBOLS:
        which, (a, b), anchor, (c, d) = SYMBOLS[ch]
        target = r.uniform(a, b) * H
        measure = {"h": ext[1], "w": ext[0], "m": ext.max()}[which]
        k = target / measure if measure > 0.02 * ext.max() + 1e-3 else target / ext.max()
        k = min(k, 1.4 * H / ext.max())  # a degenerate sample (a flat '(') must not explode
        pos = r.uniform(c, d) * H  # height above the baseline of the anchor
        y_anchor = {"bottom": hi[1], "top": lo[1], "centre": (lo[1] + hi[1]) / 2}[anchor]
        return [np.stack([(s[:, 0] - lo[0]) * k, (s[:, 1] - y_anchor) * k - pos], axis=1) for s in strokes]
    k = size / 200.0  # isolated digits: the longest side is ~200 of their 280 canvas
    drop = r.uniform(-0.03, 0.03) * H
    return [np.stack([(s[:, 0] - lo[0]) * k, (s[:, 1] - hi[1]) * k + drop], axis=1) for s in strokes]


def _profile(strokes: list[np.ndarray], pen: float, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Leftmost and rightmost ink x per row (rows: integer y values), with the round pen of
    width ``pen``; +inf / -inf where a row has no ink. Strokes are sampled every 0.5 px."""
    left = np.full(len(rows), np.inf)
    right = np.full(len(rows), -np.inf)
    rad = pen / 2
    offs = np.arange(-math.ceil(rad), math.ceil(rad) + 1)
    for s in strokes:
        seg = np.diff(s, axis=0)
        n = np.maximum(1, np.ceil(np.hypot(seg[:, 0], seg[:, 1]) * 2).astype(int)) if len(s) > 1 else []
        dense = [s[:1]] + [s[i] + seg[i] * (np.arange(1, m + 1)[:, None] / m) for i, m in enumerate(n)]
        p = np.concatenate(dense)  # (n, 2)
        for o in offs:
            half = math.sqrt(max(rad * rad - o * o, 0.0))
            idx = np.round(p[:, 1]).astype(int) + o - rows[0]
            ok = (idx >= 0) & (idx < len(rows))
            np.minimum.at(left, idx[ok], p[ok, 0] - half)
            np.maximum.at(right, idx[ok], p[ok, 0] + half)
    return left, right


def _shear(strokes: list[np.ndarray], slant: float, base: float) -> list[np.ndarray]:
    """Lean by ``slant`` radians about the baseline (tops move right for slant > 0), then
    lower the whole character by ``base`` px."""
    t = math.tan(slant)
    return [np.stack([s[:, 0] - t * s[:, 1], s[:, 1] + base], axis=1) for s in strokes]


def arrange(hand: Hand, text: str, layout: str, H: float, pen: float, seed: int) -> list[list[np.ndarray]]:
    """Each non-space character of ``text`` as strokes in pixels (x from ~0, baseline near
    y = 0), placed left to right in ``layout``."""
    lay = LAYOUTS[layout]
    r = random.Random(f"{hand.writer}|{text}|{layout}|{seed}")
    slant = math.radians(max(-20.0, min(20.0, r.gauss(0, 7))))
    drift = math.tan(math.radians(r.uniform(-4, 4)))
    rows = np.arange(int(-2.5 * H), int(1.5 * H))
    placed: list[list[np.ndarray]] = []
    prev_ch, prev_width = "", 0.0
    ink_right = np.full(len(rows), -np.inf)  # rightmost ink so far, per row
    box_right = 0.0
    space = 0.0
    for ch in text:
        if ch == " ":
            space += r.uniform(0.7, 1.1) * H
            continue
        # (the baseline drifts with x: box_right is where this character will roughly start)
        base = drift * box_right + r.gauss(0, 0.03 * H)
        s = _shear(_place(r, hand, ch, H), slant + math.radians(r.uniform(-3, 3)), base)
        left, right = _profile(s, pen, rows)
        x0 = min(float(p[:, 0].min()) for p in s) - pen / 2
        width = max(float(p[:, 0].max()) for p in s) + pen / 2 - x0
        both = np.isfinite(ink_right) & np.isfinite(left)  # rows where both have ink
        if not placed:
            dx = -x0
        elif lay.touch and ch in DIGITS and prev_ch in DIGITS and both.any():
            overlap = r.uniform(*lay.touch) * pen  # strokes overlap: the ink touches
            dx = float(np.max((ink_right - left)[both])) - overlap
            # ... but a character does not nest more than 20% of the narrower one's width
            # into its neighbour's box (then they may not touch)
            dx = max(dx, box_right - x0 - 0.2 * min(width, prev_width))
        elif lay.by_ink and both.any():
            dx = float(np.max((ink_right - left)[both])) + r.uniform(*lay.gap) * H
        else:
            dx = box_right - x0 + r.uniform(*lay.gap) * H
        dx += space
        space = 0.0
        s = [np.stack([p[:, 0] + dx, p[:, 1]], axis=1) for p in s]
        placed.append(s)
        ink_right = np.maximum(ink_right, right + dx)
        box_right = max(box_right, max(float(p[:, 0].max()) for p in s) + pen / 2)
        prev_ch, prev_width = ch, width
    return placed


# ------------------------------------------------------------------------------ drawing


def marking(chars: list[list[np.ndarray]], how: str, H: float, pen: float) -> list[np.ndarray]:
    """Strokes drawn around or under the characters, apart from their ink, no character
    themselves (``MARKINGS``): a box 0.3 digit heights out from their ink (a form's field), a
    ring (a circled answer), or a line 0.2 below them, drifting a little, a bit longer than the
    number (a total)."""
    pts = np.concatenate([p for c in chars for p in c])
    (x0, y0), (x1, y1) = pts.min(axis=0), pts.max(axis=0)
    if how == "box":
        m = 0.3 * H + pen
        return [np.array([(x0 - m, y0 - m), (x1 + m, y0 - m), (x1 + m, y1 + m), (x0 - m, y1 + m), (x0 - m, y0 - m)])]
    if how == "ring":  # an ellipse through the corners of a box 0.15 digit heights out
        m = 0.15 * H + pen
        t = np.linspace(0, 2 * np.pi, 200)
        a, b = ((x1 - x0) / 2 + m) * math.sqrt(2), ((y1 - y0) / 2 + m) * math.sqrt(2)
        return [np.stack([(x0 + x1) / 2 + a * np.cos(t), (y0 + y1) / 2 + b * np.sin(t)], axis=1)]
    if how == "underline":
        y = y1 + 0.2 * H + pen
        return [np.array([(x0 - 0.2 * H, y), (x1 + 0.2 * H, y + 0.05 * H)])]
    raise ValueError(f"unknown marking {how!r} (one of {', '.join(MARKINGS)})")


def compose(hand: Hand, text: str, layout: str, scheme: str, seed: int = 0, marked: str | None = None) -> Sample:
    """``text`` in ``hand``'s writing, ``layout``, drawn in ``scheme`` (``marked``: with one of
    the ``MARKINGS`` in the same pen): a Sample."""
    sc = paper.scheme(scheme)
    r = random.Random(f"{hand.writer}|{text}|{layout}|{scheme}|{seed}")
    H = r.uniform(*sc.height)
    pen = r.uniform(*sc.pen)
    chars = arrange(hand, text, layout, H, pen, seed)
    extra = marking(chars, marked, H, pen) if marked else []
    pts = np.concatenate([p for c in chars for p in c] + extra)
    lo, hi = pts.min(axis=0) - pen / 2, pts.max(axis=0) + pen / 2
    mx, my = (r.uniform(*sc.margin) * H for _ in range(2))
    w, h = hi[0] - lo[0], hi[1] - lo[1]
    if sc.frame:  # a photo: the number is a part of the frame, somewhere in it
        W = w * (1 + r.uniform(0.3, 1.0) * sc.frame) + 2 * mx
        Hh = max(h + 2 * my, W * r.uniform(0.35, 0.75))
        ox, oy = r.uniform(mx, W - w - mx), r.uniform(my, Hh - h - my)
    else:
        W, Hh, ox, oy = w + 2 * mx, h + 2 * my, mx, my
    W, Hh = int(math.ceil(W)), int(math.ceil(Hh))
    shift = np.array([ox - lo[0], oy - lo[1]])
    chars = [[p + shift for p in c] for c in chars]
    extra = [p + shift for p in extra]
    boxes = []
    for c in chars:
        q = np.concatenate(c)
        (x0, y0), (x1, y1) = q.min(axis=0) - pen / 2, q.max(axis=0) + pen / 2
        boxes.append((int(math.floor(x0)), int(math.floor(y0)), int(math.ceil(x1)), int(math.ceil(y1))))
    cov = stroke_coverage([p for c in chars for p in c] + extra, W, Hh, pen)  # (Hh, W) in [0, 1]
    image = encode(cov, sc, seed, hand.writer + text, baseline=oy - lo[1], digit=H)
    return Sample(image, text, boxes, hand.writer, layout, scheme,
                  chars, pen, (W, Hh))


def render_record(record: dict, scheme: str = "pad", seed: int = 0) -> bytes:
    """A real written number (UNIPEN ``numbers-dev``: tablet units, y down) drawn like a canvas
    in ``scheme``: its ink's height becomes the scheme's digit height, with its margins."""
    sc = paper.scheme(scheme)
    r = random.Random(f"{record['id']}|{scheme}|{seed}")
    strokes = [np.asarray(s, np.float64).reshape(-1, 2) for s in record["strokes"] if len(s)]
    pts = np.concatenate(strokes)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    H, pen = r.uniform(*sc.height), r.uniform(*sc.pen)
    k = H / max(float(hi[1] - lo[1]), 1e-6)
    m = r.uniform(*sc.margin) * H + pen / 2
    w, h = (hi - lo) * k
    W, Hh = int(math.ceil(w + 2 * m)), int(math.ceil(h + 2 * m))
    if sc.frame:
        W2 = int(W * (1 + r.uniform(0.3, 1.0) * sc.frame))
        Hh2 = max(Hh, int(W2 * r.uniform(0.35, 0.75)))
        off = np.array([r.uniform(0, W2 - W), r.uniform(0, Hh2 - Hh)])
        W, Hh = W2, Hh2
    else:
        off = np.zeros(2)
    placed = [(s - lo) * k + m + off for s in strokes]
    baseline = m + off[1] + h  # the ink's bottom (a comma's tail below it is rare)
    return encode(stroke_coverage(placed, W, Hh, pen), sc, seed, record["id"], baseline=baseline, digit=H)

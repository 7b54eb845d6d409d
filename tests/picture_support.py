"""Pictures at the reader's edges, generated (seeded): ``dust`` (specks scattered over a page),
``picture`` (the content fuzzer's kinds: specks, lines, noise, checkerboards, gradients,
grids, a bar, blank), ``bracketed`` (a composed number beside a bracket twice its height)
``tucked_dot`` (a '.' under a leaning digit's foot), ``colon_blob`` (a thick pen's colon
whose dots ran together) and ``marker_hyphen`` (a thick pen's hyphen drawn at a tilt), as image
file bytes. And pieces of ink drawn run by run on a 40 px line (``RUNS``, ``bar``, ``dot``,
``leaning``, ``piece``), for the rules of where a mark stands and how a stroke leans (``glyphs``)
and their twin.
"""

from __future__ import annotations

import io
import math
import random

import numpy as np
from PIL import Image, ImageDraw

from digitpad import compose
from digitpad.segment import Line, Piece

MARK_LINE = Line(4.0, 40.0, 0.0, 20.0, (40.0, 0.0), (0.0, 0.0))  # pen 4 px, baseline y = 40, top line y = 0
Runs = list[tuple[int, int, int]]  # (row, start, end) each
RUNS: dict[str, Runs] = {  # tall pieces on MARK_LINE
    "five": [(y, 20, 24) for y in range(12, 24)] + [(y, 14, 34) for y in range(24, 40)],  # a 4 px stem over a body
    "zero": [(y, 50, 70) for y in range(12, 16)] + [(y, x, x + 4) for y in range(16, 40) for x in (50, 66)],  # short
    "two": [(y, 0, 8) for y in range(40)],
    "seven": [(y, 10, 50) for y in range(4)] + [(y, 44, 48) for y in range(4, 40)],  # its bar overhangs its foot
}


def bar(x0: int) -> Runs:
    """A bar 20 px long and 6 tall from x0, at the top of the short 0 and of the 5's body."""
    return [(y, x0, x0 + 20) for y in range(12, 18)]


def dot(x0: int) -> Runs:
    """A 4 px dot on the baseline from x0."""
    return [(y, x0, x0 + 4) for y in range(36, 40)]


def leaning(x_top: int, degrees: float, width: int) -> Runs:
    """A straight band ``width`` px wide, 40 px tall from the top line, leaning ``degrees`` (> 0:
    its top to the right, as a '/' leans) from ``x_top`` at its top."""
    step = math.tan(math.radians(degrees))
    return [(y, round(x_top - step * y), round(x_top - step * y) + width) for y in range(40)]


def piece(runs: Runs, comp: int) -> Piece:
    """The runs as a Piece on MARK_LINE."""
    row, start, end = (np.array(v) for v in zip(*runs))
    return Piece(row, start, end, comp).deskew(MARK_LINE)


KINDS = ("dots", "lines", "noise", "checker", "gradient", "grid", "bar", "blank")


def as_png(im: Image.Image) -> bytes:
    """The picture as PNG bytes."""
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def dust(size: int, n: int, mode: str = "LA") -> bytes:
    """``n`` specks 0-6 px across scattered over a size x size page, as PNG: on a transparent
    canvas (``LA``, the page's) or on white paper (``L``, a photo's)."""
    paper, ink = ((0, 0), (0, 255)) if mode == "LA" else (255, 0)
    im = Image.new(mode, (size, size), paper)
    draw = ImageDraw.Draw(im)
    for x, y, a, b in np.random.default_rng(15).integers(0, [size, size, 7, 7], (n, 4)).tolist():
        draw.ellipse([x, y, x + a, y + b], fill=ink)
    return as_png(im)


def picture(kind: str, w: int, h: int, seed: int, mode: str, fmt: str) -> bytes:
    """One generated picture of ``kind`` (w x h, seeded) as ``fmt`` file bytes."""
    r = random.Random(seed)
    a = np.full((h, w), 255, np.uint8)
    if kind == "noise":
        a = np.random.default_rng(seed).integers(0, 256, (h, w), dtype=np.uint8)
    elif kind == "checker":
        a = ((np.indices((h, w)).sum(0) // r.choice([1, 2, 5])) % 2 * 255).astype(np.uint8)
    elif kind == "gradient":
        a = np.tile(np.linspace(0, 255, w).astype(np.uint8), (h, 1))
    elif kind == "grid":
        a[:: max(1, h // 10), :] = 0
        a[:, :: max(1, w // 10)] = 0
    im = Image.fromarray(a)
    draw = ImageDraw.Draw(im)
    if kind == "dots":
        for _ in range(r.randint(1, 300)):
            x, y = r.randrange(w), r.randrange(h)
            draw.ellipse([x, y, x + r.randint(0, 6), y + r.randint(0, 6)], fill=0)
    elif kind == "lines":
        for _ in range(r.randint(1, 40)):
            draw.line([(r.randrange(w), r.randrange(h)) for _ in range(r.randint(2, 8))], fill=0, width=r.randint(1, 30))
    elif kind == "bar":
        y = r.randrange(h)
        draw.line([(r.randrange(w), y), (r.randrange(w), y + r.randint(-3, 3))], fill=0, width=r.randint(1, 20))
    im = im.convert(mode)
    if fmt == "JPEG" and mode != "L":
        im = im.convert("RGB")
    out = io.BytesIO()
    im.save(out, fmt)
    return out.getvalue()



def bracketed(sample: compose.Sample, tall: float, side: str) -> bytes:
    """The composed number with a ')' (side "right") or '(' drawn ``tall`` times its digits'
    height beside it, centred on them, in the pad's ink (black, opaque on a clear canvas)."""
    im = Image.open(io.BytesIO(sample.image)).convert("RGBA")
    (x0, y0), (x1, y1) = np.min([b[:2] for b in sample.boxes], 0), np.max([b[2:] for b in sample.boxes], 0)
    H, pen = y1 - y0, max(2, round(sample.pen))
    bh, bw = int(tall * H), int(0.35 * tall * H)
    canvas = Image.new("RGBA", (im.width + bw + 40, max(im.height, bh) + 40), (0, 0, 0, 0))
    dx = 20 if side == "right" else bw + 20
    dy = (canvas.height - im.height) // 2
    canvas.alpha_composite(im, (dx, dy))
    cy = dy + (y0 + y1) // 2
    ax = dx + x1 + pen if side == "right" else dx + x0 - pen - bw
    box = (ax - bw, cy - bh // 2, ax + bw, cy + bh // 2)  # the arc is half an ellipse of this box
    start, end = (-70, 70) if side == "right" else (110, 250)
    ImageDraw.Draw(canvas).arc(box, start, end, fill=(0, 0, 0, 255), width=pen)
    return as_png(canvas)


def _leaning_ring(draw: ImageDraw.ImageDraw, x: float, top: float, h: float, lean: float, pen: int,
                  width: float) -> None:
    """A '0' leaning right by ``lean`` (x moves by -lean per row down): a stadium ``width``
    times its height wide on each side (straight sides, round ends; the sides give the line
    its slant), sheared."""
    r = width * h
    t = np.linspace(np.pi, 2 * np.pi, 40)  # the top cap, then the bottom one
    xs = np.concatenate([x + r * np.cos(t), x - r * np.cos(t)])
    ys = np.concatenate([top + r + r * np.sin(t), top + h - r - r * np.sin(t)])
    xs = xs - lean * (ys - top - h / 2)
    pts = list(zip(xs.tolist(), ys.tolist()))
    draw.line(pts + pts[:1], fill=255, width=pen)


def tucked_dot() -> bytes:
    """"00.00" in white on black: the rings lean steeply but the third one stands nearly
    upright, and the '.' sits below left of its foot (deskewed by the line's slant, the dot's
    centre is right of that ring's)."""
    im = Image.new("L", (400, 140), 0)
    d = ImageDraw.Draw(im)
    for x, lean, width in ((70, 0.7, 0.3), (140, 0.7, 0.3), (222, 0.1, 0.15), (300, 0.7, 0.3)):
        _leaning_ring(d, x, 25, 90, lean, 8, width)
    d.ellipse((199, 117, 207, 125), fill=255)  # apart from the ring
    return as_png(im)


def _the_gap(sample: compose.Sample) -> tuple[Image.Image, float, int, int, tuple[int, int, int]]:
    """A composed number written with one space (where a separator goes): its picture (RGB),
    the middle of that gap (x), the digits' top and bottom (y0, y1) and the ink's colour."""
    im = Image.open(io.BytesIO(sample.image)).convert("RGB")
    y0, y1 = min(b[1] for b in sample.boxes), max(b[3] for b in sample.boxes)
    k = len(sample.text.split(" ")[0])  # the boxes either side of the gap
    x = (sample.boxes[k - 1][2] + sample.boxes[k][0]) / 2
    ink = 255 - int(np.median(np.asarray(im.convert("L"))))  # (black on a light page)
    return im, x, y0, y1, (ink,) * 3


def colon_blob(sample: compose.Sample) -> bytes:
    """A composed time written with a space where its colon goes ("12 30"), and in that gap a
    colon 0.45 of the digits' height tall on the baseline: two dots as wide as the pen run
    together by a bridge half as wide (a thick pen's dots touching; val writers' markers drew
    them 2.5-3 stroke widths tall, 1.4-1.8 wide)."""
    im, x, y0, y1, ink = _the_gap(sample)
    r = sample.pen / 2
    low, high = y1 - r, y1 - 0.45 * (y1 - y0) + r  # the dots' centres
    d = ImageDraw.Draw(im)
    for cy in (low, high):
        d.ellipse((x - r, cy - r, x + r, cy + r), fill=ink)
    d.line([(x, low), (x, high)], fill=ink, width=max(1, round(r)))
    return as_png(im)


def marker_hyphen(sample: compose.Sample, rise: float) -> bytes:
    """A composed phone number written with a space where its hyphen goes ("555 1234"), and in
    that gap a hyphen of the sample's round pen at mid-height, 0.5 of the digits' height long,
    its ink ``rise`` pen widths tall (a bar drawn at a tilt: val writers' marker hyphens stood
    1.3 pen widths tall)."""
    im, x, y0, y1, ink = _the_gap(sample)
    y, r = (y0 + y1) / 2, sample.pen / 2
    half, tilt = 0.25 * (y1 - y0) - r, (rise - 1) * r  # (the ends' centres)
    d = ImageDraw.Draw(im)
    ends = [(x - half, y + tilt), (x + half, y - tilt)]
    d.line(ends, fill=ink, width=max(1, round(sample.pen)))
    for ex, ey in ends:
        d.ellipse((ex - r, ey - r, ex + r, ey + r), fill=ink)
    return as_png(im)

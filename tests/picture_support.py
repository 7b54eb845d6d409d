"""Pictures at the reader's edges, generated (seeded): ``dust`` (specks scattered over a page)
and ``picture`` (the content fuzzer's kinds: specks, lines, noise, checkerboards, gradients,
grids, a bar, blank), as image file bytes.
"""

from __future__ import annotations

import io
import random

import numpy as np
from PIL import Image, ImageDraw

KINDS = ("dots", "lines", "noise", "checker", "gradient", "grid", "bar", "blank")


def dust(size: int, n: int, mode: str = "LA") -> bytes:
    """``n`` specks 0-6 px across scattered over a size x size page, as PNG: on a transparent
    canvas (``LA``, the page's) or on white paper (``L``, a photo's)."""
    paper, ink = ((0, 0), (0, 255)) if mode == "LA" else (255, 0)
    im = Image.new(mode, (size, size), paper)
    draw = ImageDraw.Draw(im)
    for x, y, a, b in np.random.default_rng(15).integers(0, [size, size, 7, 7], (n, 4)).tolist():
        draw.ellipse([x, y, x + a, y + b], fill=ink)
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


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

"""Real pen-drawn digits (UCI pendigits trajectories) rendered as canvas images in many styles.

Each line of the ``.jsonl.gz`` file is one drawing::

    {"id": "pendigits_orig/tra/0", "label": 8, "writer": "pendigits-tra-w12",
     "canvas": 280, "lineWidth": 16, "strokes": [[[x, y], ...], ...]}

(canvas coordinates, y down). ``render(record, style)`` draws the strokes like a browser
canvas does (round caps and joins, anti-aliased) and returns image file bytes, so the whole
path a user's drawing takes (encode, upload, decode, preprocess, predict) can be measured on
real handwriting: ``bench/pendigits_accuracy.py`` reports accuracy per style.

    records = load(path)
    dev, holdout = split_by_writer(records, seed=0)     # split writers, not drawings
    png = render(records[0], STYLES["thin-pen-600"])

Everything is deterministic: the same record and style always give the same bytes.
"""

from __future__ import annotations

import gzip
import io
import json
import random
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from .preprocess import preprocess_bytes


@dataclass(frozen=True)
class Style:
    """How a drawing is put on a canvas."""

    canvas: int = 280  # square canvas side, px
    line_width: float = 16.0  # pen width on this canvas, px
    ink: tuple[int, int, int] = (0, 0, 0)
    background: tuple[int, int, int] | None = (255, 255, 255)  # None: transparent (RGBA PNG)
    fit: float | None = None  # drawing's longest side as a fraction of the canvas; None: as recorded
    offset: tuple[float, float] = (0.0, 0.0)  # with fit: drawing centre = (0.5 + dx, 0.5 + dy) * canvas
    lighting: float = 0.0  # photo look: paper darkens by up to this fraction towards one corner
    noise: float = 0.0  # photo look: gaussian noise sigma, in 0..255 grey levels
    format: str = "PNG"  # PNG, JPEG or WEBP
    quality: int = 85  # JPEG/WebP quality


STYLES: dict[str, Style] = {
    # The web page's own canvas: black pen on white, as recorded.
    "canvas-280": Style(),
    "transparent-280": Style(background=None),
    "white-ink-transparent": Style(ink=(255, 255, 255), background=None, line_width=12),
    "white-on-black": Style(ink=(255, 255, 255), background=(0, 0, 0)),
    # Pen widths 3..40 px on canvases 200..800 px.
    "thin-pen-600": Style(canvas=600, line_width=3),
    "thin-pen-200": Style(canvas=200, line_width=3),
    "thick-brush-200": Style(canvas=200, line_width=40, fit=0.85),
    "marker-800": Style(canvas=800, line_width=40),
    # Coloured ink on tinted paper.
    "blue-on-cream": Style(canvas=400, line_width=10, ink=(30, 60, 170), background=(250, 242, 215)),
    "red-on-grey": Style(canvas=320, line_width=8, ink=(200, 30, 40), background=(200, 205, 210)),
    # Small and off-centre placements.
    "small-center-400": Style(canvas=400, line_width=5, fit=0.18),
    "small-corner-500": Style(canvas=500, line_width=4, fit=0.16, offset=(0.3, 0.3)),
    "off-centre-300": Style(canvas=300, line_width=10, fit=0.5, offset=(-0.2, 0.17)),
    "tiny-corner-800": Style(canvas=800, line_width=3, fit=0.06, offset=(-0.35, 0.35)),
    # A phone photo of paper: uneven light, sensor noise, JPEG.
    "photo-jpeg": Style(canvas=480, line_width=7, ink=(45, 45, 60), background=(235, 230, 220),
                        lighting=0.35, noise=5.0, format="JPEG", quality=80),
}


def load(path: str | Path) -> list[dict]:
    """All records of a pendigits ``.jsonl`` or ``.jsonl.gz`` file, in file order."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def split_by_writer(records: list[dict], seed: int = 0, holdout: float = 0.3) -> tuple[list[dict], list[dict]]:
    """(dev, holdout): the writers (not the drawings) are shuffled with ``seed`` and
    ``holdout`` of them (rounded, at least one) hold out all their drawings."""
    writers = sorted({r["writer"] for r in records})
    random.Random(seed).shuffle(writers)
    held = set(writers[: max(1, round(holdout * len(writers)))])
    return [r for r in records if r["writer"] not in held], [r for r in records if r["writer"] in held]


def _points(record: dict, style: Style) -> list[np.ndarray]:
    """Strokes in the style's canvas coordinates: list of (n, 2) float arrays (x, y)."""
    strokes = [np.asarray(s, dtype=np.float64).reshape(-1, 2) for s in record["strokes"] if len(s)]
    if style.fit is None:
        k = style.canvas / float(record.get("canvas", 280))
        return [s * k for s in strokes]
    allp = np.concatenate(strokes)
    lo, hi = allp.min(axis=0), allp.max(axis=0)
    k = style.fit * style.canvas / max(float((hi - lo).max()), 1.0)
    centre = (np.array([0.5, 0.5]) + np.asarray(style.offset)) * style.canvas
    return [(s - (lo + hi) / 2) * k + centre for s in strokes]


def coverage(record: dict, style: Style) -> np.ndarray:
    """Ink coverage (canvas, canvas) float32 in [0, 1]: the strokes drawn with round caps and
    joins at 4x (2x for big canvases) and box-averaged down, i.e. anti-aliased like a canvas."""
    return stroke_coverage(_points(record, style), style.canvas, style.canvas, style.line_width)


def stroke_coverage(strokes: list[np.ndarray], width: int, height: int, line_width: float) -> np.ndarray:
    """Strokes ((n, 2) arrays of canvas (x, y)) drawn on a (height, width) canvas like a browser
    does (round caps and joins, anti-aliased by drawing at 2-4x and box-averaging down):
    coverage (height, width) float32 in [0, 1]. A one-point stroke is a dot (a tap)."""
    ss = max(2, min(4, 1600 // max(width, height)))
    img = Image.new("L", (width * ss, height * ss), 0)
    draw = ImageDraw.Draw(img)
    r = line_width * ss / 2
    for s in strokes:
        pts = [(float(x) * ss, float(y) * ss) for x, y in s]
        if len(pts) > 1:
            draw.line(pts, fill=255, width=max(1, round(line_width * ss)))
        for x, y in pts:  # round caps and joins
            draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    return np.asarray(img.reduce(ss), dtype=np.float32) / 255.0


def _mnist_image(job: tuple[dict, str]) -> np.ndarray:
    record, style = job
    return preprocess_bytes(render(record, STYLES[style])).image


def mnist_arrays(records: list[dict], styles: list[str] | None = None, jobs: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Every record in every named style (default: all), rendered and preprocessed exactly as
    the server would: ((N, 28, 28) uint8 white-on-black, (N,) uint8 labels). For training on
    dev writers (``train(extra=...)``); evaluate on the held-out writers only. ``jobs`` > 1
    renders in that many processes (rendering is ~5-15 ms a drawing)."""
    names = styles or list(STYLES)
    unknown = [n for n in names if n not in STYLES]
    if unknown:
        raise ValueError(f"unknown pendigits style(s) {unknown}; known: {', '.join(STYLES)}")
    work = [(r, n) for n in names for r in records]
    if jobs > 1 and len(work) > 64:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(jobs) as pool:
            images = list(pool.map(_mnist_image, work, chunksize=64))
    else:
        images = [_mnist_image(w) for w in work]
    labels = [r["label"] for r, _ in work]
    return np.stack(images).astype(np.uint8), np.array(labels, dtype=np.uint8)


# Styles the model trains on: the page's canvas, a 40 px brush filling the canvas and a small
# 5 px drawing, i.e. the three ways a stroke reaches 28x28 (as is, thinned, thickened). The
# other styles differ in colour, polarity and noise, which preprocessing removes before 28x28.
TRAIN_STYLES = ("canvas-280", "thick-brush-200", "small-center-400")


def training_set(path: str | Path, styles: tuple[str, ...] | list[str] = TRAIN_STYLES, seed: int = 0,
                 limit: int | None = None, jobs: int = 1) -> tuple[np.ndarray, np.ndarray, dict]:
    """The dev writers of ``split_by_writer(seed)`` (never the held-out ones) as extra training
    data: (images (N, 28, 28) uint8, labels (N,), description for the model's metadata).
    ``limit`` keeps the first N dev drawings (cheap mode)."""
    dev, held = split_by_writer(load(path), seed=seed)
    if limit is not None:
        dev = dev[:limit]
    images, labels = mnist_arrays(dev, list(styles), jobs=jobs)
    info = {
        "source": Path(path).name,
        "split_seed": seed,
        "writers": sorted({r["writer"] for r in dev}),
        "held_out_writers": sorted({r["writer"] for r in held}),
        "drawings": len(dev),
        "styles": list(styles),
        "images": int(len(images)),
    }
    return images, labels, info


def render(record: dict, style: Style) -> bytes:
    """One drawing in one style -> image file bytes (``style.format``)."""
    a = coverage(record, style)[..., None]  # (canvas, canvas, 1)
    ink = np.asarray(style.ink, np.float32)
    if style.background is None:
        rgba = np.concatenate([np.broadcast_to(ink, a.shape[:2] + (3,)), a * 255], axis=2)
        img = Image.fromarray(np.round(rgba).astype(np.uint8), "RGBA")
    else:
        paper = np.broadcast_to(np.asarray(style.background, np.float32), a.shape[:2] + (3,))
        if style.lighting:
            n = style.canvas
            yy, xx = np.mgrid[0:n, 0:n] / n
            shade = 1.0 - style.lighting * ((xx + yy) / 2) ** 1.5  # darker towards bottom right
            paper = paper * shade[..., None]
        rgb = paper * (1 - a) + ink * a
        if style.noise:
            rng = np.random.default_rng(zlib.crc32(record["id"].encode()))
            rgb = rgb + rng.normal(0, style.noise, rgb.shape[:2])[..., None]
        img = Image.fromarray(np.clip(np.round(rgb), 0, 255).astype(np.uint8), "RGB")
    return encode(img, style.format, style.quality)


def encode(img: Image.Image, fmt: str, quality: int) -> bytes:
    """A rendered drawing as a file's bytes: PNG (fast, lossless) or ``fmt`` at ``quality``."""
    buf = io.BytesIO()
    if fmt == "PNG":
        img.save(buf, "PNG", compress_level=1)
    else:
        img.save(buf, fmt, quality=quality)
    return buf.getvalue()

"""Pendigits rendering: deterministic, styles are what they say, split by writer, and real
pen-drawn digits through preprocess_bytes + the shipped model are read well above chance."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from digitpad import pendigits
from digitpad.predict import Predictor
from digitpad.preprocess import preprocess_bytes


@pytest.fixture(scope="module")
def records(pendigits_path: Path) -> list[dict]:
    return pendigits.load(pendigits_path)


def decode(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def test_load_reads_every_drawing(records):
    assert len(records) > 7000
    r = records[0]
    assert set(r) >= {"id", "label", "writer", "canvas", "strokes"}
    assert 0 <= r["label"] <= 9 and len(r["strokes"][0][0]) == 2


def test_render_is_deterministic(records):
    for name in ("canvas-280", "photo-jpeg", "small-corner-500"):
        style = pendigits.STYLES[name]
        assert pendigits.render(records[3], style) == pendigits.render(records[3], style), name


def test_styles_cover_the_range_the_app_must_handle():
    styles = pendigits.STYLES.values()
    widths = [s.line_width for s in styles]
    canvases = [s.canvas for s in styles]
    assert min(widths) <= 3 and max(widths) >= 40
    assert min(canvases) <= 200 and max(canvases) >= 800
    assert any(s.background is None for s in styles)
    assert any(s.fit is not None and s.fit <= 0.2 for s in styles)
    assert any(s.offset != (0.0, 0.0) for s in styles)


@pytest.mark.parametrize("name", sorted(pendigits.STYLES))
def test_each_style_is_what_it_claims(name, records):
    style = pendigits.STYLES[name]
    img = decode(pendigits.render(records[0], style))
    assert img.format == style.format and img.size == (style.canvas, style.canvas)
    if style.background is None:
        assert img.mode == "RGBA"
        rgba = np.asarray(img)
        assert (rgba[[0, 0, -1, -1], [0, -1, 0, -1], 3] == 0).all(), "corners must be transparent"
        ink = rgba[rgba[..., 3] == 255][:, :3]
        assert len(ink) > 0 and (ink == style.ink).all(), "opaque pixels are the ink colour"
        cover = rgba[..., 3] > 127
    else:
        rgb = np.asarray(img.convert("RGB")).astype(int)
        corner = rgb[2, 2]
        tol = 3 if style.format == "PNG" and not style.noise else 40
        assert np.abs(corner - style.background).max() <= tol, (corner, style.background)
        dist_ink = np.abs(rgb - np.array(style.ink)).sum(-1)
        dist_bg = np.abs(rgb - rgb[2, 2]).sum(-1)
        cover = dist_ink < dist_bg
    ys, xs = np.nonzero(cover)
    side = max(np.ptp(ys), np.ptp(xs)) + 1
    if style.fit is not None:  # the drawing's longest side is fit * canvas, plus the pen
        assert abs(side - style.fit * style.canvas - style.line_width) <= 0.05 * style.canvas + 2, side
        cx, cy = (xs.min() + xs.max()) / 2, (ys.min() + ys.max()) / 2
        want = (np.array([0.5, 0.5]) + style.offset) * style.canvas
        assert np.abs(np.array([cx, cy]) - want).max() <= 0.05 * style.canvas + 2, ((cx, cy), want)
    # Stroke width: ink area / ink length is about the pen width.
    stroke_len = sum(np.linalg.norm(np.diff(np.asarray(s, float), axis=0), axis=1).sum()
                     for s in pendigits._points(records[0], style))
    est = cover.sum() / max(stroke_len, 1.0)
    assert 0.6 * style.line_width <= est <= 1.6 * style.line_width + 1, (est, style.line_width)


def test_split_by_writer(records):
    dev, hold = pendigits.split_by_writer(records, seed=0)
    assert len(dev) + len(hold) == len(records)
    dev_w, hold_w = {r["writer"] for r in dev}, {r["writer"] for r in hold}
    assert not dev_w & hold_w, "a writer must not be on both sides"
    assert len(hold_w) == round(0.3 * len(dev_w | hold_w))
    again = pendigits.split_by_writer(records, seed=0)
    assert [r["id"] for r in again[1]] == [r["id"] for r in hold]
    other = pendigits.split_by_writer(records, seed=1)
    assert {r["writer"] for r in other[1]} != hold_w


def test_real_pen_digits_are_read_well_above_chance(records):
    """100 drawings of held-out writers x 4 styles through the real path (PNG/JPEG bytes ->
    preprocess_bytes -> shipped model). Not the accuracy target (bench/pendigits_accuracy.py
    measures that): a floor that a broken pipeline or renderer cannot pass."""
    _, hold = pendigits.split_by_writer(records, seed=0)
    sample = [hold[i] for i in np.linspace(0, len(hold) - 1, 100).round().astype(int)]
    labels = np.array([r["label"] for r in sample])
    predictor = Predictor()
    for name in ("canvas-280", "transparent-280", "thin-pen-600", "small-corner-500"):
        style = pendigits.STYLES[name]
        x = np.stack([preprocess_bytes(pendigits.render(r, style)).image for r in sample])
        acc = float((predictor.predict_batch(x).argmax(1) == labels).mean())
        assert acc >= 0.85, f"{name}: accuracy {acc:.2%} on 100 held-out drawings"

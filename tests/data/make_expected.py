"""Regenerate tests/data/preprocess_expected.npz: pinned inputs and their expected 28x28 outputs.

    DIGITPAD_PENDIGITS=../shared/data/pendigits/trajectories-dev.jsonl.gz \\
        .venv/bin/python tests/data/make_expected.py

The inputs are stored as image file bytes (PNG, lossless, so decoding is exact everywhere),
so the test does not depend on how Pillow draws. ``tests/test_preprocess.py`` checks that
``preprocess_bytes`` still turns every input into its expected output (max diff <= 1); the
browser port's parity test can read the same file. Rerun this script only when the
pipeline changes on purpose, and look at ``test-output/preprocess_expected.png`` first.

File layout: ``names`` (N,) str; ``input_<i>`` (bytes as uint8); ``expected`` (N, 28, 28)
uint8; ``labels`` (N,) int (-1 when the input has no digit).
"""

from __future__ import annotations

import io
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from digitpad import pendigits
from digitpad.preprocess import preprocess_bytes

HERE = Path(__file__).resolve().parent

# Digit d is the file's first drawing of d, rendered in STYLES_USED[d].
STYLES_USED = ["canvas-280", "transparent-280", "white-on-black", "thin-pen-600", "thick-brush-200",
               "blue-on-cream", "small-corner-500", "off-centre-300",
               "photo-jpeg",  # saved as PNG (lossless) at 240 px: noise does not compress
               "white-ink-transparent"]


def png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def synthetic() -> list[tuple[str, bytes, int]]:
    """Inputs that need no data file: a plain '1', a '7' on a gradient, a blank page."""
    one = Image.new("L", (240, 240), 255)
    ImageDraw.Draw(one).line([(120, 30), (118, 210)], fill=0, width=9)
    seven = Image.new("L", (300, 220), 0)
    arr = np.asarray(seven, np.float64) + np.linspace(150, 230, 300)[None, :]  # uneven light
    seven = Image.fromarray(arr.astype(np.uint8))
    ImageDraw.Draw(seven).line([(100, 40), (200, 40), (140, 190)], fill=60, width=6, joint="curve")
    blank = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
    return [("synthetic-one", png(one), 1), ("synthetic-seven-gradient", png(seven), 7),
            ("synthetic-blank", png(blank), -1)]


def main() -> None:
    path = os.environ.get("DIGITPAD_PENDIGITS")
    if not path:
        raise SystemExit("set DIGITPAD_PENDIGITS to trajectories-dev.jsonl.gz")
    records = pendigits.load(path)
    items = []
    for digit, style in enumerate(STYLES_USED):
        rec = next(r for r in records if r["label"] == digit)
        st = replace(pendigits.STYLES[style], format="PNG")
        if style == "photo-jpeg":
            st = replace(st, canvas=240, line_width=st.line_width / 2)
        items.append((f"{style}:{rec['id']}", pendigits.render(rec, st), digit))
    items += synthetic()
    expected = np.stack([preprocess_bytes(b).image for _, b, _ in items])  # (N, 28, 28)
    arrays = {f"input_{i}": np.frombuffer(b, np.uint8) for i, (_, b, _) in enumerate(items)}
    np.savez_compressed(HERE / "preprocess_expected.npz", names=np.array([n for n, _, _ in items]),
                        labels=np.array([lab for _, _, lab in items]), expected=expected, **arrays)
    out = HERE.parents[1] / "test-output"
    out.mkdir(exist_ok=True)
    Image.fromarray(np.hstack([np.pad(e, 1, constant_values=128) for e in expected])).resize(
        (30 * len(items) * 3, 90), Image.NEAREST).save(out / "preprocess_expected.png")
    total = sum(len(b) for _, b, _ in items)
    print(f"wrote {len(items)} inputs ({total / 1000:.0f} kB) -> {HERE / 'preprocess_expected.npz'}")


if __name__ == "__main__":
    main()

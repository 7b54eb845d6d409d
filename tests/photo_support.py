"""Phone photos of a digit written on a sheet lying on a desk, for the tests of preprocessing
step 3c: the sheet rotated a few degrees, so the desk shows along the image's edges; uneven
light and sensor noise; the digit a few percent of the frame.

``desk_photo(record, desk=(60, 55, 50))`` -> image file bytes; ``desk=None``: the same photo with
the sheet filling the frame (no desk), for comparison; ``grow=0.8``: the sheet smaller than the
frame, the desk all round it (most of the image's edge is desk).
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from digitpad import pendigits


def desk_photo(record: dict, *, desk: tuple[int, int, int] | None, size: tuple[int, int] = (3000, 4000),
               angle: float = 6.0, frac: float = 0.05, paper: tuple[int, int, int] = (175, 175, 170),
               seed: int = 0, fmt: str = "JPEG", grow: float = 1.02) -> bytes:
    rng = np.random.default_rng(seed)
    W, H = size
    grow = grow if desk is not None else 1.3  # (1.02: the sheet a little larger than the frame, the desk at its corners)
    pw, ph = int(W * grow), int(H * grow)
    sheet = Image.new("RGB", (pw, ph), paper)
    side = int(frac * W / 0.8)  # fit=0.8: the digit is ~frac of the frame's width
    style = pendigits.Style(canvas=side, line_width=max(2.0, side * 16 / 280), fit=0.8, ink=(30, 30, 40),
                            background=paper)
    digit = Image.open(io.BytesIO(pendigits.render(record, style))).convert("RGB")
    dx, dy = (int(v) for v in rng.integers(-W // 15, W // 15, 2))
    sheet.paste(digit, (pw // 2 - side // 2 + dx, ph // 2 - side // 2 + dy))
    rotated = sheet.rotate(angle, resample=Image.BICUBIC, fillcolor=desk or paper)
    frame = Image.new("RGB", (W, H), desk or paper)
    frame.paste(rotated, ((W - pw) // 2, (H - ph) // 2))
    a = np.asarray(frame).astype(np.float32)
    yy, xx = np.mgrid[0:H, 0:W]
    a *= (1 - 0.15 * (xx / W + yy / H) / 2)[..., None]  # light falling off towards one corner
    a += rng.normal(0, 3, (H, W))[..., None]
    buf = io.BytesIO()
    Image.fromarray(np.clip(np.round(a), 0, 255).astype(np.uint8)).save(buf, fmt, **({"quality": 85} if fmt == "JPEG" else {}))
    return buf.getvalue()

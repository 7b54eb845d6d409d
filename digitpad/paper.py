"""How a composed or real number is drawn into an image file: the page's canvas, pens and ink
colours, and phone photos of paper, plain, ruled or squared (``SCHEMES``), and of pencil (``PENCILS``).

``compose`` places the strokes; this module turns their coverage (an (h, w) array in [0, 1])
into PNG or JPEG bytes. A photo has uneven light, sensor noise and a JPEG's artefacts, the
number small in the frame; ruled paper has faint horizontal rules one line apart with the
number written on one of them (its baseline on the rule, give or take), squared paper a grid
about a digit apart: the rules are paper, not ink, and a reader must not read them.
Deterministic: the same coverage, scheme, seed and key give the same bytes.

    png = encode(coverage, SCHEMES["ruled-photo"], seed=0, key="writer|text", baseline=120.0, digit=60.0)
    jpeg = on_a_desk(photo, "dark")    # the photographed sheet lying on a desk, the desk all round it
    jpeg = in_shadow(photo)            # ... with a shadow's hard edge across it
    jpeg = askew(photo, 6)             # ... taken with the phone held 6 degrees askew
    jpeg = in_a_big_photo(drawing, 80) # a drawing written 80 px tall on a sheet a 12 MP phone takes whole
    png = uphill(drawing, -10)         # a drawing written 10 degrees downhill (the canvas grown to hold it)
"""

from __future__ import annotations

import io
import math
import random
import zlib
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter, ImageOps

from .pendigits import encode as encode_image
from .pendigits import stroke_coverage


@dataclass(frozen=True)
class Scheme:
    """How a number is drawn. Sizes in pixels of the image."""

    height: tuple[float, float] = (100, 170)  # digit height H
    pen: tuple[float, float] = (12, 18)  # line width
    ink: tuple[int, int, int] = (0, 0, 0)
    background: tuple[int, int, int] | None = None  # None: transparent (the page's canvas PNG)
    margin: tuple[float, float] = (0.2, 0.6)  # around the ink, in H
    frame: float = 0.0  # photos: the number spans 1 / (1 + frame) .. of the image width
    lighting: float = 0.0  # photos: paper darkens by up to this towards one corner
    noise: float = 0.0  # photos: gaussian sigma in grey levels
    format: str = "PNG"
    quality: int = 85
    ruling: str = ""  # "", "ruled" (horizontal rules) or "squared" (a grid)
    rule_gap: tuple[float, float] = (1.3, 1.8)  # between rules, in H (squared: 0.6-1.0)
    rule_ink: tuple[tuple[int, int, int], ...] = ((150, 180, 225), (170, 190, 215), (160, 160, 170))
    rule_width: tuple[float, float] = (1.0, 2.2)  # px
    grain: tuple[float, float, float] | None = None  # a pencil: its coverage pixel to pixel, (mean, sd, floor)


_PHOTO = dict(height=(40, 90), pen=(4, 7), ink=(45, 45, 60), background=(235, 230, 220), margin=(0.5, 1.5),
              frame=1.0, lighting=0.35, noise=5.0, format="JPEG", quality=80)
SCHEMES = {
    "pad": Scheme(),  # the page: black pen on a transparent canvas
    "pad-dark": Scheme(ink=(240, 240, 240), background=(24, 24, 28)),
    "thin-pen": Scheme(height=(60, 110), pen=(2.5, 4.5), background=(255, 255, 255)),
    "marker": Scheme(height=(90, 150), pen=(20, 30), background=(255, 255, 255)),
    "blue-on-cream": Scheme(height=(70, 130), pen=(6, 10), ink=(30, 60, 170), background=(250, 242, 215)),
    "photo": Scheme(**_PHOTO),
    "ruled-photo": Scheme(**_PHOTO, ruling="ruled"),
    "squared-photo": Scheme(**_PHOTO, ruling="squared", rule_gap=(0.6, 1.0)),
}
PAPER_SCHEMES = ("ruled-photo", "squared-photo")
# Pencil on paper, photographed: thin grey graphite whose grain (the paper's tooth) leaves the strokes
# speckled, ~3 times weaker in places. Apart from SCHEMES, so that what the benches and training draw
# from SCHEMES stays as it was (``bench/pencil.py`` reads these). ``scheme(name)`` finds either.
PENCILS = {
    "pencil-photo": Scheme(**{**_PHOTO, "ink": (105, 105, 110), "pen": (3, 5)}, grain=(0.75, 0.2, 0.3)),
    "pencil-light": Scheme(**{**_PHOTO, "ink": (140, 140, 145), "pen": (3, 5)}, grain=(0.75, 0.25, 0.2)),
}


def scheme(name: str) -> Scheme:
    """The scheme of that name, in SCHEMES or PENCILS (KeyError if neither)."""
    return SCHEMES[name] if name in SCHEMES else PENCILS[name]


def rules(shape: tuple[int, int], sc: Scheme, r: random.Random, baseline: float, digit: float) -> np.ndarray:
    """(h, w) coverage in [0, 1] of the paper's rules: horizontal lines ``rule_gap`` digit
    heights apart, one of them near ``baseline`` (y, px) where the writer wrote; squared paper
    adds vertical lines as far apart, at a random phase. Slightly tilted (a photo is never
    square to the sheet)."""
    h, w = shape
    gap = r.uniform(*sc.rule_gap) * digit
    width = r.uniform(*sc.rule_width)
    tilt = math.tan(math.radians(r.uniform(-1.5, 1.5)))
    first = baseline + r.uniform(-0.05, 0.12) * digit  # the rule the number sits on
    first -= gap * math.ceil(first / gap)
    lines = []
    y = first
    while y < h + gap:
        lines.append(np.array([[-5.0, y + 5 * tilt], [w + 5.0, y - (w + 5) * tilt]]))
        y += gap
    if sc.ruling == "squared":
        x = r.uniform(0, gap)
        while x < w + gap:
            lines.append(np.array([[x - (-5) * tilt, -5.0], [x - (h + 5) * tilt, h + 5.0]]))
            x += gap
    return stroke_coverage(lines, w, h, width)


def encode(cov: np.ndarray, sc: Scheme, seed: int, key: str, baseline: float = 0.0, digit: float = 0.0) -> bytes:
    """Ink coverage (h, w) in [0, 1] -> image file bytes in the scheme's colours, paper, light,
    noise and format. ``baseline`` (y, px) and ``digit`` (H, px) place ruled paper's rules."""
    if sc.grain is not None:
        cov = cov * _grain(cov.shape, sc.grain, zlib.crc32(f"{key}|{seed}|grain".encode()))
    a = cov[..., None].astype(np.float32)  # (h, w, 1)
    ink = np.asarray(sc.ink, np.float32)
    if sc.background is None:
        rgba = np.concatenate([np.broadcast_to(ink, a.shape[:2] + (3,)), a * 255], axis=2)
        img = Image.fromarray(np.round(rgba).astype(np.uint8), "RGBA")
    else:
        h, w = cov.shape
        paper = np.broadcast_to(np.asarray(sc.background, np.float32), (h, w, 3))
        rng = np.random.default_rng(zlib.crc32(f"{key}|{seed}".encode()))
        if sc.ruling:
            r = random.Random(f"{key}|{seed}|rules")
            colour = np.asarray(r.choice(sc.rule_ink), np.float32)
            lines = rules(cov.shape, sc, r, baseline, digit or 60.0)[..., None]  # (h, w, 1)
            paper = paper * (1 - lines) + colour * lines
        if sc.lighting:
            yy, xx = np.ogrid[0:h, 0:w]
            cx, cy = rng.uniform(0, 1, 2)  # the light falls off from a random point
            d = np.hypot((xx / w - cx).astype(np.float32), (yy / h - cy).astype(np.float32)) / np.float32(math.sqrt(2))
            paper = paper * (1.0 - np.float32(sc.lighting) * d ** 1.5)[..., None]
        rgb = paper * (1 - a) + ink * a
        if sc.noise:
            rgb = rgb + rng.normal(0, sc.noise, (h, w)).astype(np.float32)[..., None]
        img = Image.fromarray(np.clip(np.round(rgb), 0, 255).astype(np.uint8), "RGB")
    return encode_image(img, sc.format, sc.quality)


def _grain(shape: tuple[int, int], grain: tuple[float, float, float], seed: int) -> np.ndarray:
    """(h, w) float64: a pencil's coverage pixel to pixel: noise blurred over ~a pixel (the paper's tooth),
    scaled to mean and sd, floored, at most 1."""
    mean, sd, floor = grain
    noise = np.random.default_rng(seed).random(shape)
    g = np.asarray(Image.fromarray(np.uint8(noise * 255)).filter(ImageFilter.GaussianBlur(0.7)), np.float64)
    return np.clip((g - g.mean()) / (g.std() + 1e-9) * sd + mean, floor, 1.0)


DESKS = {"dark": (60, 45, 35), "grey": (150, 145, 140), "white": (250, 250, 250)}
DESK_VIEWS = (*DESKS, "turned")


def on_a_desk(image: bytes, how: str, fmt: str = "JPEG", noise: float = 3.0) -> bytes:
    """A photo of a sheet (image file bytes) as if it lay on a desk: a band of desk a twelfth of the
    image's long side all round it (``DESKS``), or the sheet turned 5 degrees on a desk of its
    corner's colour ("turned"); then the camera's noise (gaussian, ``noise`` grey levels, seeded)
    over all of it. Either way the image's edge is desk, not paper."""
    im = Image.open(io.BytesIO(image)).convert("RGB")
    if how == "turned":
        im = im.rotate(5, resample=Image.BICUBIC, expand=True, fillcolor=im.getpixel((0, 0)))
    else:
        im = ImageOps.expand(im, max(im.size) // 12, fill=DESKS[how])
    return _photographed(im, zlib.crc32(image), fmt, noise)


def askew(image: bytes, degrees: float, fmt: str = "JPEG", noise: float = 3.0) -> bytes:
    """A photo of a sheet (image file bytes) as if taken with the phone turned ``degrees`` from
    the sheet's lines: the same frame, the sheet and its rules turned within it, the desk (the
    colour of the photo's corner) in the corners it leaves bare; then the camera's noise
    (gaussian, ``noise`` grey levels, seeded) over all of it."""
    im = Image.open(io.BytesIO(image)).convert("RGB")
    im = im.rotate(degrees, resample=Image.BICUBIC, fillcolor=im.getpixel((0, 0)))
    return _photographed(im, zlib.crc32(image), fmt, noise)


def uphill(image: bytes, degrees: float) -> bytes:
    """A drawing on the page's transparent canvas (PNG bytes) as if written ``degrees`` uphill
    (negative: downhill): turned whole about its centre, the canvas grown to hold it."""
    im = Image.open(io.BytesIO(image)).convert("RGBA")
    return encode_image(im.rotate(degrees, resample=Image.BICUBIC, expand=True), "PNG", 0)


PHONE = (4032, 3024)  # a 12 MP phone camera's frame


def in_a_big_photo(image: bytes, line: int, size: tuple[int, int] = PHONE, seed: int = 0) -> bytes:
    """A drawing on the page's transparent canvas (PNG bytes: its ink is its alpha) as if written
    ``line`` pixels tall on a sheet that a phone photographs whole: a ``size`` JPEG, the ink right of
    the middle, the light falling off across the sheet, the camera's noise. A JPEG that big is
    decoded at a reduced DCT scale (``decode.DRAFT_SIDE``), where such a number is a few pixels."""
    a = np.asarray(Image.open(io.BytesIO(image)).convert("RGBA").getchannel("A"), np.float64) / 255.0
    ys, xs = np.nonzero(a > 0.5)
    a = a[ys.min(): ys.max() + 1, xs.min(): xs.max() + 1]
    w = max(1, round(a.shape[1] * line / a.shape[0]))
    ink = np.asarray(Image.fromarray(np.uint8(np.round(a * 255))).resize((w, line), Image.LANCZOS)) / 255.0
    W, H = size
    yy, xx = np.mgrid[0:H, 0:W]
    sheet = 215 - 40 * ((xx / W - 0.3) ** 2 + (yy / H - 0.7) ** 2)  # (H, W) grey levels
    y0, x0 = H // 3, max(0, min(W // 2, W - w - 50))
    ink = ink[: H - y0, : W - x0]
    sheet[y0: y0 + ink.shape[0], x0: x0 + ink.shape[1]] *= 1 - 0.8 * ink
    rgb = np.stack([sheet, 0.98 * sheet, 0.93 * sheet], -1)
    return _photographed(Image.fromarray(np.clip(np.round(rgb), 0, 255).astype(np.uint8)), seed, "JPEG", 3.0)


def _photographed(im: Image.Image, seed: int, fmt: str, noise: float) -> bytes:
    """The camera's noise (gaussian, ``noise`` grey levels, ``seed``) over ``im``, as ``fmt`` bytes."""
    a = np.asarray(im, np.float32) + np.random.default_rng(seed).normal(0, noise, (im.height, im.width, 1))
    return encode_image(Image.fromarray(np.clip(np.round(a), 0, 255).astype(np.uint8)), fmt, 85)


def in_shadow(image: bytes, depth: float = 0.4, fmt: str = "JPEG", soft: float = 0.0) -> bytes:
    """A photo (image file bytes) with a shadow's edge across it, as a hand or the phone casts
    one: past a line through the middle at a slant of 0.3, the light falls by ``depth``; the edge
    blurred over ~2 px (a hard shadow), or over ``soft`` of the image's width (a soft one)."""
    im = Image.open(io.BytesIO(image)).convert("RGB")
    w, h = im.size
    yy, xx = np.mgrid[0:h, 0:w]
    edge = Image.fromarray((((xx - 0.5 * w) + 0.3 * (yy - h / 2) > 0) * 255).astype(np.uint8))
    blur = ImageFilter.GaussianBlur(max(2.0, soft * w))
    shade = np.asarray(edge.filter(blur), np.float32) / 255.0  # (h, w) in [0, 1]
    a = np.asarray(im, np.float32) * (1.0 - depth * shade)[..., None]
    return encode_image(Image.fromarray(np.clip(np.round(a), 0, 255).astype(np.uint8)), fmt, 85)

"""Preprocessing contract: any accepted image -> the 28x28 MNIST-style input the model reads.

This module owns the normalisation constants and the whole image -> 28x28 path. The server,
the CLI, training data, the notebook, the benchmarks and the tests go through it; the
browser's on-device mode mirrors ``to_mnist`` step by step in JavaScript, and a parity test
holds the two together. That is why every step after decoding is plain numpy (no library
filters): each one is a small, exactly specified array operation that ports to JavaScript
line by line. Where they live: step 1 in ``digitpad.decode``, steps 2-3 in
``digitpad.inkmap``, steps 4-10 in ``digitpad.fit28``; this module runs them in order.

    pre = preprocess_bytes(png_bytes)        # decode + preprocess
    pre.image                                # (28, 28) uint8, white ink on black
    pre.empty                                # True when no ink was found
    preprocess(decode(data), engine)         # the same, from decoded planes, with a chosen engine

Engines (``digitpad.engines``): the numpy code is the reference; the C extension
``digitpad._fastpre`` runs steps 2 and 4-10 bit-identically and several times faster. The
engine is a value passed in (default: C when it is built), never a module global.

``to_mnist`` steps, in order (the JavaScript port follows these numbers). Conventions:
arrays are float64 after step 2; pixel j covers the continuous interval [j, j + 1);
``round(x)`` means floor(x + 0.5); ``percentile(v, q)`` means sorted(v)[floor(q (len(v) - 1))];
constants are the module's UPPER_CASE names.

 1. Gray (``digitpad.decode``). Pillow converts the image to 8-bit "L" (L = (19595 R + 38470 G + 7471 B + 32768)
    >> 16; 16-bit gray is divided by 257 and rounded), or to "LA" when some pixel is not
    fully opaque (alpha kept beside L).
 2. Reduce. k = ceil(max(H, W) / WORK_SIDE) if max(H, W) > WORK_SIDE, else 1. gray and
    A become the exact means of k x k blocks (``block_mean``; blocks cut by the right and
    bottom edges: the mean of the pixels they hold), not rounded. Now gray (h, w) in
    [0, 255] and alpha (h, w) = A / 255, or none.
 3. Ink map (h, w) in [0, 255], ink bright. The ring is the outer band of width
    max(1, min(h, w) // 50).
    a. Transparent background (alpha present and the ring's median alpha < 0.5), e.g. a canvas
       PNG: ink = 255 alpha. Drawn pixels are ink whatever their colour. noise = 0.
    b. Otherwise composite: gray = alpha gray + (1 - alpha) median(ring gray where
       alpha >= 0.5). Background: if the ring is uniform (max - min <= 2), the ring's
       median; else a quadratic surface a + bx + cy + dx^2 + exy + fy^2 (x, y centred and
       divided by max(h, w)) least-squares fitted to a grid of samples (step
       round(sqrt(h w / 4096))) three times, each time on the samples whose residual is
       within max(3 sigma, 3), sigma = 1.4826 median |residual| of the samples kept before
       (the first pass starts from the ring's median and spread). This absorbs uneven light
       in photos. A photo's ring (sigma > 0: not one exact level) is not the paper when more
       than RING_NOT_PAPER of the samples lie further than max(3 sigma, 3) from its median (the
       desk all round a photographed sheet; a digital image's paper is one exact level, however
       much ink there is: a thick brush's digit): the first pass
       starts from the samples' median m instead, sigma = 1.4826 median |g - m| over the
       samples nearer m than the ring's median r; if |r - m| > 3 max(sigma, 1) (two levels
       far apart) the first fit is on those samples alone, else sigma = 1.4826 median |g - m|
       over all samples. d = gray - background. Polarity: with t = max(3 sigma, 4), compare
       S+ = sum(max(d - t, 0)) and S- = sum(max(-d - t, 0)); ink = max(d, 0) if S+ > S-
       (light on dark), else max(-d, 0) (dark on light). noise = sigma.
    c. (Before the polarity test of b.) Sheet edges and the desk: for each sign, the pixels
       with +d > t (resp. -d > t) form a mask; along each image edge (a row or column of n
       pixels), runs of at least ceil(EDGE_RUN n) consecutive mask pixels seed a region that
       grows through the mask by 4-neighbours until it stops. If, outside the regions of both
       signs, at least max(MIN_INK_PIXELS, MIN_INK_SHARE h w) pixels have |d| > max(4 sigma, 10),
       d = 0 in the regions: a photographed sheet's edge or a scanner's border runs along
       the image's edge, a digit does not (one that does, alone, is kept).
    d. (After b's background, before c.) A shadow's hard edge across the sheet: two levels of
       light (``inkmap.two_levels``), for a photo only (sigma > 0). r = max(1,
       round(SHADOW_OPEN min(h, w))). The shade of a mask: E = c's regions of the mask, shade
       = E and dilate(erode(E, r), 2r) (square windows of side 2k + 1, outside the image
       counting as in for erode, out for dilate); none unless it holds SHADOW_SHARE h w
       pixels and dilate(erode(c's regions of (not shade), r), r) SHADOW_LIT h w (the lit
       paper runs along the image's edge too). cut = ``otsu`` of b's samples; the shade of
       gray < cut when at least SHADOW_SHARE of the samples lie below cut and SHADOW_LIT at
       or above it; if none, once more with cut = otsu of the samples >= cut (a crop of much
       ink: the first cut parts ink from paper). Fit a quadratic to the samples in the shade
       (dark) and one to the rest (lit), each as b's passes from its samples' median and
       spread; take the shade of gray < (dark + lit) / 2 and fit both again. None if, over
       the pixels next to the shade (dilate by 1, not in it), the median of lit - dark is
       under SHADOW_STEP max(s, 1), s = max of the fits' sigmas, or the median of dark /
       max(lit, 1) is under SHADOW_KEEPS (ink, not a shadow) or over 1 - SHADOW_FALLS (a dip
       that b's one surface follows). Background: dark in the shade, lit elsewhere, and
       within r of its edge (dilate(shade, r) and not erode(shade, r)) gray clipped to
       [min, max] of the two. gain = lit / max(background, 1) there and in the shade, else
       1; d = (gray - background) gain; sigma = max(s_lit, s_dark median(gain in the
       shade)). Kept only if b's polarity test on this d says dark-on-light and at least
       max(MIN_INK_PIXELS, MIN_INK_SHARE h w) pixels have |d| > max(4 sigma, 10).
       Where no step was kept (``inkmap.relit``): if min(background) >= 1 and min(background)
       / max(background) < 1 - SHADOW_FALLS (a soft shadow, a lamp to one side), gain = median(background)
       / max(background, 1), d = d gain and sigma = sigma median(gain): the ink's contrast
       falls with the light, and is given back.
 4. Soft threshold. floor = max(4 noise, 10); candidates are the pixels with ink > floor.
    Empty if there are fewer than max(MIN_INK_PIXELS, MIN_INK_SHARE h w) of them, or if the
    ink's own contrast c = percentile(candidates, 0.9) is below max(MIN_CONTRAST, 6 noise)
    (blank paper). lo = max(floor, 0.25 c), hi = max(0.75 c, lo + 1);
    v = clip((ink - lo) / (hi - lo), 0, 1): paper grain falls below lo, faint pencil counts
    as much as marker, and the stroke edge stays at c / 2.
 4a. Zoom (only when k > 1 and step 4 found ink). The candidates' bounding box
    [cy0, cy1) x [cx0, cx1), e = max(cy1 - cy0, cx1 - cx0). If e <= ZOOM_SIDE, the digit is
    small in the image: crop the decoded image (the pixels of step 1) to
    [max(0, (cy0 - g) k), min(H, (cy1 + g) k)) x [max(0, (cx0 - g) k), min(W, (cx1 + g) k)),
    g = floor(e / 2) + 2, and run every step from 1 on the crop instead, without step 4a.
    (The crop's own k is usually 1.) A JPEG decoded at a reduced DCT scale (step 1) is decoded
    again for the crop, at the coarsest scale that gives the digit ZOOM_FILE pixels across
    (``Decoded.finer``; a 120 px digit in a 12 MP photo is 15 pixels at 1/8).
 5. Mask m = v >= 0.5. Specks: along rows, then along columns, split the ink profile
    (ink pixels per line) into runs of non-empty lines separated by more than
    max(2, lines // 50) empty ones; while there are several runs, drop the first (then the
    last) if it holds < 2% of the ink. Empty if fewer pixels than in step 4 remain.
 6. Crop v and m to m's bounding box [y0, y1) x [x0, x1); S = max(y1 - y0, x1 - x0);
    w = ``stroke_width(m)`` (pixels, from area and perimeter).
 7. Intermediate. f = INTER_SIDE / S. Area-resample (``resample_area``, rows then columns)
    the cropped v with scale f and offset PAD into (ceil((y1 - y0) INTER_SIDE / S) + 2 PAD)
    x (ceil((x1 - x0) INTER_SIDE / S) + 2 PAD). Binarise at t = min(0.5, 0.4 w f): a
    stroke thinner than one intermediate pixel is fainter after averaging, and the lower
    threshold keeps it connected.
 8. Stroke thickness. On the binary intermediate: w_i = ``stroke_width``, S_i = longest
    side of its bbox, stroke = w_i / S_i. If stroke < STROKE_TARGET the goal is
    STROKE_TARGET, if stroke > STROKE_MAX it is STROKE_MAX, else nothing changes.
    rho = round((goal S_i - w_i) / (2 (1 - goal))) (the bbox grows with the strokes),
    clipped to [-floor(MAX_THIN w_i), PAD - 1]; ``thicken(m, rho)`` grows (rho > 0) or
    shrinks (rho < 0) the strokes by |rho| px with an octagon: a = round(|rho| / 2.414) 3x3
    square steps, then |rho| - a cross steps (logical or / and of the neighbours; outside
    is background). Skipped if shrinking would erase everything.
 9. Fit and centre, as MNIST was built. bbox [by0, by1) x [bx0, bx1) of the binary image;
    s = 20 / max(height, width): the long side becomes exactly 20 px, the short side is
    centred in the 20 px box (box = (20 - extent s) / 2). Centre of mass (cy, cx) of the
    binary image (pixel centres at j + 0.5); per axis, com = (c - b0) s + box and
    shift = round(14.5 - com), clipped to [-box, 28 - box - extent s] so the digit stays in
    the field; offset = shift + box - b0 s. out = area-resample with scale s and that offset
    into 28 rows, then 28 columns.
10. Output: round(255 out) as uint8, (28, 28), white ink on black.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from . import engines, inkmap
from .decode import DEFAULT_MAX_PIXELS, Decoded, decode
from .engines import Engine
from .errors import DigitpadError, InvalidImage, PayloadTooLarge

log = logging.getLogger(__name__)

# MNIST training-set pixel statistics on the [0, 1] scale; stored in every model artifact.
MNIST_MEAN = 0.1307
MNIST_STD = 0.3081

WORK_SIDE = 200  # step 2: images are box-averaged down to at most this many pixels a side
MIN_INK_PIXELS = 4  # steps 4-5: fewer ink pixels than max(this, MIN_INK_SHARE h w) is an empty image
MIN_INK_SHARE = 0.0005
ZOOM_FILE = 48  # step 4a: a reduced JPEG's small digit is decoded again with at least this many pixels across


def normalize(images: np.ndarray) -> np.ndarray:
    """(N, 28, 28) uint8 (white ink on black) -> (N, 1, 28, 28) float32, model input."""
    x = np.asarray(images, dtype=np.float32)
    if x.ndim == 2:
        x = x[None]
    x = x / 255.0
    return ((x - MNIST_MEAN) / MNIST_STD)[:, None, :, :].astype(np.float32)


@dataclass
class Preprocessed:
    """What ``to_mnist`` found. ``image`` is exactly what the model sees."""

    image: np.ndarray  # (28, 28) uint8, white ink on black
    empty: bool  # True when no ink was found (image is then all zeros)
    bbox: tuple[int, int, int, int] | None = None  # ink box (x0, y0, x1, y1) in the file's pixels
    polarity: str = ""  # "alpha" (ink = opaque pixels), "dark-on-light" or "light-on-dark"
    stroke: float = 0.0  # measured stroke width / digit size, before thickness normalisation


def _empty(polarity: str = "") -> Preprocessed:
    return Preprocessed(np.zeros((28, 28), np.uint8), True, None, polarity, 0.0)


def to_mnist(img: Decoded, *, engine: Engine | None = None, normalize_stroke: bool = True,
             zoom: bool = True) -> Preprocessed:
    """Decoded planes -> Preprocessed (28x28 uint8, white ink on black), following the module
    docstring's steps 2-10. ``normalize_stroke=False`` skips step 8 (for measuring the raw
    strokes); ``zoom=False`` skips step 4a (it is how step 4a itself re-reads the crop).
    Unexpected failures are not translated here: ``preprocess`` is the entry that does."""
    engine = engine or engines.default()
    # 2. reduced to working resolution by exact block means.
    H, W = img.shape
    big = max(H, W)
    k = -(-big // WORK_SIDE) if big > WORK_SIDE else 1
    alpha = engine.block_mean(img.alpha, k, 255.0) if img.alpha is not None else None  # (h, w) or None
    h, w = -(-H // k), -(-W // k)
    min_pixels = max(MIN_INK_PIXELS, MIN_INK_SHARE * h * w)

    # 3. ink map, ink bright. (A transparent background decides from alpha alone: then the
    # gray plane is never computed, which is most of a canvas PNG's cost.)
    if alpha is not None and inkmap.median_below(inkmap.ring(alpha), 0.5):
        ink, noise, polarity = np.multiply(alpha, 255.0, out=alpha), 0.0, "alpha"  # (in place: alpha is done)
    else:
        gray = engine.block_mean(img.gray(), k, 1.0)  # (h, w) float64
        ink, noise, polarity = inkmap.ink(gray, alpha, min_pixels)  # (h, w) float64 in [0, 255]

    # 4-10, one function of the ink map.
    res = engine.finish(ink, noise, min_pixels, zoom and k > 1, normalize_stroke)
    if res.kind == "empty":
        return _empty(polarity)
    if res.kind == "zoom":
        # 4a. a digit small in a reduced image (a 50 px digit on an 800 px canvas is 12
        # working pixels, its strokes sub-pixel) is read again from the file's own pixels.
        cy0, cy1, cx0, cx1 = res.box
        extent = max(cy1 - cy0, cx1 - cx0)
        margin = extent // 2 + 2  # working pixels of room for the strokes' faint edges
        top, left = max(0, (cy0 - margin) * k), max(0, (cx0 - margin) * k)
        crop, _ = img.crop_finer(top, min(H, (cy1 + margin) * k), left, min(W, (cx1 + margin) * k),
                                 img.scale * extent * k / ZOOM_FILE)
        pre = to_mnist(crop, engine=engine, normalize_stroke=normalize_stroke, zoom=False)
        if pre.bbox is not None:
            dx, dy = int(left * img.scale), int(top * img.scale)
            pre.bbox = (pre.bbox[0] + dx, pre.bbox[1] + dy, pre.bbox[2] + dx, pre.bbox[3] + dy)
        return pre
    y0, y1, x0, x1 = res.box
    sc = k * img.scale  # file pixels per working pixel
    bbox = (int(x0 * sc), int(y0 * sc), int(math.ceil(x1 * sc)), int(math.ceil(y1 * sc)))
    return Preprocessed(res.image, False, bbox, polarity, res.stroke)


def preprocess(img: Decoded, engine: Engine | None = None) -> Preprocessed:
    """The one entry from decoded planes to the model's input: ``to_mnist`` with every failure
    translated into the error family (a client's image never causes a 500). Raises only
    DigitpadError subclasses."""
    try:
        return to_mnist(img, engine=engine)
    except DigitpadError:
        raise
    except MemoryError as e:
        raise PayloadTooLarge("the image is too large to process") from e
    except Exception as e:  # a bug, or an image we never met: log it, answer 400
        log.exception("preprocessing failed for a %s image of %s pixels", img.format, img.shape)
        raise InvalidImage("the image could not be processed") from e


def preprocess_bytes(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS, engine: Engine | None = None) -> Preprocessed:
    """Image file bytes -> Preprocessed (``decode`` + ``preprocess``). Raises only DigitpadError subclasses."""
    engine = engine or engines.default()
    return preprocess(decode(data, max_pixels=max_pixels, fast_png=engine.fast_png), engine)


def preprocess_box(img: Decoded, box: tuple[int, int, int, int] | list[int], engine: Engine | None = None) -> Preprocessed:
    """One character of a number, from its box (x, y, w, h; file pixels, as ``/api/read`` gives
    it): the box's pixels, alone on clean paper, through ``preprocess``. A margin of a quarter of
    the box's size keeps step 3's ring on paper; in it, a neighbour's ink is painted over with
    the paper (transparent, or the margin's median gray), so only this character is read.
    (H, W) planes -> a (h + 2m, w + 2m) crop -> (28, 28)."""
    H, W = img.shape
    x0, y0, bw, bh = (v / img.scale for v in box)
    x0, y0 = max(0, math.floor(x0)), max(0, math.floor(y0))
    x1, y1 = min(W, math.ceil(x0 + bw)), min(H, math.ceil(y0 + bh))
    if x1 <= x0 or y1 <= y0:
        raise InvalidImage(f"the box {list(box)} is outside the image", code="invalid_boxes")
    m = max(2, max(x1 - x0, y1 - y0) // 4)
    top, bottom, left, right = max(0, y0 - m), min(H, y1 + m), max(0, x0 - m), min(W, x1 + m)
    inside = np.zeros((bottom - top, right - left), bool)
    inside[y0 - top:y1 - top, x0 - left:x1 - left] = True
    gray = img.gray()[top:bottom, left:right].copy()
    alpha = None if img.alpha is None else img.alpha[top:bottom, left:right].copy()
    if alpha is not None:
        alpha[~inside] = 0
    else:
        # The paper is the crop's own margin (its median: a neighbour's ink is a small share), not
        # the image's ring, which on a photo of a sheet lying on a desk is the desk.
        margin = gray[~inside]
        paper = np.median(margin) if margin.size else np.median(inkmap.ring(img.gray()))
        gray[~inside] = np.uint8(round(float(paper)))
    return preprocess(Decoded(img.format, alpha, lambda: gray, img.scale), engine)

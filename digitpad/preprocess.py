"""Preprocessing contract: any accepted image -> the 28x28 MNIST-style input the model reads.

This module owns the normalisation constants and the whole image -> 28x28 path. The server,
the CLI, the notebook, the benchmarks and the tests import it; the browser's on-device mode
mirrors ``to_mnist`` step by step in JavaScript, and a parity test holds the two together.
That is why every step after decoding is plain numpy (no library filters): each one is a
small, exactly specified array operation that ports to JavaScript line by line.

Engines. The numpy code here is the reference. When the optional C extension
``digitpad._fastpre`` is built (``pip install -e .`` compiles ``_fastpre.c``; without a
compiler the install still succeeds), steps 2 and 4-10 run in C instead, bit-identical
(tests/test_preprocess_fast.py) and several times faster. ``ENGINE`` says which one runs
("c" or "numpy"); DIGITPAD_PREPROCESS=numpy, read once at import, forces the numpy code.

    pre = preprocess_bytes(png_bytes)        # decode + to_mnist
    pre.image                                # (28, 28) uint8, white ink on black
    pre.empty                                # True when no ink was found

Decoding (``decode_image``) accepts PNG, JPEG, WebP, BMP and GIF; anything else is
``UnsupportedMediaType`` (415), bytes that do not decode are ``InvalidImage`` (400), and an
image whose header claims more than ``max_pixels`` pixels is ``PayloadTooLarge`` (413),
refused before any pixel is decoded.

``to_mnist`` steps, in order (the JavaScript port follows these numbers). Conventions:
arrays are float64 after step 2; pixel j covers the continuous interval [j, j + 1);
``round(x)`` means floor(x + 0.5); ``percentile(v, q)`` means sorted(v)[floor(q (len(v) - 1))];
constants are the module's UPPER_CASE names.

 1. Gray. Pillow converts the image to 8-bit "L" (L = (19595 R + 38470 G + 7471 B + 32768)
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
       in photos. d = gray - background. Polarity: with t = max(3 sigma, 4), compare
       S+ = sum(max(d - t, 0)) and S- = sum(max(-d - t, 0)); ink = max(d, 0) if S+ > S-
       (light on dark), else max(-d, 0) (dark on light). noise = sigma.
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
    (The crop's own k is usually 1.)
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

import io
import logging
import math
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageOps

from .errors import DigitpadError, InvalidImage, PayloadTooLarge, UnsupportedMediaType

log = logging.getLogger(__name__)

# MNIST training-set pixel statistics on the [0, 1] scale; stored in every model artifact.
MNIST_MEAN = 0.1307
MNIST_STD = 0.3081


def normalize(images: np.ndarray) -> np.ndarray:
    """(N, 28, 28) uint8 (white ink on black) -> (N, 1, 28, 28) float32, model input."""
    x = np.asarray(images, dtype=np.float32)
    if x.ndim == 2:
        x = x[None]
    x = x / 255.0
    return ((x - MNIST_MEAN) / MNIST_STD)[:, None, :, :].astype(np.float32)


DEFAULT_MAX_PIXELS = 40_000_000
ACCEPTED_FORMATS = {"PNG", "JPEG", "WEBP", "BMP", "GIF"}

WORK_SIDE = 200  # step 2: images are box-averaged down to at most this many pixels a side
INTER_SIDE = 80  # step 7: the digit's longest side at the intermediate resolution (4x the 20 px box)
PAD = 8  # step 7: border of the intermediate array, room for thickening (rho <= 0.12 * 80 / 2)
STROKE_TARGET = 0.12  # step 8: thinner strokes are thickened to this share of the digit size (MNIST: median 0.127)
STROKE_MAX = 0.2  # step 8: thicker strokes are thinned to this
MAX_THIN = 0.3  # step 8: shrink strokes by at most this share of their width
MIN_INK_PIXELS = 4  # steps 4-5: fewer ink pixels than max(this, MIN_INK_SHARE h w) is an empty image
MIN_INK_SHARE = 0.0005
MIN_CONTRAST = 16.0  # step 4: ink contrast c below max(this, 6 noise) is an empty image (blank paper)
ZOOM_SIDE = 24  # step 4a: ink spanning at most this many working pixels is re-read from the file's pixels
SCALE_INFO = "digitpad.scale"  # img.info key set by decode_image: file pixels per decoded pixel


@dataclass
class Preprocessed:
    """What ``to_mnist`` found. ``image`` is exactly what the model sees."""

    image: np.ndarray  # (28, 28) uint8, white ink on black
    empty: bool  # True when no ink was found (image is then all zeros)
    bbox: tuple[int, int, int, int] | None = None  # ink box (x0, y0, x1, y1) in the file's pixels
    polarity: str = ""  # "alpha" (ink = opaque pixels), "dark-on-light" or "light-on-dark"
    stroke: float = 0.0  # measured stroke width / digit size, before thickness normalisation


# ------------------------------------------------------------------------------ decoding

# Formats Pillow cannot open, recognised by their first bytes so they get 415, not 400.
_OTHER_SIGNATURES = (
    (b"%PDF-", "PDF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"\x00\x00\x01\x00", "ICO"),
    (b"8BPS", "PSD"),
    (b"\x00\x00\x00\x0cjP  ", "JPEG 2000"),
)


def _sniff_other(data: bytes) -> str | None:
    """Name of a known unsupported format from the first bytes, or None."""
    head = data[:1024]
    for sig, name in _OTHER_SIGNATURES:
        if head.startswith(sig):
            return name
    if head[4:8] == b"ftyp":
        brand = head[8:12].decode("latin-1")
        return "AVIF" if brand.startswith("avi") else "HEIC" if brand.startswith(("hei", "mif", "hev")) else "ISO media"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<svg", b"<?xml", b"<!doctype svg")) or b"<svg" in text:
        return "SVG"
    return None


def _unsupported(name: str) -> UnsupportedMediaType:
    return UnsupportedMediaType(f"{name} images are not supported; send PNG, JPEG, WebP, BMP or GIF",
                                hint="export the drawing as PNG")


def decode_image(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Bytes -> a loaded PIL image (first frame; JPEG EXIF orientation applied).

    The pixel count is checked from the header before any pixel is decoded. Raises
    UnsupportedMediaType (415), InvalidImage (400) or PayloadTooLarge (413), and nothing else.
    """
    try:
        return _decode(bytes(data), max_pixels)
    except DigitpadError:
        raise
    except MemoryError as e:
        raise PayloadTooLarge("the image is too large to decode") from e
    except Exception as e:  # Pillow raises many types (OSError, SyntaxError, ValueError, struct.error...)
        raise InvalidImage("the image is truncated or corrupt", hint="send a complete PNG or JPEG file") from e


def _decode(data: bytes, max_pixels: int) -> Image.Image:
    if not data:
        raise InvalidImage("the image is empty (0 bytes)")
    if _png is not None:  # a canvas PNG in ~0.1 ms; None: Pillow decides, below
        img = _png.read(data, max_pixels)
        if img is not None:
            img.info[SCALE_INFO] = 1.0
            return img
    other = _sniff_other(data)
    if other is not None:
        raise _unsupported(other)
    with warnings.catch_warnings():
        # Pillow warns above its own MAX_IMAGE_PIXELS and raises above twice that; our limit
        # (checked just below) is the one that decides, so the warning is noise.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(data), formats=None)
        except Image.DecompressionBombError as e:
            raise PayloadTooLarge(f"image is over the {max_pixels:,} pixel limit") from e
        except Exception as e:
            raise InvalidImage("the data is not an image we can read",
                               hint="send a PNG, JPEG, WebP, BMP or GIF file") from e
        if img.format not in ACCEPTED_FORMATS and img.format != "MPO":  # MPO: phone JPEGs
            raise _unsupported(img.format or "this kind of")
        w, h = img.size  # from the header: nothing decoded yet
        if w < 1 or h < 1:
            raise InvalidImage(f"the image has no pixels ({w}x{h})")
        if w * h > max_pixels:
            raise PayloadTooLarge(f"image is {w}x{h} = {w * h:,} pixels, over the {max_pixels:,} pixel limit",
                                  hint="send a smaller image")
        scale = 1.0
        if img.format in ("JPEG", "MPO") and max(w, h) > 4 * WORK_SIDE:
            # Decode big photos at a reduced DCT scale (1/2 .. 1/8): much faster, and step 2 of
            # to_mnist would average the detail away anyway.
            img.draft(img.mode, (2 * WORK_SIDE * w // max(w, h), 2 * WORK_SIDE * h // max(w, h)))
            scale = w / img.size[0]
        try:
            img.load()
        except Image.DecompressionBombError as e:
            raise PayloadTooLarge(f"image is over the {max_pixels:,} pixel limit") from e
        except MemoryError:
            raise
        except Exception as e:
            raise InvalidImage("the image is truncated or corrupt", hint="send a complete image file") from e
    fmt = img.format
    try:
        if img.getexif().get(0x0112, 1) != 1:  # EXIF Orientation: how to turn the pixels upright
            img = ImageOps.exif_transpose(img)
    except Exception:  # a malformed EXIF block should not cost the whole image
        log.debug("ignoring unreadable EXIF orientation", exc_info=True)
    img.format = fmt  # (a transposed copy would have lost it)
    img.info[SCALE_INFO] = scale  # file pixels per decoded pixel (JPEG draft), for Preprocessed.bbox
    return img


# ------------------------------------------------------------------------------ array helpers


def round_half_up(x: np.ndarray | float) -> np.ndarray:
    """floor(x + 0.5): the rounding of every step (numpy's round is half-to-even; JS's is this)."""
    return np.floor(np.asarray(x, dtype=np.float64) + 0.5)


def median(v: np.ndarray) -> float:
    """``np.median`` of an array, by the same arithmetic (the mean of the two middle values for
    an even count), without its ~20 us of overhead: on a 28x28 image that overhead alone was a
    tenth of preprocessing."""
    v = np.ravel(v)
    n = v.size
    if n == 0 or v.dtype != np.float64 or np.isnan(v).any():
        return float(np.median(v))  # (empty: nan and a warning; other dtypes; NaN: nan)
    k = n // 2
    if n % 2:
        return float(np.partition(v, k)[k])
    p = np.partition(v, (k - 1, k))
    return float((p[k - 1] + p[k]) / 2)


def percentile(v: np.ndarray, q: float) -> float:
    """sorted(v)[floor(q * (len(v) - 1))]: a nearest-rank percentile with one exact definition."""
    v = np.ravel(v)
    k = int(math.floor(q * (len(v) - 1)))
    return float(np.partition(v, k)[k])


def resample_area(x: np.ndarray, axis: int, n_out: int, scale: float, offset: float) -> np.ndarray:
    """Area (box-filter) resampling of 2-D ``x`` along ``axis`` to ``n_out`` pixels, up or down.

    Input pixel j covers [j, j + 1) and maps to [j * scale + offset, (j + 1) * scale + offset)
    in output coordinates. Output pixel i = the integral of the input over its preimage
    [(i - offset) / scale, (i + 1 - offset) / scale), times scale: a fully covered output
    pixel is the mean of what it covers, and ink outside the input counts as 0. Computed with
    the running integral F(t) = sum(x[:floor t]) + frac(t) x[floor t], so no matrix product
    (and no BLAS thread pool) is involved.
    """
    x = np.asarray(x, dtype=np.float64)
    if axis == 1:
        return resample_area(x.T, 0, n_out, scale, offset).T
    n = x.shape[0]
    csum = np.zeros((n + 1, x.shape[1]))  # (n + 1, m): csum[j] = sum(x[:j])
    np.cumsum(x, axis=0, out=csum[1:])
    t = np.clip((np.arange(n_out + 1, dtype=np.float64) - offset) / scale, 0.0, n)  # (n_out + 1,) edges
    i0 = np.minimum(t.astype(np.intp), n - 1)  # the input pixel each edge falls in
    frac = (t - i0)[:, None]
    integral = csum[i0] + frac * x[i0]  # F(t), (n_out + 1, m)
    return (integral[1:] - integral[:-1]) * scale  # (n_out, m)


def block_mean(x: np.ndarray, k: int, divisor: float = 1.0) -> np.ndarray:
    """(H, W) -> (ceil(H / k), ceil(W / k)) float64: the exact mean of each k x k block
    (blocks cut by the right and bottom edges: the mean of the pixels they hold), then
    divided by ``divisor`` (alpha: 255), in that order."""
    x = np.asarray(x)
    h, w = x.shape
    if ENGINE == "c" and x.dtype == np.uint8:
        out = np.empty((-(-h // k), -(-w // k)))  # (ceil(h / k), ceil(w / k))
        _fastpre.block_mean(x, k, out, float(divisor))  # the same integer sums and divisions
        return out
    if k == 1:
        return np.asarray(x, dtype=np.float64) / divisor
    # 8-bit pixels are summed as integers (exact, so the same as float64 sums, and 2-3x
    # faster: no float copy of the whole image) while the sums fit in int32.
    acc = np.int32 if x.dtype == np.uint8 and k * k * 255 < 2**31 else np.float64
    # Sum k strided slices per axis (much faster in numpy than a reshape-and-sum over a
    # short axis, and no padding, so a 1 x 40,000,000 image costs no more than its pixels).
    rows = np.zeros((-(-h // k), w), acc)  # (ceil(h / k), w): sums of groups of k rows
    for j in range(min(k, h)):
        part = x[j::k]  # rows j, j + k, j + 2k, ...
        rows[: len(part)] += part
    sums = np.zeros((rows.shape[0], -(-w // k)), acc)  # (ceil(h / k), ceil(w / k))
    for j in range(min(k, w)):
        part = rows[:, j::k]
        sums[:, : part.shape[1]] += part
    counts = np.outer(np.minimum(k, h - np.arange(0, h, k)), np.minimum(k, w - np.arange(0, w, k)))
    return sums / counts / divisor


def stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width, in pixels, of a binary (h, w) drawing.

    A stroke of length L and width W has area A = L W and perimeter P = 2 (L + W), so
    W = (P / 2 - sqrt(P^2 / 4 - 4 A)) / 2 (closed loops and end caps included). P is the
    sum over 2x2 cells of the gradient magnitude, which is nearly the same for strokes at
    any angle (a plain edge count would overstate diagonal ones by up to 41%).
    """
    a = float(np.count_nonzero(mask))
    if a == 0:
        return 0.0
    h, w = mask.shape
    m = np.zeros((h + 2, w + 2), np.uint8)
    m[1:-1, 1:-1] = mask
    # Each 2x2 cell is one of 16 patterns (tl + 2 tr + 4 bl + 8 br); its gradient magnitude
    # sqrt(gx^2 + gy^2), gx = (tr + br - tl - bl) / 2, gy = (bl + br - tl - tr) / 2, is 1 for
    # a straight edge (two side-by-side pixels set), sqrt(1/2) for a corner (one or three
    # set) and 0 otherwise. So P = edges + sqrt(1/2) corners, with both counts exact integers:
    # one multiply and one add, the same in C and JavaScript (a dot product over the 16
    # patterns would round in whatever order BLAS sums).
    code = m[:-1, :-1] + 2 * m[:-1, 1:] + 4 * m[1:, :-1] + 8 * m[1:, 1:]  # (h + 1, w + 1)
    counts = np.bincount(code.ravel(), minlength=16)  # (16,) cells per pattern
    p = int(counts[_EDGE_CELLS].sum()) + int(counts[_CORNER_CELLS].sum()) * math.sqrt(0.5)
    return (p / 2 - math.sqrt(max(p * p / 4 - 4 * a, 0.0))) / 2


_EDGE_CELLS = [3, 5, 10, 12]  # tl+tr, tl+bl, tr+br, bl+br: |gradient| = 1
_CORNER_CELLS = [1, 2, 4, 8, 7, 11, 13, 14]  # one or three pixels set: |gradient| = sqrt(1/2)


def _shift_op(mask: np.ndarray, axis: int, shrink: bool) -> np.ndarray:
    """One 3-tap max (min if shrink) along ``axis``; outside the array counts as background."""
    m = mask if axis == 0 else mask.T
    out = m.copy()
    if shrink:
        out[1:] &= m[:-1]
        out[:-1] &= m[1:]
        out[0] = False
        out[-1] = False
    else:
        out[1:] |= m[:-1]
        out[:-1] |= m[1:]
    return out if axis == 0 else out.T


def _grow(mask: np.ndarray, steps: int, cross: bool, shrink: bool) -> np.ndarray:
    """``steps`` binary dilations (erosions if shrink) by a 3x3 square or a 3x3 cross
    (the centre and its 4 neighbours). Outside the array counts as background. (h, w) bool."""
    for _ in range(steps):
        if cross:
            rows, cols = _shift_op(mask, 0, shrink), _shift_op(mask, 1, shrink)
            mask = (rows & cols) if shrink else (rows | cols)
        else:  # separable 3x3 square: along columns, then along rows
            mask = _shift_op(_shift_op(mask, 0, shrink), 1, shrink)
    return mask


def thicken(mask: np.ndarray, rho: int) -> np.ndarray:
    """Grow (rho > 0) or shrink (rho < 0) binary strokes by |rho| px with an octagon, close to a disc.

    A square of radius a then a diamond of radius b reach a + b along the axes and
    (a sqrt 2 + b / sqrt 2) along the diagonals; b = a sqrt 2 makes the two equal.
    """
    n = abs(int(rho))
    if n == 0:
        return mask
    a = int(round_half_up(n / 2.414))
    mask = _grow(mask, a, cross=False, shrink=rho < 0)
    return _grow(mask, n - a, cross=True, shrink=rho < 0)


def _bbox(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """(y0, y1, x0, x1), end-exclusive, of the True pixels; None if there are none."""
    rows = np.flatnonzero(mask.any(axis=1))
    if len(rows) == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def _trim_specks(mask: np.ndarray) -> np.ndarray:
    """Step 5: drop small runs of ink at the ends of the row/column profiles (dust, paper edges)."""
    for axis in (1, 0):  # axis=1 -> profile over rows; axis=0 -> over columns
        prof = mask.sum(axis=axis)  # (h,) or (w,)
        total = prof.sum()
        if total == 0:
            return mask
        gap = max(2, len(prof) // 50)
        runs = []  # [start, end) of non-empty lines, split at gaps of >= gap empty lines
        idx = np.flatnonzero(prof)
        start = prev = int(idx[0])
        for j in idx[1:]:
            if j - prev > gap:
                runs.append((start, prev + 1))
                start = int(j)
            prev = int(j)
        runs.append((start, prev + 1))
        keep = [int(prof[a:b].sum()) for a, b in runs]
        while len(runs) > 1 and keep[0] < 0.02 * total:
            a, b = runs.pop(0)
            keep.pop(0)
            mask = mask.copy()
            if axis == 1:
                mask[a:b] = False
            else:
                mask[:, a:b] = False
        while len(runs) > 1 and keep[-1] < 0.02 * total:
            a, b = runs.pop()
            keep.pop()
            mask = mask.copy()
            if axis == 1:
                mask[a:b] = False
            else:
                mask[:, a:b] = False
    return mask


# ------------------------------------------------------------------------------ steps 1-3


def _gray_image(img: Image.Image) -> Image.Image:
    """Step 1: any PIL image -> mode "L" (opaque) or "LA" (some transparency), 8 bits."""
    mode = img.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        g = np.asarray(img, dtype=np.float64)
        if mode.startswith("I;16") or (mode == "I" and g.max() > 255):
            g = g / 257.0  # 16-bit -> 8-bit scale
        elif mode == "F" and g.max() <= 1.0:
            g = g * 255.0
        return Image.fromarray(np.clip(np.floor(g + 0.5), 0, 255).astype(np.uint8), "L")
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info:
        la = (img if mode == "RGBA" else img.convert("RGBA")).convert("LA")
        return la if la.getextrema()[1][0] < 255 else la.convert("L")
    return img.convert("L")


def _planes(img: Image.Image) -> tuple[Callable[[], np.ndarray], np.ndarray | None]:
    """Step 1 as (a function giving the gray plane, the alpha plane or None), both (H, W)
    uint8. The gray plane is computed only when asked for: a canvas PNG never needs it."""
    if img.mode == "RGBA":  # the browser canvas: read alpha directly (Pillow's L of RGBA = L of LA)
        a = _png.alpha_plane(img) if _png is not None else None  # kept by png.read, or:
        if a is None:
            a = np.asarray(img.getchannel("A"))
        return (lambda: np.asarray(img.convert("L"))), (a if int(a.min()) < 255 else None)
    arr = _png.pixels(img) if _png is not None and img.mode in ("L", "LA") else None  # png.read's, or:
    if arr is None:
        arr = np.asarray(_gray_image(img))  # (H, W) or (H, W, 2)
    elif arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim == 3:
        return (lambda: arr[..., 0]), arr[..., 1]
    return (lambda: arr), None


def _ring(x: np.ndarray) -> np.ndarray:
    """The outer band of width max(1, min(h, w) // 50), flattened."""
    h, w = x.shape
    b = max(1, min(h, w) // 50)
    if 2 * b >= min(h, w):
        return x.ravel()
    return np.concatenate([x[:b].ravel(), x[-b:].ravel(), x[b:-b, :b].ravel(), x[b:-b, -b:].ravel()])


def _median_below(v: np.ndarray, t: float) -> bool:
    """np.median(v) < t, usually decided by counting (a canvas's ring is all 0 or all 1)."""
    below, half = int(np.count_nonzero(v < t)), len(v) // 2
    if below > half:  # both middle values (one when len(v) is odd) are below t
        return True
    if len(v) - below > half:  # (v >= t or NaN) the middle values are not below t
        return False
    return median(v) < t


def _background(gray: np.ndarray) -> tuple[np.ndarray | float, float]:
    """Step 3b: smooth background estimate (scalar or (h, w)) and the noise sigma."""
    ring = _ring(gray)
    bg = median(ring)
    if float(ring.max() - ring.min()) <= 2.0:
        return bg, 0.0
    h, w = gray.shape
    st = max(1, int(round_half_up(math.sqrt(h * w / 4096.0))))  # sample grid: <= ~4096 points
    ys, xs = np.mgrid[0:h:st, 0:w:st]
    g = gray[ys, xs].ravel()  # (n,)
    side = float(max(h, w))
    x = ((xs.ravel() + 0.5) - w / 2) / side  # centred, in [-0.5, 0.5]
    y = ((ys.ravel() + 0.5) - h / 2) / side
    X = np.stack([np.ones_like(x), x, y, x * x, x * y, y * y], axis=1)  # (n, 6)
    sigma = 1.4826 * median(np.abs(ring - bg))
    resid = g - bg
    beta = np.array([bg, 0, 0, 0, 0, 0], np.float64)
    for _ in range(3):
        keep = np.abs(resid) <= max(3 * sigma, 3.0)
        if keep.sum() < 12:
            break
        Xk = X[keep]
        beta = np.linalg.solve(Xk.T @ Xk + 1e-9 * np.eye(6), Xk.T @ g[keep])
        resid = g - X @ beta
        sigma = 1.4826 * median(np.abs(resid[keep]))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    xx = (xx + 0.5 - w / 2) / side
    yy = (yy + 0.5 - h / 2) / side
    b = beta
    surface = b[0] + b[1] * xx + b[2] * yy + b[3] * xx * xx + b[4] * xx * yy + b[5] * yy * yy  # (h, w)
    return surface, sigma


def _ink(gray: np.ndarray, alpha: np.ndarray | None) -> tuple[np.ndarray, float, str]:
    """Step 3b (3a, a transparent background, is decided in ``to_mnist`` before ``gray`` is
    computed): (h, w) ink map in [0, 255] (ink bright), noise sigma, polarity."""
    if alpha is not None:
        ring_g, ring_a = _ring(gray), _ring(alpha)
        paper = median(ring_g[ring_a >= 0.5])
        gray = alpha * gray + (1.0 - alpha) * paper
    bg, sigma = _background(gray)
    d = gray - bg  # (h, w) signed deviation from the background
    t = max(3 * sigma, 4.0)
    # (np.maximum, not np.clip: the same values, without clip's Python-level overhead)
    s_pos = float(np.maximum(d - t, 0.0).sum())
    s_neg = float(np.maximum(-d - t, 0.0).sum())
    if s_pos > s_neg:
        return np.maximum(d, 0.0), sigma, "light-on-dark"
    return np.maximum(-d, 0.0), sigma, "dark-on-light"


# ------------------------------------------------------------------------------ to_mnist


def _empty(polarity: str = "") -> Preprocessed:
    return Preprocessed(np.zeros((28, 28), np.uint8), True, None, polarity, 0.0)


class _Finished(NamedTuple):
    """What steps 4-10 made of an ink map (``_finish_numpy`` and the C twin ``_fastpre.finish``)."""

    kind: str  # "empty"; "zoom" (step 4a: re-read box); "done"
    box: tuple[int, int, int, int] | None = None  # zoom: candidates' (cy0, cy1, cx0, cx1); done: ink (y0, y1, x0, x1)
    image: np.ndarray | None = None  # done: (28, 28) uint8
    stroke: float = 0.0  # done: stroke width / digit size before step 8


def to_mnist(img: Image.Image, *, normalize_stroke: bool = True, zoom: bool = True) -> Preprocessed:
    """A decoded image -> Preprocessed (28x28 uint8, white ink on black), following the module
    docstring's steps. ``normalize_stroke=False`` skips step 8 (for measuring the raw strokes);
    ``zoom=False`` skips step 4a (it is how step 4a itself re-reads the crop)."""
    # 1-2. 8-bit gray (+ alpha), reduced to working resolution by exact block means.
    gray_plane, alpha_plane = _planes(img)  # () -> (H, W) uint8, and (H, W) uint8 or None
    big = max(img.size)
    k = -(-big // WORK_SIDE) if big > WORK_SIDE else 1
    alpha = block_mean(alpha_plane, k, 255.0) if alpha_plane is not None else None  # (h, w) or None

    # 3. ink map, ink bright. (A transparent background decides from alpha alone: then the
    # gray plane is never computed, which is most of a canvas PNG's cost.)
    if alpha is not None and _median_below(_ring(alpha), 0.5):
        ink, noise, polarity = np.multiply(alpha, 255.0, out=alpha), 0.0, "alpha"  # (in place: alpha is done)
    else:
        gray = block_mean(gray_plane(), k)  # (h, w) float64
        ink, noise, polarity = _ink(gray, alpha)  # (h, w) float64 in [0, 255]
    min_pixels = max(MIN_INK_PIXELS, MIN_INK_SHARE * ink.size)

    # 4-10, one function of the ink map (in C when the extension is built).
    finish = _finish_c if ENGINE == "c" else _finish_numpy
    res = finish(ink, noise, min_pixels, zoom and k > 1, normalize_stroke)
    if res.kind == "empty":
        return _empty(polarity)
    if res.kind == "zoom":
        # 4a. a digit small in a reduced image (a 50 px digit on an 800 px canvas is 12
        # working pixels, its strokes sub-pixel) is read again from the file's own pixels.
        cy0, cy1, cx0, cx1 = res.box
        extent = max(cy1 - cy0, cx1 - cx0)
        margin = extent // 2 + 2  # working pixels of room for the strokes' faint edges
        H, W = img.height, img.width
        box = (max(0, (cx0 - margin) * k), max(0, (cy0 - margin) * k),
               min(W, (cx1 + margin) * k), min(H, (cy1 + margin) * k))  # (left, top, right, bottom)
        part = img.crop(box)
        part.info[SCALE_INFO] = img.info.get(SCALE_INFO, 1.0)
        pre = to_mnist(part, normalize_stroke=normalize_stroke, zoom=False)
        if pre.bbox is not None:
            sc = float(img.info.get(SCALE_INFO, 1.0))
            dx, dy = int(box[0] * sc), int(box[1] * sc)
            pre.bbox = (pre.bbox[0] + dx, pre.bbox[1] + dy, pre.bbox[2] + dx, pre.bbox[3] + dy)
        return pre
    y0, y1, x0, x1 = res.box
    sc = k * float(img.info.get(SCALE_INFO, 1.0))  # file pixels per working pixel
    bbox = (int(x0 * sc), int(y0 * sc), int(math.ceil(x1 * sc)), int(math.ceil(y1 * sc)))
    return Preprocessed(res.image, False, bbox, polarity, res.stroke)


def _finish_numpy(ink: np.ndarray, noise: float, min_pixels: float, zoom: bool, normalize_stroke: bool) -> _Finished:
    """Steps 4-10 on the (h, w) float64 ink map: the readable reference (``_fastpre.finish``
    is its C twin, and the tests hold the two to identical results). ``zoom``: step 4a may
    ask for a re-read (only when the image was reduced, k > 1)."""
    # 4. soft threshold relative to the ink's own contrast.
    floor = max(4 * noise, 10.0)
    inked = ink > floor  # (h, w) bool: the candidates
    cand = ink[inked]
    if cand.size < min_pixels:
        return _Finished("empty")
    c = percentile(cand, 0.9)
    if c < max(MIN_CONTRAST, 6 * noise):
        return _Finished("empty")

    # 4a. zoom: a digit that spans few working pixels; to_mnist re-reads its box.
    if zoom:
        cy0, cy1, cx0, cx1 = _bbox(inked)
        if max(cy1 - cy0, cx1 - cx0) <= ZOOM_SIDE:
            return _Finished("zoom", (cy0, cy1, cx0, cx1))
    lo = max(floor, 0.25 * c)
    hi = max(0.75 * c, lo + 1.0)
    v = np.clip((ink - lo) / (hi - lo), 0.0, 1.0)  # (h, w) in [0, 1]

    # 5. binary mask without edge specks.
    mask = _trim_specks(v >= 0.5)
    if int(mask.sum()) < min_pixels:
        return _Finished("empty")
    y0, y1, x0, x1 = _bbox(mask)  # dropped specks lie outside this box, by construction

    # 6. crop; stroke width at working resolution.
    crop = v[y0:y1, x0:x1]  # (hc, wc)
    hc, wc = crop.shape
    side = max(hc, wc)
    w_work = stroke_width(mask[y0:y1, x0:x1])

    # 7. intermediate: longest side INTER_SIDE, PAD px of room around, binarised.
    f = INTER_SIDE / side
    soft = resample_area(crop, 0, -(-hc * INTER_SIDE // side) + 2 * PAD, f, PAD)  # (hi, wc)
    soft = resample_area(soft, 1, -(-wc * INTER_SIDE // side) + 2 * PAD, f, PAD)  # (hi, wi)
    t = min(0.5, 0.4 * w_work * f)
    m = soft >= t  # (hi, wi) bool
    w_i = stroke_width(m)
    bb = _bbox(m)
    if bb is None:  # not seen in practice; both engines fail the same way
        raise ValueError("no ink left at the intermediate resolution")
    by0, by1, bx0, bx1 = bb
    side_i = max(by1 - by0, bx1 - bx0)
    stroke = w_i / side_i

    # 8. stroke thickness -> STROKE_TARGET of the digit's size.
    if normalize_stroke and (stroke < STROKE_TARGET or stroke > STROKE_MAX):
        goal = STROKE_TARGET if stroke < STROKE_TARGET else STROKE_MAX
        rho = int(round_half_up((goal * side_i - w_i) / (2 * (1 - goal))))
        rho = max(-int(MAX_THIN * w_i), min(PAD - 1, rho))
        if rho != 0:
            grown = thicken(m, rho)
            if grown.any():
                m = grown

    # 9. fit the long side to 20 px, centre the short side in the 20 px box, then move the
    # box by whole pixels to put the centre of mass on 14.5, as MNIST was built.
    by0, by1, bx0, bx1 = _bbox(m)
    bh, bw = by1 - by0, bx1 - bx0
    s = 20.0 / max(bh, bw)
    mf = m.astype(np.float64)
    # Sums of integers and halves, exact in any order (so C may sum them its own way).
    mass = float(mf.sum())
    cy = float((mf.sum(axis=1) * (np.arange(m.shape[0]) + 0.5)).sum()) / mass  # centre of mass,
    cx = float((mf.sum(axis=0) * (np.arange(m.shape[1]) + 0.5)).sum()) / mass  # continuous coords
    offsets = []
    for c0, extent, cm in ((by0, bh, cy), (bx0, bw, cx)):
        box = (20.0 - extent * s) / 2  # where the digit starts inside the 20 px box
        com = (cm - c0) * s + box  # centre of mass inside the 20 px box
        shift = float(round_half_up(14.5 - com))  # box origin in the 28 px field
        shift = min(max(shift, -box), 28.0 - box - extent * s)  # keep the digit inside
        offsets.append(shift + box - c0 * s)  # out = in * s + offset
    oy, ox = offsets
    out = resample_area(resample_area(mf, 0, 28, s, oy), 1, 28, s, ox)  # (28, 28) in [0, 1]

    # 10. uint8, white ink on black.
    image = np.clip(round_half_up(out * 255.0), 0, 255).astype(np.uint8)
    return _Finished("done", (y0, y1, x0, x1), image, float(stroke))


_KINDS = ("empty", "zoom", "done")


def _finish_c(ink: np.ndarray, noise: float, min_pixels: float, zoom: bool, normalize_stroke: bool) -> _Finished:
    """``_finish_numpy`` computed by the C extension, bit for bit."""
    image = np.empty((28, 28), np.uint8)
    kind, y0, y1, x0, x1, stroke = _fastpre.finish(np.ascontiguousarray(ink, dtype=np.float64), float(noise),
                                                   float(min_pixels), bool(zoom), bool(normalize_stroke), image)
    if kind == 3:
        raise ValueError("no ink left at the intermediate resolution")
    name = _KINDS[kind]
    return _Finished(name, (y0, y1, x0, x1) if name != "empty" else None, image if name == "done" else None, stroke)


def preprocess_bytes(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> Preprocessed:
    """Image file bytes -> Preprocessed. Raises only DigitpadError subclasses."""
    img = decode_image(data, max_pixels=max_pixels)
    try:
        return to_mnist(img)
    except DigitpadError:
        raise
    except MemoryError as e:
        raise PayloadTooLarge("the image is too large to process") from e
    except Exception as e:  # a bug, or an image mode we never met: log it, answer 400
        log.exception("preprocessing failed for a %s %s %sx%s image", img.format, img.mode, img.width, img.height)
        raise InvalidImage("the image could not be processed") from e


# ------------------------------------------------------------------------------ engine


def _load_fastpre():
    """The C extension ``digitpad._fastpre`` (built by ``pip install``, optional), or None when
    it is missing, was built from other constants, or DIGITPAD_PREPROCESS=numpy asks for numpy."""
    if os.environ.get("DIGITPAD_PREPROCESS", "").strip().lower() == "numpy":
        return None
    try:
        from . import _fastpre as ext
    except ImportError:
        return None
    ours = {"INTER_SIDE": INTER_SIDE, "PAD": PAD, "STROKE_TARGET": STROKE_TARGET, "STROKE_MAX": STROKE_MAX,
            "MAX_THIN": MAX_THIN, "MIN_CONTRAST": MIN_CONTRAST, "ZOOM_SIDE": ZOOM_SIDE}
    if ext.CONSTANTS != ours:  # a stale build: rebuild with `pip install -e .`
        log.warning("digitpad._fastpre was built with other constants (%s); using numpy", ext.CONSTANTS)
        return None
    return ext


def _load_png() -> ModuleType | None:
    """``digitpad.png`` (plain PNGs without Pillow's overhead) when the C engine runs, else None:
    the numpy reference decodes every image with Pillow."""
    if _fastpre is None:
        return None
    try:
        from . import png
    except ImportError:  # _fastpng not built
        return None
    return png


def engine_description() -> str:
    """One line for ``digitpad info`` and the server's startup log: which code preprocesses."""
    if ENGINE != "c":
        return ("numpy, ~3x slower with the same results (DIGITPAD_PREPROCESS=numpy, or the C extensions are "
                "not built: install a C compiler and re-run `pip install -e .`)")
    if _png is None:
        return "C extension digitpad._fastpre; PNGs decoded by Pillow (digitpad._fastpng is not built)"
    return f"C extension digitpad._fastpre; plain PNGs read by digitpad.png ({_png.INFLATE} + digitpad._fastpng)"


_fastpre = _load_fastpre()
ENGINE = "c" if _fastpre is not None else "numpy"  # which engine runs steps 2 and 4-10, read once at import
_png = _load_png()

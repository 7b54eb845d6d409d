"""The one place that reads an image: file bytes -> ``Decoded``, plain 8-bit planes.

    img = decode(data, max_pixels=16_000_000)   # UnsupportedMediaType / InvalidImage / PayloadTooLarge
    img.alpha                                    # (H, W) uint8, or None when every pixel is opaque
    img.gray()                                   # (H, W) uint8, computed on first use

This is step 1 of the preprocessing contract (``digitpad.preprocess``): PNG, JPEG (EXIF
orientation applied; big photos decoded at a reduced DCT scale, and again finer where
their ink is small: ``Decoded.finer``), WebP, BMP and GIF (first
frame), converted to 8-bit gray plus an alpha plane when some pixel is not fully opaque. The
gray of a canvas with a transparent background is never needed (its ink is its alpha), so it
is computed only when asked for. Plain canvas PNGs are read by ``digitpad.png`` when
``fast_png`` is on (~0.1 ms against Pillow's ~0.5 ms); every other file, and every file that
reader declines, is Pillow's, so errors are Pillow's path's.

Anything else is ``UnsupportedMediaType`` (415), bytes that do not decode are ``InvalidImage``
(400), and an image whose header claims more than ``max_pixels`` pixels is ``PayloadTooLarge``
(413), refused before any pixel is decoded.
"""

from __future__ import annotations

import io
import logging
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageOps

from . import png
from .errors import DigitpadError, InvalidImage, PayloadTooLarge, UnsupportedMediaType

log = logging.getLogger(__name__)

DEFAULT_MAX_PIXELS = 40_000_000
ACCEPTED_FORMATS = {"PNG", "JPEG", "WEBP", "BMP", "GIF"}
MIME = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "BMP": "image/bmp", "GIF": "image/gif"}
DRAFT_SIDE = 400  # JPEGs over twice this a side decode at a reduced DCT scale (preprocessing works at 200)

# Formats Pillow cannot open, recognised by their first bytes so they get 415, not 400.
_OTHER_SIGNATURES = (
    (b"%PDF-", "PDF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"\x00\x00\x01\x00", "ICO"),
    (b"8BPS", "PSD"),
    (b"\x00\x00\x00\x0cjP  ", "JPEG 2000"),
)


@dataclass(eq=False)
class Decoded:
    """A decoded image as 8-bit planes (step 1 of preprocessing)."""

    format: str  # "PNG", "JPEG", "WEBP", "BMP" or "GIF"
    alpha: np.ndarray | None  # (H, W) uint8; None when every pixel is opaque
    make_gray: Callable[[], np.ndarray] = field(repr=False)  # () -> (H, W) uint8
    scale: float = 1.0  # file pixels per decoded pixel (a JPEG decoded at a reduced scale)
    # A JPEG decoded at a reduced scale: (s) -> the same file decoded again at the coarsest DCT scale
    # with at most s file pixels per decoded pixel (a number small in a big photo); None: full scale.
    finer: Callable[[float], Decoded] | None = field(default=None, repr=False)
    _gray: np.ndarray | None = field(default=None, repr=False)

    def gray(self) -> np.ndarray:
        """(H, W) uint8: L = (19595 R + 38470 G + 7471 B + 32768) >> 16, Pillow's conversion."""
        if self._gray is None:
            self._gray = self.make_gray()
        return self._gray

    @property
    def shape(self) -> tuple[int, int]:
        """(H, W) of the planes."""
        return self.alpha.shape if self.alpha is not None else self.gray().shape

    @property
    def mime(self) -> str:
        return MIME.get(self.format, "application/octet-stream")

    def crop(self, top: int, bottom: int, left: int, right: int) -> Decoded:
        """The planes' rows [top, bottom) and columns [left, right) (step 4a re-reads a small digit
        from them); the alpha plane is dropped when the crop is all opaque, as for a whole image."""
        alpha = self.alpha[top:bottom, left:right] if self.alpha is not None else None
        if alpha is not None and int(alpha.min()) == 255:
            alpha = None
        return Decoded(self.format, alpha, lambda: self.gray()[top:bottom, left:right], self.scale)

    def crop_finer(self, top: int, bottom: int, left: int, right: int, s: float) -> tuple[Decoded, int]:
        """``crop`` (bounds in these planes' pixels) of the file decoded again with at most ``s`` file
        pixels per decoded pixel where that is finer than these (``finer``), and r, the crop's pixels
        per pixel of these planes (1: these planes' own crop)."""
        src = self if self.finer is None or s >= self.scale else self.finer(s)
        r = round(self.scale / src.scale)
        h, w = src.shape
        return src.crop(top * r, min(h, bottom * r), left * r, min(w, right * r)), r


def claimed_pixels(data: bytes) -> int:
    """Width x height that the file's header claims, nothing decoded (0 when it cannot be read:
    the real decode then fails fast with the right error)."""
    wh = png.size(data)
    if wh is not None:
        return wh[0] * wh[1]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as img:
                return img.width * img.height
    except Exception:
        return 0


def decode(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS, fast_png: bool = True) -> Decoded:
    """File bytes -> Decoded. Raises UnsupportedMediaType (415), InvalidImage (400) or
    PayloadTooLarge (413), and nothing else."""
    try:
        return _decode(bytes(data), max_pixels, fast_png)
    except DigitpadError:
        raise
    except MemoryError as e:
        raise PayloadTooLarge("the image is too large to decode") from e
    except Exception as e:  # Pillow raises many types (OSError, SyntaxError, ValueError, struct.error...)
        raise InvalidImage("the image is truncated or corrupt", hint="send a complete PNG or JPEG file") from e


def _decode(data: bytes, max_pixels: int, fast_png: bool, draft_side: int = DRAFT_SIDE) -> Decoded:
    if not data:
        raise InvalidImage("the image is empty (0 bytes)")
    if fast_png:
        px = png.read(data, max_pixels)  # a canvas PNG in ~0.1 ms; None: Pillow decides, below
        if px is not None:
            return _from_png(px)
    img = _open(data, max_pixels, draft_side)
    out = _planes(img, img.format, img.info.get("digitpad.scale", 1.0))
    if out.scale > 1:
        side = max(img.size) * out.scale  # the file's long side (EXIF-turned like the planes)
        out.finer = lambda s: _decode(data, max_pixels, False, _draft_side(side, s))
    return out


def _from_png(px: png.Pixels) -> Decoded:
    """Step 1 on what ``png.read`` decoded: the same planes Pillow's conversions give."""
    h, w, _ = px.pixels.shape
    if px.mode == "RGBA":  # the browser canvas: its gray only if the background is not transparent
        rgba = px.pixels
        gray = lambda: np.asarray(Image.frombuffer("RGBA", (w, h), rgba, "raw", "RGBA", 0, 1).convert("L"))  # noqa: E731
    elif px.mode == "RGB":
        rgb = px.pixels
        gray = lambda: np.asarray(Image.frombuffer("RGB", (w, h), rgb, "raw", "RGB", 0, 1).convert("L"))  # noqa: E731
    else:  # "L" or "LA": the gray plane is the first channel
        plane = px.pixels[..., 0]
        gray = lambda: plane  # noqa: E731
    alpha = px.alpha if px.alpha is not None and int(px.alpha.min()) < 255 else None
    return Decoded("PNG", alpha, gray)


def _draft_side(side: float, s: float) -> int:
    """The ``draft_side`` that decodes a JPEG of long side ``side`` at 1/f, f the largest power of
    two <= s (at most 8, the coarsest DCT scale): Pillow's draft takes the coarsest scale at least
    that long, and drafts only over twice it."""
    f = 2 ** min(3, int(math.log2(max(1.0, s))))
    return int(side) if f == 1 else math.ceil(side / f) - 1


def _open(data: bytes, max_pixels: int, draft_side: int = DRAFT_SIDE) -> Image.Image:
    """Pillow: check the format and the pixel count from the header, then decode."""
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
        fmt = "JPEG" if img.format == "MPO" else img.format  # MPO: phone JPEGs
        if fmt not in ACCEPTED_FORMATS:
            raise _unsupported(img.format or "this kind of")
        w, h = img.size  # from the header: nothing decoded yet
        if w < 1 or h < 1:
            raise InvalidImage(f"the image has no pixels ({w}x{h})")
        if w * h > max_pixels:
            raise PayloadTooLarge(f"image is {w}x{h} = {w * h:,} pixels, over the {max_pixels:,} pixel limit",
                                  hint="send a smaller image")
        scale = 1.0
        if fmt == "JPEG" and max(w, h) > 2 * draft_side:
            # Decode big photos at a reduced DCT scale (1/2 .. 1/8): much faster, and step 2 of
            # preprocessing would average the detail away anyway.
            # (a side of at least 1: Pillow divides by it, and a 1x801 strip asked for 0x400)
            img.draft(img.mode, (max(1, draft_side * w // max(w, h)), max(1, draft_side * h // max(w, h))))
            scale = w / img.size[0]
        try:
            img.load()
        except Image.DecompressionBombError as e:
            raise PayloadTooLarge(f"image is over the {max_pixels:,} pixel limit") from e
        except MemoryError:
            raise
        except Exception as e:
            raise InvalidImage("the image is truncated or corrupt", hint="send a complete image file") from e
    try:
        if img.getexif().get(0x0112, 1) != 1:  # EXIF Orientation: how to turn the pixels upright
            img = ImageOps.exif_transpose(img)
    except Exception:  # a malformed EXIF block should not cost the whole image
        log.debug("ignoring unreadable EXIF orientation", exc_info=True)
    img.format = fmt  # (a transposed copy would have lost it)
    img.info["digitpad.scale"] = scale
    return img


def _planes(img: Image.Image, fmt: str, scale: float) -> Decoded:
    """Step 1 with Pillow: any mode -> 8-bit gray (+ alpha when some pixel is not fully opaque)."""
    mode = img.mode
    if mode == "RGBA":  # read alpha directly (Pillow's L of RGBA = L of its LA)
        alpha = np.asarray(img.getchannel("A"))
        return Decoded(fmt, alpha if int(alpha.min()) < 255 else None, lambda: np.asarray(img.convert("L")), scale)
    if mode.startswith("I;16") or mode in ("I", "F"):
        g = np.asarray(img, dtype=np.float64)
        if mode.startswith("I;16") or (mode == "I" and g.max() > 255):
            g = g / 257.0  # 16-bit -> 8-bit scale
        elif mode == "F" and g.max() <= 1.0:
            g = g * 255.0
        gray = np.clip(np.floor(g + 0.5), 0, 255).astype(np.uint8)
        return Decoded(fmt, None, lambda: gray, scale)
    if mode in ("LA", "PA", "RGBa", "La") or "transparency" in img.info:
        la = np.asarray(img.convert("RGBA").convert("LA"))  # (H, W, 2)
        alpha = la[..., 1]
        return Decoded(fmt, alpha if int(alpha.min()) < 255 else None, lambda: la[..., 0], scale)
    gray = np.asarray(img.convert("L"))
    return Decoded(fmt, None, lambda: gray, scale)


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

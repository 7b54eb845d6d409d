"""A fast reader for the plain PNGs that canvases write: 8-bit gray, RGB, gray+alpha or RGBA,
not interlaced, no palette, no transparency chunk, no EXIF.

Why: Pillow spends ~0.45 ms opening and loading a 280x280 RGBA canvas PNG, of which
inflating the pixels is ~0.06 ms with zlib-ng; the rest is per-image overhead in its chunk
reader and decoder. Here the chunks are walked in Python (a canvas PNG has three or four),
the IDAT stream is inflated by zlib-ng (``zlib-ng`` on PyPI; the standard zlib if it is
missing) and the rows are unfiltered by the C extension ``digitpad._fastpng``: ~0.1 ms.

``read`` returns None for anything it does not handle *exactly* as Pillow would: another
PNG kind, a bad CRC, a missing IEND, a stream that does not inflate to exactly the expected
bytes, a filter type above 4, an image over ``max_pixels``. The caller (``preprocess.decode_image``)
then lets Pillow decide, so errors and their messages are Pillow's path's, unchanged. The
pixels of an image read here are the ones Pillow reads (tests/test_png.py holds them equal on
every filter type and kind).
"""

from __future__ import annotations

import struct

import numpy as np
from PIL import Image

from . import _fastpng  # ImportError without the C extension: preprocess then never calls read()

try:
    from zlib_ng import zlib_ng as _zlib  # ~4x faster inflate than the standard zlib

    INFLATE = "zlib-ng"
except ImportError:  # pragma: no cover - zlib-ng is a dependency; this keeps a broken wheel harmless
    import zlib as _zlib

    INFLATE = "zlib"

SIGNATURE = b"\x89PNG\r\n\x1a\n"

# color type -> (Pillow mode, bytes per pixel), bit depth 8 only
_KINDS = {0: ("L", 1), 2: ("RGB", 3), 4: ("LA", 2), 6: ("RGBA", 4)}

# Ancillary chunks that change nothing Pillow's pixels or orientation depend on. Any other
# chunk (tRNS, PLTE, eXIf, text that may hold EXIF, APNG's acTL...) sends the file to Pillow.
_HARMLESS = frozenset({b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"pHYs", b"sBIT", b"bKGD", b"tIME"})

_MAX_CHUNKS = 4096
_HEAD = struct.Struct(">I4s")  # chunk length, chunk type
_IHDR = struct.Struct(">IIBBBBB")  # width, height, bit depth, color type, compression, filter, interlace


def read(data: bytes, max_pixels: int) -> Image.Image | None:
    """PNG bytes -> a loaded PIL image (format "PNG"), or None: Pillow should read this one."""
    if not data.startswith(SIGNATURE):
        return None
    view = memoryview(data)
    pos, end = 8, len(data)
    header = None
    idat: list[memoryview] = []
    idat_end = 0
    for _ in range(_MAX_CHUNKS):
        if pos + 12 > end:
            return None  # truncated: no IEND
        length, kind = _HEAD.unpack_from(data, pos)
        body_end = pos + 8 + length
        if body_end + 4 > end:
            return None
        if _zlib.crc32(view[pos + 4:body_end]) != struct.unpack_from(">I", data, body_end)[0]:
            return None
        if header is None:
            if kind != b"IHDR" or length != _IHDR.size:
                return None
            header = _IHDR.unpack_from(data, pos + 8)
        elif kind == b"IDAT":
            if idat and idat_end != pos:  # IDAT chunks must be consecutive
                return None
            idat.append(view[pos + 8:body_end])
            idat_end = body_end + 4
        elif kind == b"IEND":
            break
        elif kind not in _HARMLESS:
            return None
        pos = body_end + 4
    else:  # thousands of tiny chunks: not a canvas; bounds the time this Python loop can take
        return None

    width, height, depth, color, compression, filtering, interlace = header
    if (depth != 8 or color not in _KINDS or compression or filtering or interlace or not idat
            or width < 1 or height < 1 or width * height > max_pixels):
        return None
    mode, bpp = _KINDS[color]
    row = width * bpp
    expected = height * (row + 1)  # each row: a filter-type byte, then its pixels
    inflater = _zlib.decompressobj()
    try:
        # max_length: a stream that would inflate past the image's size stops there (no bomb).
        raw = inflater.decompress(b"".join(idat) if len(idat) > 1 else idat[0], expected + 1)
    except _zlib.error:
        return None
    if len(raw) != expected or not inflater.eof or inflater.unused_data:
        return None
    pixels = np.empty(height * row, np.uint8)  # (not zero-filled: every byte is written)
    alpha = np.empty((height, width), np.uint8) if mode in ("LA", "RGBA") else None
    try:
        if alpha is None:
            _fastpng.unfilter(raw, height, row, bpp, pixels)
        else:
            _fastpng.unfilter(raw, height, row, bpp, pixels, alpha)
    except ValueError:  # a filter type above 4
        return None
    # "L" and "RGBA" share the buffer; "RGB" and "LA" are copied into Pillow's own layout.
    img = Image.frombuffer(mode, (width, height), pixels, "raw", mode, 0, 1)
    img.format = "PNG"
    # Attributes of this object only: images derived from it (crop, convert...) are new Image
    # objects without them, so these arrays can never be read for pixels they do not match.
    setattr(img, _PIXELS, pixels.reshape(height, width, bpp))
    if alpha is not None:
        setattr(img, _ALPHA, alpha)
    return img


_PIXELS = "_digitpad_pixels"
_ALPHA = "_digitpad_alpha"


def pixels(img: Image.Image) -> np.ndarray | None:
    """(H, W, channels) uint8: the pixels ``read`` decoded into ``img`` itself (numpy reads
    them without Pillow's copy to bytes), or None for any other image."""
    return getattr(img, _PIXELS, None)


def alpha_plane(img: Image.Image) -> np.ndarray | None:
    """(H, W) uint8, contiguous: the alpha plane that ``read`` kept while decoding ``img``
    itself (saves Pillow's getchannel and a copy to numpy, ~0.07 ms a canvas), or None."""
    return getattr(img, _ALPHA, None)

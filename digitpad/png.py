"""PNG by hand, where Pillow's per-image overhead is most of the cost: reading the plain PNGs
that canvases write (8-bit gray, RGB, gray+alpha or RGBA, not interlaced, no palette, no
transparency chunk, no EXIF), a PNG's size from its header, and writing the 28x28 previews.

Why: Pillow spends ~0.45 ms opening and loading a 280x280 RGBA canvas PNG, of which
inflating the pixels is ~0.06 ms with zlib-ng; the rest is per-image overhead in its chunk
reader and decoder. Here the chunks are walked in Python (a canvas PNG has three or four),
the IDAT stream is inflated by zlib-ng (``zlib-ng`` on PyPI; the standard zlib if it is
missing) and the rows are unfiltered by the C extension ``digitpad._fastpng``: ~0.1 ms.

``read`` returns None for anything it does not handle *exactly* as Pillow would: another
PNG kind, a bad CRC, a missing IEND, a stream that does not inflate to exactly the expected
bytes, a filter type above 4, an image over ``max_pixels``. The caller (``digitpad.decode``)
then lets Pillow decide, so errors and their messages are Pillow's path's, unchanged. The
pixels of an image read here are the ones Pillow reads (tests/test_png.py holds them equal on
every filter type and kind).

``encode_gray`` writes an 8-bit grayscale PNG with zlib directly: Pillow's PNG writer costs
~0.3 ms of per-call setup, a fifth of a whole request, for a 28x28 preview.
"""

from __future__ import annotations

import struct
import zlib
from typing import NamedTuple

import numpy as np

try:  # the C extension: without it (no compiler at install time) ``read`` leaves every file to Pillow
    from . import _fastpng
except ImportError:  # pragma: no cover - CI builds it (and refuses to fall back)
    _fastpng = None

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


class Pixels(NamedTuple):
    """What ``read`` decoded: Pillow's mode name and the pixels as arrays."""

    mode: str  # "L", "RGB", "LA" or "RGBA"
    pixels: np.ndarray  # (H, W, channels) uint8
    alpha: np.ndarray | None  # (H, W) uint8, contiguous, for "LA" and "RGBA" (unfiltered straight into it)


AVAILABLE = _fastpng is not None


def size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG's IHDR, nothing decoded; None when ``data`` does not start like a PNG."""
    if data[:8] != SIGNATURE or data[12:16] != b"IHDR" or len(data) < 24:
        return None
    width, height = struct.unpack_from(">II", data, 16)
    return width, height


def read(data: bytes, max_pixels: int) -> Pixels | None:
    """PNG bytes -> its pixels, or None: Pillow should read this one (or the C extension is missing)."""
    if _fastpng is None or not data.startswith(SIGNATURE):
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
    return Pixels(mode, pixels.reshape(height, width, bpp), alpha)


def encode_gray(image: np.ndarray, level: int = 1) -> bytes:
    """(H, W) uint8 -> an 8-bit grayscale PNG (~900 bytes for a 28x28; zlib level 1: ~2x faster
    than the default, ~10% bigger). tests/test_png.py checks that Pillow reads it back."""
    h, w = image.shape
    rows = np.zeros((h, w + 1), np.uint8)  # each row: filter byte 0 (None), then its pixels
    rows[:, 1:] = image
    return b"".join((
        SIGNATURE,
        _chunk(b"IHDR", _IHDR.pack(w, h, 8, 0, 0, 0, 0)),  # 8-bit grayscale
        _chunk(b"IDAT", zlib.compress(rows.tobytes(), level)),
        _chunk(b"IEND", b""),
    ))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

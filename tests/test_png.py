"""``digitpad.png`` (the fast reader of plain PNGs) against Pillow: the same pixels for every
file it reads, and None (Pillow decides) for every file it should not read.

The PNGs here are written by hand so that each row's filter type is chosen, not left to an
encoder: every one of the five filters runs on every pixel kind, with random pixels (so the
Paeth predictor's three branches and byte wrap-around all occur).
"""

from __future__ import annotations

import io
import os
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from digitpad import engines, png
from digitpad.decode import decode
from digitpad.errors import InvalidImage, PayloadTooLarge

needs_ext = pytest.mark.skipif(not png.AVAILABLE, reason="digitpad._fastpng is not built (pip install -e . builds it)")
BIG = 10**9  # max_pixels that never limits

KINDS = {"L": (0, 1), "RGB": (2, 3), "LA": (4, 2), "RGBA": (6, 4)}  # mode: (PNG color type, bytes per pixel)


def test_reader_is_used_in_ci():
    if os.environ.get("CI") != "true":
        pytest.skip("only enforced when CI=true")
    assert png.AVAILABLE and engines.default().fast_png


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _filter_row(ft: int, cur: np.ndarray, up: np.ndarray, bpp: int) -> np.ndarray:
    """PNG filter ``ft`` applied to one row (uint8 arrays of row bytes), as an encoder does."""
    c = cur.astype(np.int32)
    b = up.astype(np.int32)
    a = np.concatenate([np.zeros(bpp, np.int32), c[:-bpp]])  # left
    ul = np.concatenate([np.zeros(bpp, np.int32), b[:-bpp]])  # upper left
    if ft == 0:
        pred = np.zeros_like(c)
    elif ft == 1:
        pred = a
    elif ft == 2:
        pred = b
    elif ft == 3:
        pred = (a + b) // 2
    else:
        p = a + b - ul
        pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - ul)
        pred = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, ul))
    return ((c - pred) % 256).astype(np.uint8)


def make_png(pixels: np.ndarray, mode: str, filters: list[int], *, extra: list[tuple[bytes, bytes]] = (),
             interlace: int = 0, depth: int = 8, color: int | None = None, stream: bytes | None = None,
             end: bool = True) -> bytes:
    """A PNG of ``pixels`` ((H, W, bpp) uint8) with the given filter type per row; ``extra``
    chunks go between IHDR and IDAT; the IDAT stream is split in two chunks."""
    h, w, bpp = pixels.shape
    rows = pixels.reshape(h, w * bpp)
    raw = b"".join(bytes([ft]) + _filter_row(ft, rows[y], rows[y - 1] if y else np.zeros_like(rows[0]), bpp).tobytes()
                   for y, ft in enumerate(filters))
    z = zlib.compress(raw, 6) if stream is None else stream
    ct = KINDS[mode][0] if color is None else color
    out = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, ct, 0, 0, interlace))
    out += b"".join(_chunk(k, d) for k, d in extra)
    out += _chunk(b"IDAT", z[: len(z) // 2]) + _chunk(b"IDAT", z[len(z) // 2:])
    return out + (_chunk(b"IEND", b"") if end else b"")


def pillow_pixels(data: bytes) -> tuple[str, tuple[int, int], bytes]:
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        return img.mode, img.size, img.tobytes()


def fast_pixels(data: bytes) -> tuple[str, tuple[int, int], bytes]:
    px = png.read(data, BIG)
    assert px is not None, "the fast reader refused a plain PNG"
    h, w, bpp = px.pixels.shape
    if "A" in px.mode:  # the plane unfiltered straight out of the pixels is their own alpha channel
        assert px.alpha is not None and px.alpha.tobytes() == px.pixels[..., -1].tobytes()
    else:
        assert px.alpha is None
    return px.mode, (w, h), px.pixels.tobytes()


def same_planes(data: bytes) -> None:
    """``decode`` gives the same planes through digitpad.png as through Pillow."""
    fast, slow = decode(data, fast_png=True), decode(data, fast_png=False)
    assert fast.gray().tobytes() == slow.gray().tobytes() and fast.gray().shape == slow.gray().shape
    assert (fast.alpha is None) == (slow.alpha is None)
    if fast.alpha is not None:
        assert fast.alpha.tobytes() == slow.alpha.tobytes()


@needs_ext
@pytest.mark.parametrize("mode", list(KINDS))
@pytest.mark.parametrize("ft", [0, 1, 2, 3, 4, "mixed"])
def test_every_filter_and_kind_matches_pillow(mode, ft):
    rng = np.random.default_rng(7)
    for h, w in ((1, 1), (2, 3), (17, 31), (40, 64)):
        bpp = KINDS[mode][1]
        pixels = rng.integers(0, 256, (h, w, bpp), dtype=np.uint8)
        if h > 2:  # smooth parts too: real images are mostly not noise
            pixels[h // 2:] = np.linspace(0, 255, w, dtype=np.uint8)[None, :, None]
        filters = list(rng.integers(0, 5, h)) if ft == "mixed" else [ft] * h
        data = make_png(pixels, mode, filters)
        assert fast_pixels(data) == pillow_pixels(data), (mode, ft, h, w)
        same_planes(data)


@needs_ext
def test_canvas_pngs_written_by_pillow_match(tmp_path):
    """Real drawings as the page's transparent canvas, and opaque ones, encoded by Pillow's own
    (adaptive-filter) encoder at several levels."""
    rng = np.random.default_rng(3)
    for i in range(12):
        alpha = np.zeros((280, 280), np.uint8)
        y, x = rng.integers(40, 200, 2)
        alpha[y:y + 60, x:x + 12] = 255
        alpha[y + 20:y + 24, :] = rng.integers(0, 256, 280, dtype=np.uint8)  # antialiased edge-like noise
        rgba = np.zeros((280, 280, 4), np.uint8)
        rgba[..., 3] = alpha
        for mode, img in (("RGBA", Image.fromarray(rgba, "RGBA")), ("L", Image.fromarray(255 - alpha, "L")),
                          ("RGB", Image.fromarray(rgba[..., :3] + 255 - alpha[..., None], "RGB"))):
            buf = io.BytesIO()
            img.save(buf, "PNG", compress_level=i % 10)
            data = buf.getvalue()
            assert fast_pixels(data) == pillow_pixels(data), (i, mode)
            same_planes(data)


def _refused(data: bytes, max_pixels: int = BIG) -> bool:
    return png.read(data, max_pixels) is None


@needs_ext
def test_refuses_what_pillow_must_decide():
    rng = np.random.default_rng(5)
    px = rng.integers(0, 256, (8, 8, 4), dtype=np.uint8)
    good = make_png(px, "RGBA", [4] * 8)
    assert not _refused(good)
    z = zlib.compress(b"".join(b"\x00" + px[y].tobytes() for y in range(8)))
    bad_crc = bytearray(good)
    bad_crc[23] ^= 1  # a bit of IHDR's height: its CRC no longer matches
    cases = {
        "palette": make_png(px[..., :1], "L", [0] * 8, color=3, extra=[(b"PLTE", bytes(range(256)) * 3)]),
        "16-bit": make_png(px, "RGBA", [0] * 8, depth=16),
        "interlaced": make_png(px, "RGBA", [0] * 8, interlace=1),
        "tRNS": make_png(px[..., :3], "RGB", [0] * 8, extra=[(b"tRNS", b"\x00\x01\x00\x02\x00\x03")]),
        "eXIf (orientation)": make_png(px, "RGBA", [0] * 8, extra=[(b"eXIf", b"MM\x00*\x00\x00\x00\x08\x00\x00")]),
        "tEXt (may hold EXIF)": make_png(px, "RGBA", [0] * 8, extra=[(b"tEXt", b"Comment\x00hi")]),
        "APNG": make_png(px, "RGBA", [0] * 8, extra=[(b"acTL", struct.pack(">II", 1, 0))]),
        "no IEND": make_png(px, "RGBA", [0] * 8, end=False),
        "bad CRC": bytes(bad_crc),
        "truncated": good[: len(good) // 2],
        "short stream": make_png(px, "RGBA", [0] * 8, stream=z[:-9]),
        "too much data": make_png(px, "RGBA", [0] * 8,
                                  stream=zlib.compress(b"".join(b"\x00" + px[y % 8].tobytes() for y in range(9)))),
        "garbage after the stream": make_png(px, "RGBA", [0] * 8, stream=z + b"junk"),
        "filter type 5": make_png(px, "RGBA", [0] * 8,
                                  stream=zlib.compress(b"".join(b"\x05" + px[y].tobytes() for y in range(8)))),
        "not a PNG": b"GIF89a" + good[6:],
        "5,000 chunks": make_png(px, "RGBA", [0] * 8, extra=[(b"tIME", b"\x07\xea\x0b\x16\x00\x00\x00")] * 5000),
    }
    for name, data in cases.items():
        assert _refused(data), name
    assert _refused(good, max_pixels=63) and not _refused(good, max_pixels=64)


@needs_ext
def test_decode_image_gives_the_same_errors_for_refused_files():
    """A refused file goes to Pillow: errors keep their status and message."""
    px = np.zeros((8, 8, 4), np.uint8)
    good = make_png(px, "RGBA", [0] * 8)
    with pytest.raises(PayloadTooLarge, match="8x8 = 64 pixels"):
        decode(good, max_pixels=63)
    with pytest.raises(InvalidImage):
        decode(good[: len(good) - 30])
    bomb = make_png(np.zeros((1, 1, 4), np.uint8), "RGBA", [0],
                    stream=zlib.compress(b"\x00" * 50_000_000))  # inflates far past a 1x1 image
    assert _refused(bomb)
    decode(bomb)  # Pillow reads the first row and stops, as before


def test_size_reads_the_header_only():
    data = make_png(np.zeros((3, 5, 4), np.uint8), "RGBA", [0] * 3)
    assert png.size(data) == (5, 3)
    assert png.size(data[:24]) == (5, 3)  # nothing past the header is needed
    assert png.size(b"GIF89a" + data[6:]) is None and png.size(data[:20]) is None


def test_encode_gray_is_read_back_by_pillow():
    img = np.random.default_rng(2).integers(0, 256, (28, 28), dtype=np.uint8)
    with Image.open(io.BytesIO(png.encode_gray(img))) as back:
        assert back.mode == "L" and back.size == (28, 28)
        assert np.array_equal(np.asarray(back), img)


@needs_ext
def test_unfilter_checks_its_arguments():
    from digitpad import _fastpng

    with pytest.raises(ValueError):
        _fastpng.unfilter(b"\x00" * 11, 2, 4, 4, bytearray(8))  # raw too long
    with pytest.raises(ValueError):
        _fastpng.unfilter(b"\x00" * 10, 2, 4, 4, bytearray(7))  # out too short
    with pytest.raises(ValueError):
        _fastpng.unfilter(b"\x00" * 5, 1, 4, 9, bytearray(4))  # bpp out of range
    with pytest.raises(ValueError, match="one per pixel"):
        _fastpng.unfilter(b"\x00" * 10, 2, 4, 4, bytearray(8), bytearray(3))  # last: 2 pixels, not 3
    with pytest.raises(ValueError, match="row 1 has filter type 7"):
        _fastpng.unfilter(b"\x00abcd\x07abcd", 2, 4, 4, bytearray(8))

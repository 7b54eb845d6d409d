"""Bad input never crashes the server: a corpus of crafted requests, each with the status it must get.

Every request of ``corpus()`` goes to ``POST /api/predict`` (plus a few to the wrong method or
path) in-process, and the whole corpus once more against a real uvicorn subprocess, followed by
raw-socket abuse (malformed HTTP, lying headers, disconnects, header floods, slow-loris
connections) and concurrent large images. What is decided here:

- a legal image is a 200 even when odd (1x1, 16-bit, palette, CMYK, animated GIF: first frame);
  when it shows a known digit, that digit must be read;
- bytes that are not an image, or a broken one: 400 ``invalid_image``; bad base64: 400;
- a known non-image format (SVG, PDF, TIFF...) or a non-image data URL: 415;
- a body over ``max_body_bytes`` or an image whose *header* claims more than ``max_pixels``: 413
  (the crafted bombs are tiny files: nothing may be decoded before the check);
- a missing or mistyped ``image`` field: 422; malformed JSON or multipart: 400;
- headers over ``max_header_bytes``: 431; headers not finished within ``header_timeout``: closed;
- every 4xx answers ``{"error": {"code", "message"}}``, and the server serves a good request after.

    .venv/bin/python -m pytest tests/test_bad_input.py -q
"""

from __future__ import annotations

import base64
import io
import json
import re
import socket
import struct
import time
import zlib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from digitpad.settings import Settings
from digitpad.web.app import create_app

MAX_BODY = 2_000_000  # small limits keep the oversize cases cheap
MAX_PIXELS = 4_000_000
SAMPLE = Path(__file__).resolve().parent / "data" / "samples" / "mnist-test-0-label7.png"
SAMPLE_DIGIT = 7
BOUNDARY = "digitpadBoundary3kZ"
FORM = f"multipart/form-data; boundary={BOUNDARY}"
HEADER_TIMEOUT = 2  # seconds, for the real server (default 10)


# ------------------------------------------------------------------ building blocks


def save(img: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


@cache
def digit_on_paper() -> Image.Image:
    """The sample MNIST 7 as a 168x168 "L" image, dark ink on white paper."""
    img = Image.open(SAMPLE).convert("L").resize((168, 168), Image.BILINEAR)
    return Image.eval(img, lambda v: 255 - v)


def good_png() -> bytes:
    return save(digit_on_paper(), "PNG")


def chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk with its CRC."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_claiming(width: int, height: int) -> bytes:
    """A ~70-byte PNG whose header claims width x height pixels (decompression bomb's cousin)."""
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def gif_claiming(width: int, height: int) -> bytes:
    """A tiny GIF whose screen and first frame claim width x height."""
    return (b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
            + b"," + struct.pack("<HHHHB", 0, 0, width, height, 0) + b"\x02\x02\x4c\x01\x00;")


def jpeg_claiming(width: int, height: int) -> bytes:
    """A small real JPEG whose SOF0 marker is patched to claim width x height."""
    data = bytearray(save(Image.new("L", (40, 40), 255), "JPEG"))
    sof = data.find(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, height, width)
    return bytes(data)


def bmp_claiming(width: int, height: int) -> bytes:
    data = bytearray(save(Image.new("L", (40, 40), 255), "BMP"))
    struct.pack_into("<ii", data, 18, width, height)
    return bytes(data)


def webp_claiming(width: int, height: int) -> bytes:
    """A WebP that is only a VP8X (extended) header claiming a width x height canvas."""
    vp8x = (b"VP8X" + struct.pack("<I", 10) + b"\x00\x00\x00\x00"
            + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little"))
    return b"RIFF" + struct.pack("<I", 4 + len(vp8x)) + b"WEBP" + vp8x


def png_with_chunk_before_idat(extra: bytes) -> bytes:
    png = good_png()
    return png[:33] + extra + png[33:]  # 8-byte signature + 25-byte IHDR chunk, then ours


def png_bad_crc() -> bytes:
    png = bytearray(good_png())
    png[29] ^= 0xFF  # last byte of IHDR's CRC
    return bytes(png)


def animated_gif() -> bytes:
    """Two frames: the digit first, then a blank page (only the first frame is read)."""
    first = digit_on_paper().convert("P")
    blank = Image.new("P", first.size, 255)
    return save(first, "GIF", save_all=True, append_images=[blank], duration=100, loop=0)


def jpeg_with_bad_orientation() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 9  # orientation must be 1..8
    return save(digit_on_paper().convert("RGB"), "JPEG", exif=exif.tobytes())


def form(*parts: tuple[str, bytes], boundary: str = BOUNDARY, close: bool = True) -> bytes:
    """A multipart body from (part headers, data) pairs."""
    out = b""
    for headers, data in parts:
        out += f"--{boundary}\r\n{headers}\r\n\r\n".encode("utf-8", "surrogateescape") + data + b"\r\n"
    return out + (f"--{boundary}--\r\n".encode() if close else b"")


def file_part(data: bytes, *, name: str = "image", filename: str = "digit.png", ctype: str = "image/png"
              ) -> tuple[str, bytes]:
    return f'Content-Disposition: form-data; name="{name}"; filename="{filename}"\r\nContent-Type: {ctype}', data


def text_part(name: str, value: bytes) -> tuple[str, bytes]:
    return f'Content-Disposition: form-data; name="{name}"', value


def as_json(obj: object) -> bytes:
    return json.dumps(obj).encode()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# ------------------------------------------------------------------ the corpus


@dataclass
class Case:
    name: str
    status: int
    body: bytes = b""
    ctype: str | None = None
    code: str | None = None  # the error code a 4xx must carry (None: any)
    digit: int | None = None  # a 200 must read this digit (None: any reading, or empty)
    empty: bool | None = None  # a 200 must (True) or must not (False) be 'empty'
    method: str = "POST"
    path: str = "/api/predict"
    headers: dict[str, str] = field(default_factory=dict)

    def request_headers(self) -> dict[str, str]:
        return {**({"content-type": self.ctype} if self.ctype is not None else {}), **self.headers}


def upload(name: str, status: int, data: bytes, *, filename: str = "upload.png", ctype: str = "image/png",
           **kw: object) -> Case:
    """A multipart upload of ``data`` as the ``image`` file."""
    return Case(name, status, form(file_part(data, filename=filename, ctype=ctype)), FORM, **kw)


def json_case(name: str, status: int, obj: object, **kw: object) -> Case:
    return Case(name, status, as_json(obj), "application/json", **kw)


@cache
def corpus() -> tuple[Case, ...]:
    png = good_png()
    d = SAMPLE_DIGIT
    rng = np.random.default_rng(0)
    big_noise_png = save(Image.fromarray(rng.integers(0, 256, (700, 700, 3), dtype=np.uint8)), "PNG")
    assert 1_000_000 < len(big_noise_png) < MAX_BODY  # big enough for the worker-thread path
    digit16 = np.asarray(digit_on_paper(), dtype=np.uint16) * 257
    svg = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="28" height="28"><path d="M4 4h20v20"/></svg>'
    pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    cases = [
        # --- legal but odd images: read, not refused
        upload("control: a good PNG", 200, png, digit=d),
        upload("1x1 PNG", 200, save(Image.new("L", (1, 1), 0), "PNG"), empty=True),
        upload("1x1 transparent PNG", 200, save(Image.new("RGBA", (1, 1), (0, 0, 0, 0)), "PNG"), empty=True),
        upload("16-bit grayscale PNG", 200, save(Image.fromarray(digit16), "PNG"), digit=d),
        upload("palette PNG", 200, save(digit_on_paper().convert("P"), "PNG"), digit=d),
        upload("palette PNG with transparency", 200,
               save(digit_on_paper().convert("P"), "PNG", transparency=255), digit=d),
        upload("1-bit PNG", 200, save(digit_on_paper().point(lambda v: 255 if v > 128 else 0).convert("1"), "PNG"),
               digit=d),
        upload("CMYK JPEG", 200, save(digit_on_paper().convert("CMYK"), "JPEG"), filename="d.jpg",
               ctype="image/jpeg", digit=d),
        upload("progressive JPEG", 200, save(digit_on_paper().convert("RGB"), "JPEG", progressive=True),
               digit=d),
        upload("JPEG with an invalid EXIF orientation", 200, jpeg_with_bad_orientation(), digit=d),
        upload("animated GIF (first frame read)", 200, animated_gif(), filename="d.gif", ctype="image/gif", digit=d),
        upload("lossless WebP", 200, save(digit_on_paper(), "WEBP", lossless=True), digit=d),
        upload("BMP", 200, save(digit_on_paper(), "BMP"), digit=d),
        upload("all-white page", 200, save(Image.new("L", (280, 280), 255), "PNG"), empty=True),
        upload("1900x1900 black PNG: 3.6 MP from 4 KB, under the pixel limit", 200,
               save(Image.new("L", (1900, 1900), 0), "PNG", optimize=True), empty=True),
        upload("1.4 MB noise PNG (read in a worker thread)", 200, big_noise_png),
        upload("PNG sent as text/plain with a .txt name", 200, png, filename="notes.txt", ctype="text/plain", digit=d),
        upload("1 KB file name", 200, png, filename="x" * 1000 + ".png", digit=d),
        upload("path traversal in the file name", 200, png, filename="../../../etc/passwd", digit=d),
        # --- not images, or broken ones
        upload("empty file", 400, b"", code="invalid_image"),
        upload("random bytes", 400, rng.integers(0, 256, 5000, dtype=np.uint8).tobytes(), code="invalid_image"),
        upload("HTML page renamed .png", 400, b"<!doctype html><html><body>hi</body></html>", code="invalid_image"),
        upload("zip archive renamed .png", 400, b"PK\x03\x04" + b"\x00" * 200, code="invalid_image"),
        upload("truncated PNG", 400, png[: len(png) // 2], code="invalid_image"),
        upload("PNG signature only", 400, png[:8], code="invalid_image"),
        upload("PNG with a bad IHDR checksum", 400, png_bad_crc(), code="invalid_image"),
        upload("PNG claiming 0x0 pixels", 400, png_claiming(0, 0), code="invalid_image"),
        upload("truncated JPEG", 400, save(digit_on_paper(), "JPEG")[:300], code="invalid_image"),
        upload("JPEG without its end marker", 400, save(digit_on_paper(), "JPEG")[:-2], code="invalid_image"),
        upload("zTXt chunk that inflates to 20 MB", 400,
               png_with_chunk_before_idat(chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"A" * 20_000_000, 9))),
               code="invalid_image"),
        # --- formats we do not read
        upload("SVG renamed .png", 415, svg, code="unsupported_media_type"),
        upload("PDF renamed .png", 415, pdf, code="unsupported_media_type"),
        upload("TIFF", 415, save(digit_on_paper(), "TIFF"), code="unsupported_media_type"),
        upload("ICO", 415, save(digit_on_paper().resize((32, 32)), "ICO"), code="unsupported_media_type"),
        upload("HEIC-like ftyp box", 415, b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64,
               code="unsupported_media_type"),
        # --- decompression bombs: tiny files, huge claims, refused from the header
        upload("PNG claiming 50,000 x 50,000", 413, png_claiming(50_000, 50_000), code="payload_too_large"),
        upload("PNG claiming 1 x 2^31-1", 413, png_claiming(1, 2**31 - 1), code="payload_too_large"),
        upload("GIF claiming 65,535 x 65,535", 413, gif_claiming(65_535, 65_535), code="payload_too_large"),
        upload("JPEG claiming 65,500 x 65,500", 413, jpeg_claiming(65_500, 65_500), code="payload_too_large"),
        upload("BMP claiming 30,000 x 30,000", 413, bmp_claiming(30_000, 30_000), code="payload_too_large"),
        upload("WebP claiming 16,384 x 16,384", 413, webp_claiming(16_384, 16_384), code="payload_too_large"),
        upload("PNG 1 pixel over the limit", 413, png_claiming(2000, 2001), code="payload_too_large"),
        # --- the request itself
        Case("empty body, no content type", 415, b"", None, code="unsupported_content_type"),
        Case("empty JSON body", 400, b"", "application/json", code="invalid_json"),
        Case("empty multipart body", 400, b"", FORM, code="invalid_multipart"),
        Case("raw PNG body (image/png)", 415, png, "image/png", code="unsupported_content_type"),
        Case("text/plain body", 415, b"hello", "text/plain", code="unsupported_content_type"),
        Case("form-urlencoded", 415, b"image=" + b64(png).encode(), "application/x-www-form-urlencoded"),
        Case("XML", 415, b"<image>abc</image>", "application/xml"),
        Case("JSON content type in capitals, with a charset", 200, as_json({"image": b64(png)}),
             "Application/JSON; charset=utf-8", digit=d),
        Case("declared Content-Length over the limit", 413, b"{}", "application/json",
             headers={"content-length": str(MAX_BODY + 1)}, code="payload_too_large"),
        # --- JSON bodies
        Case("JSON syntax error", 400, b'{"image": ', "application/json", code="invalid_json"),
        Case("invalid UTF-8 in JSON", 400, b'{"image": "\xff\xfe\xfd"}', "application/json", code="invalid_json"),
        Case("deeply nested JSON (200,000 levels)", 400, b"[" * 200_000, "application/json", code="invalid_json"),
        Case("deeply nested image field", 400, b'{"image": ' + b"[" * 100_000, "application/json"),
        Case("a 5,000-digit number", 400, b"1" * 5000, "application/json", code="invalid_json"),
        Case("NaN literal", 422, b"NaN", "application/json", code="missing_field"),
        json_case("JSON list", 422, ["image", b64(png)], code="missing_field"),
        json_case("JSON number", 422, 7, code="missing_field"),
        json_case("JSON string", 422, b64(png), code="missing_field"),
        json_case("JSON null", 422, None, code="missing_field"),
        json_case("no image field", 422, {"img": b64(png)}, code="missing_field"),
        json_case("image is a number", 422, {"image": 7}, code="missing_field"),
        json_case("image is null", 422, {"image": None}, code="missing_field"),
        json_case("image is a list", 422, {"image": [b64(png)]}, code="missing_field"),
        json_case("image is an object", 422, {"image": {"data": b64(png)}}, code="missing_field"),
        json_case("image is true", 422, {"image": True}, code="missing_field"),
        json_case("50,000 keys, none of them image", 422, {f"k{i}": i for i in range(50_000)}, code="missing_field"),
        json_case("image is an empty string", 400, {"image": ""}, code="invalid_image"),
        json_case("image is not base64", 400, {"image": "this is *not* base64!"}, code="invalid_base64"),
        json_case("image has a lone surrogate", 400, {"image": "\ud800" + b64(png)}, code="invalid_base64"),
        json_case("data URL with a lone surrogate in its MIME type", 415, {"image": "data:text/\ud800;base64,AAAA"},
                  code="unsupported_media_type"),
        json_case("data URL with a 100 KB MIME type", 415, {"image": "data:x/" + "y" * 100_000 + ";base64,AAAA"}),
        json_case("data URL of text/plain", 415, {"image": "data:text/plain;base64," + b64(b"hello")},
                  code="unsupported_media_type"),
        json_case("data URL of application/pdf", 415, {"image": "data:application/pdf;base64," + b64(pdf)},
                  code="unsupported_media_type"),
        json_case("data URL without ;base64", 400, {"image": "data:image/png," + b64(png)}, code="invalid_base64"),
        json_case("data URL without a comma", 400, {"image": "data:image/png;base64"}, code="invalid_base64"),
        json_case("SVG data URL", 415, {"image": "data:image/svg+xml;base64," + b64(svg)}),
        json_case("data URL says PNG, holds a JPEG", 200,
                  {"image": "data:image/png;base64," + b64(save(digit_on_paper(), "JPEG"))}, digit=d),
        json_case("base64 with line breaks and no padding", 200,
                  {"image": "\n".join(b64(png).rstrip("=")[i:i + 76] for i in range(0, len(b64(png)), 76))},
                  digit=d),
        json_case("extra fields beside image", 200, {"image": b64(png), "label": 3, "x": [1, 2]}, digit=d),
        json_case("megabytes of base64, over the body limit", 413, {"image": "A" * (MAX_BODY + 10)},
                  code="payload_too_large"),
        json_case("1.4 MB of base64 that is not an image", 400, {"image": b64(rng.bytes(1_000_000))},
                  code="invalid_image"),
        # --- multipart bodies
        Case("multipart without a boundary", 400, form(file_part(png)), "multipart/form-data",
             code="invalid_multipart"),
        Case("multipart garbage", 400, b"this is not multipart at all", FORM, code="invalid_multipart"),
        Case("multipart without its closing boundary", 400, form(file_part(png), close=False), FORM,
             code="invalid_multipart"),
        Case("multipart with LF line endings only", 400, form(file_part(png)).replace(b"\r\n", b"\n"), FORM),
        Case("multipart without the file (a text field)", 422, form(text_part("label", b"3")), FORM,
             code="missing_field"),
        Case("multipart with the file under another name", 422, form(file_part(png, name="file")), FORM,
             code="missing_field"),
        Case("multipart with no parts", 422, f"--{BOUNDARY}--\r\n".encode(), FORM, code="missing_field"),
        Case("image as a plain form field (no filename)", 200, form(text_part("image", png)), FORM, digit=d),
        Case("two image files: the first is read", 200, form(file_part(png), file_part(b"garbage")), FORM, digit=d),
        Case("two image files, the first broken", 400, form(file_part(b"garbage"), file_part(png)), FORM,
             code="invalid_image"),
        Case("200 KB file name (a part header too long to parse)", 400,
             form(file_part(png, filename="x" * 200_000 + ".png")), FORM, code="invalid_multipart"),
        Case("100 form fields", 400, form(*[text_part(f"f{i}", b"x") for i in range(100)], file_part(png)), FORM,
             code="invalid_multipart"),
        Case("a 70-character boundary (the longest RFC 2046 allows)", 200, form(file_part(png), boundary="b" * 70),
             "multipart/form-data; boundary=" + "b" * 70, digit=d),
        Case("a 3,000-character boundary", 400, form(file_part(png), boundary="b" * 3000),
             "multipart/form-data; boundary=" + "b" * 3000, code="invalid_multipart"),
        Case("non-UTF-8 file name", 200, form(file_part(png, filename="\udcff\udcfe.png")), FORM, digit=d),
        # --- wrong method or path
        Case("GET /api/predict", 405, method="GET", code="method_not_allowed"),
        Case("DELETE /api/predict", 405, method="DELETE", code="method_not_allowed"),
        Case("POST to an unknown API path", 404, as_json({"image": b64(png)}), "application/json",
             path="/api/predict2", code="not_found"),
    ]
    names = [c.name for c in cases]
    assert len(names) == len(set(names)), "case names must be unique"
    return tuple(cases)


def test_corpus_is_big_enough() -> None:
    cases = corpus()
    assert len(cases) >= 40
    assert {c.status for c in cases} >= {200, 400, 404, 405, 413, 415, 422}


# ------------------------------------------------------------------ checking one answer


def check(case: Case, r: httpx.Response) -> None:
    what = f"{case.name}: {r.status_code} {r.text[:300]}"
    assert r.status_code == case.status, what
    assert r.headers.get("content-type", "").startswith("application/json"), what
    body = r.json()
    if case.status != 200:
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, what
        assert isinstance(body["error"]["code"], str) and isinstance(body["error"]["message"], str), what
        assert len(body["error"]["message"]) < 500, what  # input is not echoed back wholesale
        if case.code is not None:
            assert body["error"]["code"] == case.code, what
        assert "Traceback" not in r.text, what
        return
    assert body["status"] in ("ok", "uncertain", "empty"), what
    assert len(body["probabilities"]) == 10, what
    if case.empty is not None:
        assert (body["status"] == "empty") == case.empty, what
    if case.digit is not None:
        assert body["digit"] == case.digit, what


def send(client: httpx.Client, case: Case) -> httpx.Response:
    return client.request(case.method, case.path, content=case.body or None, headers=case.request_headers())


# ------------------------------------------------------------------ in-process: the bulk


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory):
    db = tmp_path_factory.mktemp("bad-input") / "feedback.db"
    settings = Settings(max_body_bytes=MAX_BODY, max_pixels=MAX_PIXELS, database_url=f"sqlite:///{db}")
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c


@pytest.mark.parametrize("case", corpus(), ids=lambda c: c.name)
def test_bad_request(client: TestClient, case: Case) -> None:
    check(case, send(client, case))


# ------------------------------------------------------------------ a real server


@pytest.fixture(scope="module")
def real_server(tmp_path_factory: pytest.TempPathFactory, server_process):
    env = {"DIGITPAD_MAX_BODY_BYTES": str(MAX_BODY), "DIGITPAD_MAX_PIXELS": str(MAX_PIXELS),
           "DIGITPAD_HEADER_TIMEOUT": str(HEADER_TIMEOUT)}
    with server_process(tmp_path_factory.mktemp("bad-input-server"), env=env) as server:
        yield server


def good_request_works(url: str) -> None:
    r = httpx.post(url + "/api/predict", files={"image": ("d.png", good_png(), "image/png")}, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["digit"] == SAMPLE_DIGIT, r.text


def send_raw(url: str, case: Case) -> httpx.Response:
    """A case whose headers lie (a Content-Length that is not the body's), which httpx refuses to send."""
    head = f"{case.method} {case.path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in case.request_headers().items())
    reply = raw(url, head.encode() + b"\r\n" + case.body)
    top, _, body = reply.partition(b"\r\n\r\n")
    lines = top.decode("latin-1").split("\r\n")
    headers = [tuple(x.strip() for x in line.split(":", 1)) for line in lines[1:] if ":" in line]
    return httpx.Response(status_of(reply) or 0, headers=headers, content=body)


def test_whole_corpus_against_a_real_server(real_server) -> None:
    failures = []
    with httpx.Client(base_url=real_server.url, timeout=60) as c:
        for case in corpus():
            try:
                lies = "content-length" in case.headers
                check(case, send_raw(real_server.url, case) if lies else send(c, case))
            except AssertionError as e:
                failures.append(str(e).split("\n")[0])
    real_server.assert_alive()
    assert not failures, "\n".join(failures) + "\nserver log tail:\n" + real_server.log()[-3000:]
    good_request_works(real_server.url)


def raw(url: str, data: bytes, *, read: bool = True, timeout: float = 10) -> bytes:
    """Send raw bytes on a fresh connection; return what comes back until the server closes or
    goes quiet (b"" if it just closes)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server stopped listening part-way (e.g. 431): read what it said
        if not read:
            return b""
        try:
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        out = b""
        try:
            while chunk := s.recv(65536):
                out += chunk
        except (TimeoutError, ConnectionResetError):
            pass
        return out


def status_of(reply: bytes) -> int | None:
    if not reply.startswith(b"HTTP/1."):
        return None
    return int(reply.split(b" ", 2)[1])


CLOSED = None  # the server may also just close the connection
REFUSED = {400, 413, 414, 431, CLOSED}
POST_JSON = b"POST /api/predict HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"

# name -> (raw bytes, the statuses allowed back). uvicorn's HTTP parser answers malformed
# HTTP itself (a plain-text 400, not our JSON: it never reaches the app) or closes.
RAW_ABUSE: dict[str, tuple[bytes, set[int | None]]] = {
    "not HTTP at all (a TLS ClientHello)": (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 100, REFUSED),
    "malformed request line": (b"POST\r\n\r\n", REFUSED),
    "HTTP/0.9 request": (b"GET /\r\n", REFUSED),
    "NUL in the path": (b"GET /api/\x00model HTTP/1.1\r\nHost: localhost\r\n\r\n", REFUSED),
    "non-numeric Content-Length": (POST_JSON + b"Content-Length: abc\r\n\r\n{}", REFUSED),
    "negative Content-Length": (POST_JSON + b"Content-Length: -5\r\n\r\n{}", REFUSED),
    "two different Content-Lengths": (POST_JSON + b"Content-Length: 2\r\nContent-Length: 40\r\n\r\n{}", REFUSED),
    "chunked and Content-Length together": (
        POST_JSON + b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", REFUSED),
    "bad chunk size": (POST_JSON + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", REFUSED),
    "body shorter than Content-Length, then EOF": (POST_JSON + b"Content-Length: 5000\r\n\r\n{\"im", REFUSED),
    # Header blocks over max_header_bytes (64 KB): 431 (or closed); under it: served.
    "200 KB header": (b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n", {431, CLOSED}),
    "10,000 headers": (b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(10_000))
                       + b"\r\n", {431, CLOSED}),
    "a 32 KB header (allowed)": (b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"a" * 32_000 + b"\r\n\r\n", {200}),
}


@pytest.mark.parametrize("name", list(RAW_ABUSE))
def test_raw_socket_abuse(real_server, name: str) -> None:
    """Malformed HTTP is refused or closed, never a 5xx, never a dead server."""
    data, allowed = RAW_ABUSE[name]
    reply = raw(real_server.url, data)
    assert status_of(reply) in allowed, (name, reply[:300])
    real_server.assert_alive()


def test_clients_that_vanish_mid_request(real_server) -> None:
    """Connections dropped while uploading or before reading the answer cost the server nothing."""
    big = as_json({"image": b64(good_png()) * 20})
    head = (b"POST /api/predict HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(big)}\r\n\r\n".encode())
    for _ in range(20):
        raw(real_server.url, head + big[: len(big) // 3], read=False)  # gone mid-upload
        raw(real_server.url, head + big, read=False)  # gone before the answer
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            good_request_works(real_server.url)
            break
        except (httpx.HTTPError, AssertionError):
            time.sleep(0.2)
    good_request_works(real_server.url)
    real_server.assert_alive()
    assert "Traceback" not in real_server.log(), real_server.log()[-3000:]


# ------------------------------------------------------------------ the documented limits


def test_readme_settings_table_matches_settings() -> None:
    """Docs cannot drift: the README's settings table names every setting, with its real default."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("<!-- SECTION:settings -->", 1)[1].split("\n## ", 1)[0]
    rows = dict(re.findall(r"^\| `(DIGITPAD_[A-Z_]+)` \| ([^|]+) \|", section, flags=re.M))
    for name, spec in Settings.model_fields.items():
        env = f"DIGITPAD_{name.upper()}"
        assert env in rows, f"{env} is missing from the README's settings table"
        shown = rows[env].strip().strip("`")
        if isinstance(spec.default, bool):
            assert shown == str(spec.default).lower(), (env, shown, spec.default)
        elif isinstance(spec.default, int | float):
            assert float(shown) == float(spec.default), (env, shown, spec.default)
        elif isinstance(spec.default, str):
            assert shown == spec.default, (env, shown, spec.default)


def rss_mb(pid: int) -> float:
    import psutil

    return psutil.Process(pid).memory_info().rss / 1e6


def test_header_flood_is_cut_off(real_server) -> None:
    """uvicorn alone buffers any header block in memory (50 MB in, 50 MB more RSS, per
    connection): past max_header_bytes the server answers 431 and closes."""
    before = rss_mb(real_server.proc.pid)
    with socket.create_connection(("127.0.0.1", real_server.port), timeout=30) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Flood: ")
        sent = 0
        try:
            while sent < 20_000_000:
                s.sendall(b"a" * 65536)
                sent += 65536
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert sent < 20_000_000, "the server took 20 MB of headers"
        try:
            reply = s.recv(4096)
        except ConnectionResetError:
            reply = b""
    assert reply == b"" or status_of(reply) == 431, reply[:300]
    if reply:
        assert json.loads(reply.partition(b"\r\n\r\n")[2])["error"]["code"] == "headers_too_large"
    assert rss_mb(real_server.proc.pid) < before + 20, (before, rss_mb(real_server.proc.pid))
    good_request_works(real_server.url)


def test_slow_or_silent_connections_are_closed(real_server) -> None:
    """A client that never finishes its headers (slow loris), or never sends a byte, is cut off
    after header_timeout (2 s here) instead of holding a connection for ever."""
    with socket.create_connection(("127.0.0.1", real_server.port), timeout=30) as silent, \
            socket.create_connection(("127.0.0.1", real_server.port), timeout=30) as slow:
        slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
        closed = False
        for i in range(120):  # a header line every 0.25 s, for up to 30 s
            try:
                slow.sendall(b"X-%d: y\r\n" % i)
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            time.sleep(0.25)
        assert closed, "a connection trickling headers for 30 s was not closed"
        assert silent.recv(100) == b"", "a silent connection got an answer"  # b"": closed by the server
    good_request_works(real_server.url)


def test_concurrent_large_images_do_not_pile_up_memory(real_server) -> None:
    """Large images are decoded one at a time per worker, and their memory is given back: 8 at
    once (each ~50 MB while decoded) leave the worker's RSS where it was."""
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(1)
    rgba = np.zeros((2000, 2000, 4), np.uint8)  # 4 MP, the limit here
    rgba[600:1400, 900:1100, 3] = 255  # a "1"
    rgba[:300, :300] = rng.integers(0, 256, (300, 300, 4), dtype=np.uint8)  # noise: a big file (thread path)
    png = save(Image.fromarray(rgba, "RGBA"), "PNG")
    assert len(png) > 64 * 1024
    pid = real_server.proc.pid
    good_request_works(real_server.url)
    before = rss_mb(pid)

    def one(_: int) -> int:
        r = httpx.post(real_server.url + "/api/predict", files={"image": ("big.png", png, "image/png")}, timeout=60)
        assert r.status_code in (200, 503), r.text  # 503: queued past the request timeout on a busy machine
        return r.status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(one, range(8)))
    assert 200 in statuses, statuses
    deadline = time.monotonic() + 30  # an abandoned decode may still be finishing
    while rss_mb(pid) > before + 60 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert rss_mb(pid) < before + 60, (before, rss_mb(pid), statuses)
    real_server.assert_alive()

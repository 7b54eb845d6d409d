"""The HTTP API: every status code of the contract, each accepted image format, both body
encodings, the limits (body bytes, image pixels, time), the error format and the security
headers. Most tests run the app in-process (httpx TestClient); the ones about real sockets
(chunked bodies, lying Content-Length, slow uploads, worker processes) run uvicorn.

    DIGITPAD_DATA_DIR=... .venv/bin/python -m pytest tests/test_api.py -q
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import socket
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from digitpad.reading import Thresholds
from digitpad.settings import Settings
from digitpad.web import sockets as workers
from digitpad.web.app import create_app

MAX_BODY = 300_000  # small limits keep the oversize tests cheap
MAX_PIXELS = 4_000_000


# ------------------------------------------------------------------ images


@pytest.fixture(scope="module")
def mnist_digits(mnist_dir: Path) -> list[tuple[np.ndarray, int]]:
    """The first MNIST test image of each digit 0..9: ((28, 28) uint8 white-on-black, label)."""
    from digitpad.data import load_split

    images, labels = load_split("test", mnist_dir, download=False)
    return [(images[int(np.argmax(labels == d))], d) for d in range(10)]


def paper(img28: np.ndarray, scale: int = 6) -> np.ndarray:
    """MNIST digit -> a larger (28*scale)^2 uint8 image, dark ink on white (how people send them)."""
    big = np.asarray(Image.fromarray(img28).resize((28 * scale, 28 * scale), Image.BILINEAR))
    return 255 - big


def encode(img28: np.ndarray, fmt: str) -> bytes:
    """One MNIST digit as an image file in the given format."""
    ink_on_white = paper(img28)
    buf = io.BytesIO()
    if fmt == "png-rgba":  # a canvas export: black ink whose alpha is the coverage, transparent elsewhere
        rgba = np.zeros(ink_on_white.shape + (4,), np.uint8)
        rgba[..., 3] = 255 - ink_on_white
        Image.fromarray(rgba, "RGBA").save(buf, "PNG")
    elif fmt == "png-l":
        Image.fromarray(ink_on_white, "L").save(buf, "PNG")
    elif fmt == "jpeg":
        Image.fromarray(ink_on_white).convert("RGB").save(buf, "JPEG", quality=92)
    elif fmt == "webp":
        Image.fromarray(ink_on_white).convert("RGB").save(buf, "WEBP", quality=92)
    elif fmt == "bmp":
        Image.fromarray(ink_on_white).convert("RGB").save(buf, "BMP")
    elif fmt == "gif":
        Image.fromarray(ink_on_white).convert("P").save(buf, "GIF")
    else:
        raise ValueError(fmt)
    return buf.getvalue()


def blank_png(size: int = 280, mode: str = "RGBA") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, (size, size), 0 if mode == "RGBA" else 255).save(buf, "PNG")
    return buf.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height but holds almost no data (a decompression bomb's
    cheap cousin): the server must refuse it from the header, before decoding anything."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def decode_preview(data_url: str) -> np.ndarray:
    assert data_url.startswith("data:image/png;base64,"), data_url[:40]
    img = Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1])))
    assert img.size == (28, 28) and img.format == "PNG"
    return np.asarray(img.convert("L"))


# ------------------------------------------------------------------ app fixtures


@pytest.fixture(scope="module")
def tmp_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite file for the feedback store the app opens (never the per-user default)."""
    return f"sqlite:///{tmp_path_factory.mktemp('api') / 'feedback.db'}"


@pytest.fixture(scope="module")
def settings(tmp_db: str) -> Settings:
    return Settings(max_body_bytes=MAX_BODY, max_pixels=MAX_PIXELS, uncertain_threshold=0.6, database_url=tmp_db)


@pytest.fixture(scope="module")
def client(settings: Settings):
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c


def post_file(client: TestClient, data: bytes, name: str = "digit.png", ctype: str = "image/png") -> httpx.Response:
    return client.post("/api/predict", files={"image": (name, data, ctype)})


def assert_error(r: httpx.Response, status: int, code: str | None = None) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json"), r.headers
    body = r.json()
    assert set(body) == {"error"}, body
    assert isinstance(body["error"]["code"], str) and isinstance(body["error"]["message"], str), body
    if code is not None:
        assert body["error"]["code"] == code, body
    assert "Traceback" not in r.text and 'File "' not in r.text, r.text
    return body["error"]


def thresholds_of(config: dict) -> Thresholds:
    """The thresholds a server reads with, from its GET /api/config."""
    return Thresholds(uncertain=config["uncertain_threshold"], not_digit=config["not_digit_threshold"],
                      doubtful=config["doubtful_threshold"])


def assert_reading(body: dict, thresholds: Thresholds) -> None:
    """The full 200 shape of /api/predict, its status by the server's thresholds."""
    assert set(body) == {"digit", "confidence", "probabilities", "digit_likelihood", "status", "preview", "model",
                         "timing_ms"}, body
    assert len(body["probabilities"]) == 10 and all(0 <= p <= 1 for p in body["probabilities"]), body
    assert set(body["timing_ms"]) == {"decode", "preprocess", "inference", "total"}, body["timing_ms"]
    assert all(v >= 0 for v in body["timing_ms"].values()), body["timing_ms"]
    decode_preview(body["preview"])
    if body["status"] == "empty":
        assert body["digit"] is None and body["confidence"] == 0 and body["digit_likelihood"] == 0, body
    else:
        assert 0 <= body["digit"] <= 9 and 0 < body["digit_likelihood"] <= 1, body
        assert abs(sum(body["probabilities"]) - 1) < 1e-3, body["probabilities"]
        assert body["confidence"] == max(body["probabilities"]), body
        assert body["probabilities"].index(body["confidence"]) == body["digit"], body
        assert body["status"] == thresholds.status(body["confidence"], body["digit_likelihood"], empty=False), body


# ------------------------------------------------------------------ happy paths


FORMATS = ["png-rgba", "png-l", "jpeg", "webp", "bmp", "gif"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_is_read(client: TestClient, mnist_digits, fmt: str) -> None:
    img28, label = mnist_digits[7]
    r = post_file(client, encode(img28, fmt), name=f"seven.{fmt.split('-')[0]}", ctype="application/octet-stream")
    assert r.status_code == 200, r.text
    body = r.json()
    assert_reading(body, thresholds_of(client.get("/api/config").json()))
    assert body["digit"] == label, {k: v for k, v in body.items() if k != "preview"}
    assert body["model"] == client.get("/api/model").json()["version"]


def test_lossless_formats_give_the_same_model_input(client: TestClient, mnist_digits) -> None:
    """PNG (gray or RGBA with alpha), BMP and GIF hold the same pixels: the 28x28 previews agree."""
    img28, _ = mnist_digits[3]
    previews = {fmt: decode_preview(post_file(client, encode(img28, fmt)).json()["preview"])
                for fmt in ("png-l", "png-rgba", "bmp", "gif")}
    for fmt, p in previews.items():
        diff = np.abs(p.astype(int) - previews["png-l"].astype(int)).max()
        assert diff <= 8, f"{fmt} preview differs from png-l by {diff} grey levels"


def test_mnist_digits_are_read(client: TestClient, mnist_digits) -> None:
    got = [post_file(client, encode(img, "png-l")).json()["digit"] for img, _ in mnist_digits]
    right = sum(g == d for g, (_, d) in zip(got, mnist_digits, strict=True))
    assert right >= 9, f"read {got} for digits 0..9"


def test_jpeg_exif_orientation_is_applied(client: TestClient, mnist_digits) -> None:
    img28, label = mnist_digits[7]
    upright = Image.fromarray(paper(img28)).convert("RGB")
    # Stored turned 90 degrees counter-clockwise; EXIF orientation 6 says "turn clockwise to view".
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    stored.save(buf, "JPEG", quality=92, exif=exif)
    r = post_file(client, buf.getvalue(), "phone.jpg", "image/jpeg")
    assert r.status_code == 200, r.text
    assert r.json()["digit"] == label, r.json()["probabilities"]


def test_gif_first_frame_is_read(client: TestClient, mnist_digits) -> None:
    first, second = mnist_digits[2], mnist_digits[5]
    frames = [Image.fromarray(paper(img)).convert("P") for img, _ in (first, second)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    r = post_file(client, buf.getvalue(), "anim.gif", "image/gif")
    assert r.status_code == 200, r.text
    assert r.json()["digit"] == first[1], r.json()["probabilities"]


def test_json_data_url_bare_base64_and_multipart_agree(client: TestClient, mnist_digits) -> None:
    png = encode(mnist_digits[4][0], "png-rgba")
    b64 = base64.b64encode(png).decode()
    answers = [
        post_file(client, png),
        client.post("/api/predict", json={"image": "data:image/png;base64," + b64}),
        client.post("/api/predict", json={"image": b64}),
        client.post("/api/predict", json={"image": b64.rstrip("=")}),  # padding dropped
        client.post("/api/predict", content=json.dumps({"image": b64}),
                    headers={"content-type": "application/json; charset=utf-8"}),
    ]
    for r in answers:
        assert r.status_code == 200, r.text
        assert_reading(r.json(), thresholds_of(client.get("/api/config").json()))
    first = answers[0].json()
    for r in answers[1:]:
        assert (r.json()["digit"], r.json()["probabilities"]) == (first["digit"], first["probabilities"])


def test_empty_image_is_empty(client: TestClient) -> None:
    for data in (blank_png(280, "RGBA"), blank_png(200, "L")):
        r = post_file(client, data)
        assert r.status_code == 200, r.text
        body = r.json()
        assert_reading(body, thresholds_of(client.get("/api/config").json()))
        assert (body["status"], body["digit"], body["confidence"]) == ("empty", None, 0), body
        assert decode_preview(body["preview"]).max() == 0


def test_uncertain_below_threshold(mnist_digits, tmp_db: str) -> None:
    """With the threshold at 1, no reading is sure enough: status 'uncertain', digit still given."""
    with TestClient(create_app(Settings(uncertain_threshold=1.0, database_url=tmp_db))) as c:
        body = post_file(c, encode(mnist_digits[1][0], "png-l")).json()
    assert body["status"] == "uncertain", body
    assert body["digit"] is not None and body["confidence"] < 1.0, body


def test_preview_is_the_model_input(client: TestClient, mnist_digits) -> None:
    """The preview is exactly what preprocess hands the model (white ink on black, 28x28)."""
    from digitpad.preprocess import preprocess_bytes

    png = encode(mnist_digits[0][0], "png-l")
    preview = decode_preview(post_file(client, png).json()["preview"])
    assert np.array_equal(preview, preprocess_bytes(png, max_pixels=MAX_PIXELS).image)


# ------------------------------------------------------------------ client errors: 400, 413, 415, 422


def test_not_an_image_400(client: TestClient) -> None:
    assert_error(post_file(client, b"hello, I am text", "note.png"), 400, "invalid_image")
    assert_error(post_file(client, b"\x89PNG\r\n\x1a\n" + b"\x00" * 40), 400)  # a PNG signature, then junk
    assert_error(client.post("/api/predict", json={"image": base64.b64encode(b"not an image").decode()}), 400)
    assert_error(post_file(client, b""), 400)


def test_bad_base64_400(client: TestClient) -> None:
    for bad in ("!!!not base64!!!", "data:image/png;base64,@@@@", "data:image/png,iVBORw0KGgo", "data:image/png;base64"):
        assert_error(client.post("/api/predict", json={"image": bad}), 400)


def test_malformed_json_400(client: TestClient) -> None:
    for body in (b"{", b'{"image": ', b"\xff\xfe", b"", b"[" * 100_000, b'{"image": "\xff"}'):
        assert_error(client.post("/api/predict", content=body, headers={"content-type": "application/json"}), 400)


def odd_images() -> dict[str, bytes]:
    """Legal but unusual images a client may well send."""
    rng = np.random.default_rng(0)
    out = {}

    def save(name: str, img: Image.Image, fmt: str, **kw) -> None:
        buf = io.BytesIO()
        img.save(buf, fmt, **kw)
        out[name] = buf.getvalue()

    save("1x1", Image.new("L", (1, 1), 0), "PNG")
    save("1x500", Image.new("L", (1, 500), 0), "PNG")
    save("500x1 ink", Image.new("L", (500, 1), 255), "PNG")
    save("all black", Image.new("RGB", (64, 64), 0), "PNG")
    save("noise", Image.fromarray(rng.integers(0, 256, (64, 64), dtype=np.uint8)), "PNG")
    save("16-bit", Image.fromarray(rng.integers(0, 65535, (40, 40), dtype=np.uint16)), "PNG")
    save("LA", Image.new("LA", (50, 50), (0, 128)), "PNG")
    pal = Image.new("P", (40, 40), 0)
    pal.info["transparency"] = 0
    save("palette+transparency", pal, "PNG")
    save("1-bit", Image.new("1", (40, 40), 1), "PNG")
    save("CMYK JPEG", Image.new("CMYK", (40, 40), (0, 0, 0, 255)), "JPEG")
    save("progressive JPEG", Image.new("RGB", (80, 80), (255, 255, 255)), "JPEG", progressive=True)
    save("RGBA WebP", Image.new("RGBA", (40, 40), (0, 0, 0, 0)), "WEBP", lossless=True)
    save("RGBA BMP", Image.new("RGBA", (40, 40), (0, 0, 0, 255)), "BMP")
    frames = [Image.new("RGB", (30, 30), (255, 255, 255)), Image.new("RGB", (30, 30), (0, 0, 0))]
    save("animated WebP", frames[0], "WEBP", save_all=True, append_images=frames[1:])
    png = io.BytesIO()
    Image.new("L", (200, 200), 255).save(png, "PNG")
    out["truncated PNG"] = png.getvalue()[: len(png.getvalue()) // 2]
    return out


@pytest.mark.parametrize("name", list(odd_images()))
def test_odd_images_are_answered_not_crashed(client: TestClient, name: str) -> None:
    r = post_file(client, odd_images()[name], "odd.bin", "application/octet-stream")
    assert r.status_code in (200, 400, 413, 415), r.text
    if r.status_code == 200:
        assert_reading(r.json(), thresholds_of(client.get("/api/config").json()))
    else:
        assert_error(r, r.status_code)


def test_malformed_multipart_400(client: TestClient) -> None:
    r = client.post("/api/predict", content=b"--x\r\nContent-Disposition: form-data; name=\"image\"\r\n\r\nabc",
                    headers={"content-type": "multipart/form-data; boundary=x"})
    assert_error(r, 400)
    r = client.post("/api/predict", content=b"whatever", headers={"content-type": "multipart/form-data"})
    assert_error(r, 400)


def test_missing_field_422(client: TestClient, mnist_digits) -> None:
    assert_error(client.post("/api/predict", json={}), 422, "missing_field")
    assert_error(client.post("/api/predict", json={"picture": "abc"}), 422, "missing_field")
    assert_error(client.post("/api/predict", json={"image": 7}), 422, "missing_field")
    assert_error(client.post("/api/predict", json={"image": None}), 422, "missing_field")
    assert_error(client.post("/api/predict", json=["image"]), 422, "missing_field")
    png = encode(mnist_digits[0][0], "png-l")
    assert_error(client.post("/api/predict", files={"file": ("d.png", png, "image/png")}), 422, "missing_field")


def test_unsupported_content_type_415(client: TestClient, mnist_digits) -> None:
    png = encode(mnist_digits[0][0], "png-l")
    for ctype in ("image/png", "text/plain", "application/x-www-form-urlencoded", "application/xml"):
        assert_error(client.post("/api/predict", content=png, headers={"content-type": ctype}), 415)
    assert_error(client.post("/api/predict", content=png), 415)  # no content type at all


def test_unsupported_image_format_415(client: TestClient, mnist_digits) -> None:
    buf = io.BytesIO()
    Image.fromarray(paper(mnist_digits[0][0])).save(buf, "TIFF")
    assert_error(post_file(client, buf.getvalue(), "d.tif", "image/tiff"), 415)
    text_url = "data:text/plain;base64," + base64.b64encode(b"hello").decode()
    assert_error(client.post("/api/predict", json={"image": text_url}), 415)


def test_body_over_limit_413(client: TestClient) -> None:
    big = b"\x00" * (MAX_BODY + 1)
    assert_error(post_file(client, big, "big.png"), 413, "payload_too_large")
    # No Content-Length: a chunked body is counted as it arrives and cut off at the limit.
    r = client.post("/api/predict", content=iter([b"\x00" * 65536] * 8),
                    headers={"content-type": "application/json"})
    assert_error(r, 413, "payload_too_large")


def test_image_pixels_over_limit_413(client: TestClient) -> None:
    for w, h in ((2100, 2000), (8000, 8000), (20_000, 20_000), (1, 4_000_001)):
        data = png_header_only(w, h)
        assert len(data) < 200  # tiny bodies: only the header claims the size
        assert_error(post_file(client, data, "bomb.png"), 413, "payload_too_large")


# ------------------------------------------------------------------ other endpoints


def test_model_endpoint(client: TestClient) -> None:
    r = client.get("/api/model")
    assert r.status_code == 200, r.text
    meta = r.json()
    for key in ("version", "architecture", "input", "normalization", "labels"):
        assert key in meta, sorted(meta)
    assert meta["labels"][:10] == [str(i) for i in range(10)]  # the digits first (and number symbols, other)


def test_healthz_and_config(client: TestClient, settings: Settings) -> None:
    version = client.get("/api/model").json()["version"]
    r = client.get("/healthz")
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "ok", "model": version}
    r = client.get("/api/config")
    assert r.status_code == 200, r.text
    config = r.json()
    assert {k: config[k] for k in ("feedback", "model", "uncertain_threshold")} == {
        "feedback": settings.feedback, "model": version, "uncertain_threshold": settings.uncertain_threshold}
    assert config["model_url"].startswith("api/model.onnx?v=")
    # Issue 14: the page says which handwriting the model learned, from the model's own metadata.
    assert config["trained_on"] == client.get("/api/model").json()["data"]["trained_on"]
    assert config["trained_on"].startswith("MNIST")
    with TestClient(create_app(Settings(feedback=False, uncertain_threshold=0.4, database_url=settings.database_url))) as c:
        assert c.get("/api/config").json()["feedback"] is False
        assert c.get("/api/config").json()["uncertain_threshold"] == 0.4


def test_docs_and_openapi(client: TestClient) -> None:
    r = client.get("/docs")
    assert r.status_code == 200, r.text
    assert "swagger-ui" in r.text and "/openapi.json" in r.text
    # The docs page may run exactly its own inline script (by hash), nothing else inline.
    csp = r.headers["content-security-policy"]
    assert "'unsafe-inline'" not in csp and "'sha256-" in csp, csp
    spec = client.get("/openapi.json").json()
    op = spec["paths"]["/api/predict"]["post"]
    assert set(op["requestBody"]["content"]) == {"multipart/form-data", "application/json"}
    assert {"200", "400", "413", "415", "422", "503"} <= set(op["responses"]), sorted(op["responses"])
    ok = op["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/PredictResponse"}, ok
    props = spec["components"]["schemas"]["PredictResponse"]["properties"]
    assert set(props) == {"digit", "confidence", "probabilities", "digit_likelihood", "status", "preview", "model",
                          "timing_ms"}
    for path in ("/api/model", "/api/config", "/healthz"):
        assert "get" in spec["paths"][path], path


def test_unknown_route_and_wrong_method(client: TestClient) -> None:
    assert_error(client.get("/api/nope"), 404, "not_found")
    r = client.get("/api/predict")
    assert_error(r, 405, "method_not_allowed")
    assert r.headers["allow"] == "POST"
    assert_error(client.get("/no-such-page.html"), 404)


def test_unexpected_exception_is_500_without_traceback(settings: Settings) -> None:
    app = create_app(settings)

    @app.get("/api/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/api/boom")
    err = assert_error(r, 500, "internal_error")
    assert "secret" not in r.text, err
    assert r.headers["x-content-type-options"] == "nosniff"


def test_unexpected_exception_in_predict_is_500(settings: Settings, mnist_digits, monkeypatch) -> None:
    """The same on POST /api/predict, which the app answers without Starlette's error middleware."""
    import digitpad.reading

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(digitpad.reading, "prepare", broken)
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        r = post_file(c, encode(mnist_digits[1][0], "png-l"))
        assert c.get("/healthz").status_code == 200  # and it keeps serving
    err = assert_error(r, 500, "internal_error")
    assert "secret" not in r.text, err
    assert r.headers.get_list("x-content-type-options") == ["nosniff"]


def test_request_timeout_503(mnist_digits, tmp_db: str) -> None:
    """A tiny timeout: the prediction (sent to a worker thread when the body is large) is abandoned."""
    img = Image.fromarray(paper(mnist_digits[0][0], scale=40))  # 1120 x 1120, a ~100 KB+ PNG
    buf = io.BytesIO()
    img.save(buf, "PNG", compress_level=0)
    assert len(buf.getvalue()) > 64 * 1024
    with TestClient(create_app(Settings(request_timeout=0.0005, database_url=tmp_db)),
                    raise_server_exceptions=False) as c:
        assert_error(post_file(c, buf.getvalue()), 503, "timeout")


# ------------------------------------------------------------------ headers and the page


def test_security_headers_everywhere(client: TestClient, mnist_digits) -> None:
    responses = [
        client.get("/"),
        client.get("/app.js"),
        client.get("/healthz"),
        client.get("/api/config"),
        post_file(client, encode(mnist_digits[0][0], "png-l")),
        client.post("/api/predict", json={}),
        client.get("/api/nope"),
        post_file(client, b"\x00" * (MAX_BODY + 1)),
    ]
    for r in responses:
        where = f"{r.request.method} {r.request.url.path} -> {r.status_code}"
        assert r.headers.get("x-content-type-options") == "nosniff", where
        assert r.headers.get("referrer-policy"), where
        csp = r.headers.get("content-security-policy", "")
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp, (where, csp)
        # 'wasm-unsafe-eval' lets the on-device runtime compile WebAssembly; JS eval stays off.
        assert "unsafe-inline" not in csp and "'unsafe-eval'" not in csp, (where, csp)


def test_page_has_no_inline_script_or_external_url(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    html = r.text
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, flags=re.S | re.I)
    assert scripts, "the page loads its script"
    for attrs, body in scripts:
        assert "src=" in attrs and not body.strip(), f"inline script: {attrs} {body[:80]}"
    assert not re.search(r"\son\w+\s*=", html, flags=re.I), "inline event handler attribute"
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", html, flags=re.I), "external resource"
    for testid in ("pad", "prediction", "confidence", "bars", "preview", "clear", "undo", "upload",
                   "feedback-confirm", *(f"feedback-digit-{d}" for d in range(10))):
        assert f'data-testid="{testid}"' in html, testid
    for asset in re.findall(r'(?:src|href)="([^"#]+)"', html):
        if not asset.startswith(("http", "docs")):
            assert client.get("/" + asset).status_code == 200, asset


def test_serve_with_a_missing_model_says_so(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "digitpad.cli", "serve", "--port", "0", "--model", str(tmp_path / "no.onnx")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1, (out.stdout, out.stderr)
    assert "model file not found" in out.stderr and "Traceback" not in out.stderr, out.stderr


def test_importing_the_server_does_not_import_torch() -> None:
    code = ("import digitpad.web.app as s, sys; s.create_app(); "
            "assert 'torch' not in sys.modules, 'torch imported'")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr


# ------------------------------------------------------------------ a real uvicorn server


def raw_http(url: str, request: bytes, *, pause_after: int | None = None, pause_s: float = 0.0,
             timeout: float = 20) -> tuple[int, dict[str, str], bytes]:
    """Send bytes on a fresh socket (optionally pausing after `pause_after` bytes), read the answer."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        try:
            if pause_after is None:
                s.sendall(request)
            else:
                s.sendall(request[:pause_after])
                time.sleep(pause_s)
                s.sendall(request[pause_after:])
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before the whole body is sent
        data = b""
        while b"\r\n\r\n" not in data or len(data) < _wanted(data):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)}
    return status, headers, body


def _wanted(data: bytes) -> int:
    head, _, _ = data.partition(b"\r\n\r\n")
    m = re.search(rb"content-length:\s*(\d+)", head, flags=re.I)
    return len(head) + 4 + (int(m.group(1)) if m else 0)


def test_live_server_predicts(live_server: str, live_server_process, mnist_digits) -> None:
    img28, label = mnist_digits[8]
    r = httpx.post(live_server + "/api/predict", files={"image": ("d.png", encode(img28, "png-rgba"), "image/png")})
    assert r.status_code == 200, r.text
    assert_reading(r.json(), thresholds_of(httpx.get(live_server + "/api/config").json()))
    assert r.json()["digit"] == label
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "server" not in r.headers  # no version banner
    time.sleep(0.2)
    assert re.search(r'"POST /api/predict HTTP/1.1" 200', live_server_process.log()), live_server_process.log()[-2000:]


def test_live_server_body_limits(tmp_path: Path, server_process) -> None:
    """Real sockets: an honest but too-large Content-Length, a chunked body with no length,
    and a Content-Length that claims less than is sent."""
    limit = 20_000
    with server_process(tmp_path, env={"DIGITPAD_MAX_BODY_BYTES": str(limit)}) as server:
        head = (b"POST /api/predict HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n")
        # 1. Declared too large: refused from the header, before the body is sent.
        status, _, body = raw_http(server.url, head + f"Content-Length: {10 * limit}\r\n\r\n".encode())
        assert status == 413, body
        assert json.loads(body)["error"]["code"] == "payload_too_large"
        # 2. Chunked, no Content-Length: counted while read.
        chunk = b"a" * 8192
        chunked = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(5)) + b"0\r\n\r\n"
        status, _, body = raw_http(server.url, head + b"Transfer-Encoding: chunked\r\n\r\n" + chunked)
        assert status == 413, body
        # 3. Content-Length says 10 bytes, 60 KB follow: the server reads 10, which are not JSON.
        status, _, body = raw_http(server.url, head + b"Content-Length: 10\r\n\r\n" + b"{" * 60_000)
        assert status == 400, body
        # 4. A body within the limit still works on the same server.
        r = httpx.post(server.url + "/api/predict", json={"image": base64.b64encode(blank_png()).decode()})
        assert r.status_code == 200 and r.json()["status"] == "empty", r.text
        server.assert_alive()


def test_live_server_slow_upload_503(tmp_path: Path, server_process) -> None:
    with server_process(tmp_path, env={"DIGITPAD_REQUEST_TIMEOUT": "0.5"}) as server:
        payload = json.dumps({"image": base64.b64encode(blank_png()).decode()}).encode()
        req = (b"POST /api/predict HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
               + f"Content-Length: {len(payload)}\r\n\r\n".encode() + payload)
        status, headers, body = raw_http(server.url, req, pause_after=len(req) - 50, pause_s=2.0)
        assert status == 503, body
        assert json.loads(body)["error"]["code"] == "timeout"
        assert headers.get("x-content-type-options") == "nosniff"


def test_live_server_two_workers(tmp_path: Path, server_process, mnist_digits) -> None:
    """--workers 2: uvicorn spawns processes that rebuild the app from the settings the CLI got."""
    import shutil

    from digitpad.predict import Predictor

    model = tmp_path / "copy-of-model.onnx"
    shutil.copy(Predictor().path, model)  # the model in use (DIGITPAD_MODEL or the shipped one)
    with server_process(tmp_path, "--workers", "2", "--model", str(model)) as server:
        with httpx.Client(base_url=server.url) as c:
            for img28, label in mnist_digits[:4]:
                r = c.post("/api/predict", files={"image": ("d.png", encode(img28, "png-l"), "image/png")})
                assert r.status_code == 200, r.text
                assert r.json()["digit"] == label
        deadline = time.monotonic() + 30
        while server.log().count(f"loaded from {model}") < 2 and time.monotonic() < deadline:
            time.sleep(0.2)  # the second worker may still be starting
        log = server.log()
        assert log.count(f"loaded from {model}") == 2, log[-3000:]  # --model reached both workers
        assert '"POST /api/predict HTTP/1.1" 200' in log, log[-3000:]  # and worker processes log their requests
        if workers.PER_WORKER_SOCKETS:
            _assert_connections_spread(server)
        # A second server on the same port is refused (it would otherwise share the port's traffic).
        second = subprocess.run([sys.executable, "-m", "digitpad.cli", "serve", "--port", str(server.port),
                                 "--workers", "2", "--no-feedback"], capture_output=True, text=True, timeout=60)
        assert second.returncode == 1, second.stderr
        assert f"127.0.0.1:{server.port} is already in use" in second.stderr and "hint:" in second.stderr
        server.assert_alive()


def _assert_connections_spread(server) -> None:  # noqa: ANN001 (conftest.ServerProcess)
    """Each worker listens on a socket of its own, and new connections reach both of them."""
    import psutil

    def listening(child: psutil.Process) -> set[str]:  # its listening sockets on the port, as "socket:[inode]"
        return {os.readlink(f"/proc/{child.pid}/fd/{c.fd}") for c in child.net_connections("tcp")
                if c.status == "LISTEN" and c.laddr.port == server.port}

    def serving_workers(previous: list | None = None) -> list[psutil.Process]:
        """The supervisor's children that listen on the port (not multiprocessing's resource tracker),
        once there are two of them (a worker listens a moment after it logs its model) other than
        ``previous``."""
        deadline = time.monotonic() + 60
        while True:
            now = [child for child in psutil.Process(server.proc.pid).children() if listening(child)]
            if (len(now) == 2 and not set(now) & set(previous or [])) or time.monotonic() > deadline:
                return now
            assert httpx.get(server.url + "/healthz").status_code == 200  # the port answers meanwhile
            time.sleep(0.2)

    children = serving_workers()
    assert len(children) == 2, children
    assert len(set.union(*map(listening, children))) == 2  # two sockets, not one shared by both
    clients = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(16)]
    try:
        for c in clients:  # one request each, so that every connection has been accepted
            c.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            assert c.recv(4096).startswith(b"HTTP/1.1 200")
        ours = {c.getsockname() for c in clients}
        held = [sum((c.raddr.ip, c.raddr.port) in ours for c in child.net_connections("tcp") if c.raddr)
                for child in children]
        # 16 connections hashed over 2 sockets all land on one with probability 2/2**16.
        assert sum(held) == 16 and min(held) > 0, held
    finally:
        for c in clients:
            c.close()
    # A worker that dies is replaced by one with a socket of its own, and the port keeps answering.
    children[0].kill()
    children[0].wait(10)
    now = serving_workers(previous=children[:1])
    assert len(now) == 2 and len(set.union(*map(listening, now))) == 2, now


def test_readme_api_examples_run(live_server: str) -> None:
    """Docs cannot drift: the curl commands of the README's API section run against a real server."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("<!-- SECTION:api -->", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```(sh|console)\n(.*?)```", section, flags=re.S)
    commands = []
    for kind, block in blocks:
        text = block.replace("\\\n", " ")
        for line in text.splitlines():
            line = line.strip()
            if kind == "console" and line.startswith("$ "):
                commands.append((line[2:], text.split(line, 1)[1].strip().splitlines()[0]))
            elif kind == "sh" and line.startswith("curl "):
                commands.append((line, None))
    assert len(commands) >= 3, commands
    repo = Path(__file__).resolve().parents[1]
    for cmd, shown in commands:
        cmd = cmd.replace("http://127.0.0.1:8000", live_server)
        out = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, cwd=repo, timeout=60)
        assert out.returncode == 0, (cmd, out.stderr)
        body = json.loads(out.stdout)
        if shown is not None:
            assert body == json.loads(shown), (cmd, out.stdout)
        else:
            assert body["digit"] == 7 and body["status"] in ("ok", "uncertain"), (cmd, out.stdout[:300])


def test_predict_has_one_handler_and_answers_as_documented(settings: Settings, mnist_digits) -> None:
    """POST /api/predict is answered by one handler, ahead of FastAPI's stack (``web.predict``):
    no twin exists, OpenAPI documents it, and every answer matches the document."""
    from digitpad.web.schemas import ErrorResponse, PredictResponse

    requests = [
        {"files": {"image": ("d.png", encode(mnist_digits[3][0], "png-rgba"), "image/png")}},
        {"json": {"image": "data:image/png;base64," + base64.b64encode(encode(mnist_digits[7][0], "png-l")).decode()}},
        {"files": {"image": ("d.png", b"not an image", "image/png")}},
        {"json": {"image": 42}},
        {"content": b"{", "headers": {"content-type": "application/json"}},
        {"content": b"x", "headers": {"content-type": "text/plain"}},
        {"files": {"other": ("d.png", blank_png(), "image/png")}},
        {"files": {"image": ("d.png", png_header_only(50_000, 50_000), "image/png")}},
    ]
    with TestClient(create_app(settings)) as client:
        routes = [r for r in client.app.routes if getattr(r, "path", None) == "/api/predict"]
        assert len(routes) == 1, routes  # one handler: the direct dispatch guards that route's own app
        assert client.app.direct[("POST", "/api/predict")].app is routes[0].app
        op = client.get("/openapi.json").json()["paths"]["/api/predict"]["post"]
        statuses = []
        for kw in requests:
            r = client.post("/api/predict", **kw)
            statuses.append(r.status_code)
            assert str(r.status_code) in op["responses"], (r.status_code, list(op["responses"]))
            model = PredictResponse if r.status_code == 200 else ErrorResponse
            model.model_validate(r.json())
            assert r.headers["x-content-type-options"] == "nosniff" and "content-security-policy" in r.headers
            assert r.status_code != 200 or r.headers["cache-control"] == "no-store"
    assert statuses == [200, 200, 400, 422, 400, 415, 422, 413], statuses
    assert set(op["requestBody"]["content"]) == {"multipart/form-data", "application/json"}


def test_an_internal_preprocessing_failure_is_a_400_everywhere(mnist_digits, tmp_db: str, monkeypatch, capsys,
                                                                tmp_path: Path) -> None:
    """A failure inside preprocessing (a bug: here a ``finish`` that raises)
    is the same 400 on /api/predict, on /api/feedback and in `digitpad predict`: every path reads
    through ``reading.prepare``, and ``preprocess.preprocess`` translates it (once, 500 on the server)."""
    import dataclasses

    from digitpad import engines
    from digitpad.cli import main

    def broken(*args: object) -> None:
        raise ValueError("no ink left at the intermediate resolution")

    monkeypatch.setattr(engines, "NUMPY", dataclasses.replace(engines.NUMPY, finish=broken))
    monkeypatch.setenv("DIGITPAD_PREPROCESS", "numpy")
    png = encode(mnist_digits[4][0], "png-l")
    with TestClient(create_app(Settings(database_url=tmp_db, preprocess="numpy")), raise_server_exceptions=False) as c:
        assert_error(post_file(c, png), 400, "invalid_image")
        r = c.post("/api/feedback", files={"image": ("d.png", png, "image/png")}, data={"label": "4"})
        assert_error(r, 400, "invalid_image")
    (tmp_path / "d.png").write_bytes(png)
    assert main(["predict", str(tmp_path / "d.png"), "--json"]) == 1
    row = json.loads(capsys.readouterr().out)[0]
    assert row["status"] == "error" and row["error"] == "the image could not be processed", row

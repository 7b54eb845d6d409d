"""The web app: FastAPI serving the drawing page (``digitpad/static/``) and the JSON API.

    digitpad serve [--host 127.0.0.1] [--port 8000] [--workers N] [--model PATH]

``create_app(settings)`` builds the app; the ONNX ``Predictor`` is opened once in the lifespan
and handed to routes as a dependency, so importing this module loads no model and never
imports torch. Endpoints:

    POST /api/predict   an image (multipart field ``image``, or JSON ``{"image": data URL | base64}``)
                        -> digit, confidence, probabilities, status, 28x28 preview, timings
    GET  /api/model     the loaded model's metadata
    GET  /api/config    what the page needs to know (feedback on/off, model version, threshold)
    GET  /healthz       liveness
    GET  /docs          OpenAPI (Swagger UI); the spec is at /openapi.json
    GET  /              the page

Every error answers ``{"error": {"code", "message"}}`` with a 4xx (or 503 on timeout); no
stack trace ever reaches a client. The body limit and the request timeout are enforced by one
small ASGI middleware (``_Guard``) that also adds the security headers to every response.

``POST /api/predict``, the one hot path, is answered by ``predict_direct`` behind its own
``_Guard``, ahead of FastAPI's middleware stack and router (``_App.direct``): the same answers,
headers and errors as the routed endpoint, which stays the documented one (OpenAPI).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import os
import re
import struct
import threading
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, NamedTuple

import anyio
import numpy as np
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount

from . import forms, http_limits, workers
from .errors import (
    Busy,
    DigitpadError,
    InvalidImage,
    InvalidRequest,
    MissingField,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from .predict import Batcher, Prediction, Predictor
from .settings import Settings

if TYPE_CHECKING:
    from .preprocess import Preprocessed

log = logging.getLogger(__name__)

STATIC_DIR = Path(str(resources.files("digitpad") / "static"))
SWAGGER_UI_DIR = "vendor/swagger-ui-5.35.0"  # under STATIC_DIR: the /docs page's script and styles

# Bodies up to this size are decoded and predicted on the event loop itself: a drawing from the
# page (~3-15 KB of PNG) takes well under a millisecond, far less than a threadpool round trip.
# Anything bigger (photos) goes to a worker thread, where the request timeout can abandon it.
INLINE_MAX_BYTES = 64 * 1024
# ... and whose header claims at most this many pixels: a 60 KB PNG can claim 40 MP of one
# colour, whose decoding would hold the event loop (and every request behind it) for a second.
INLINE_MAX_PIXELS = 512 * 512
# Images decoded in worker threads at once, per process. An RGBA PNG needs ~12 bytes a pixel
# while it is decoded and reduced (~200 MB at the default 16 MP limit): anyio's 40 threads at
# once could exhaust the machine's memory. Others wait their turn, within the request timeout.
HEAVY_JOBS = 1

# Error codes for Starlette's own HTTP errors (unknown route, wrong method, bad multipart...).
_HTTP_CODES = {400: "invalid_request", 404: "not_found", 405: "method_not_allowed", 413: "payload_too_large",
               415: "unsupported_media_type", 422: "missing_field", 503: "timeout"}

# 'wasm-unsafe-eval': on-device mode compiles onnxruntime-web's WebAssembly (no JS eval is allowed).
PAGE_CSP = ("default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data: blob:; "
            "connect-src 'self'; font-src 'self'; worker-src 'self'; manifest-src 'self'; object-src 'none'; "
            "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}


# ------------------------------------------------------------------ schemas (for OpenAPI and docs)


class Timing(BaseModel):
    decode: float = Field(description="ms to read the body's image (base64 + image decoding)")
    preprocess: float = Field(description="ms to turn it into the 28x28 model input")
    inference: float = Field(description="ms in the model")
    total: float = Field(description="ms from the route's start to the answer")


class PredictResponse(BaseModel):
    digit: int | None = Field(description="the digit read, or null when no ink was found", ge=0, le=9)
    confidence: float = Field(description="probability of that digit (0 when empty)", ge=0, le=1)
    probabilities: list[float] = Field(description="probability of each digit 0..9", min_length=10, max_length=10)
    status: Literal["ok", "uncertain", "empty"] = Field(
        description="'empty': no ink; 'uncertain': confidence below the server's threshold")
    preview: str = Field(description="the 28x28 image the model saw, as a PNG data URL (white ink on black)")
    model: str = Field(description="version of the model that answered")
    timing_ms: Timing


class ErrorDetail(BaseModel):
    code: str = Field(description="stable machine-readable code, e.g. invalid_image")
    message: str = Field(description="what went wrong, for a person")


class ErrorResponse(BaseModel):
    error: ErrorDetail


class HealthResponse(BaseModel):
    status: Literal["ok"]
    model: str


class ConfigResponse(BaseModel):
    feedback: bool = Field(description="whether the page should offer corrections (POST /api/feedback)")
    model: str = Field(description="version of the loaded model")
    uncertain_threshold: float = Field(description="below this confidence a reading is 'uncertain'")
    model_url: str = Field("api/model.onnx", description="the model file for on-device reading, versioned by "
                                                         "its hash (?v=...): cache it for good")


_IMAGE_DESCRIPTION = ("PNG (with or without alpha), JPEG (EXIF orientation applied), WebP, BMP or GIF (first frame). "
                      "Dark ink on a light or transparent background, or light ink on dark.")
PREDICT_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["image"],
                "properties": {"image": {"type": "string", "format": "binary", "description": _IMAGE_DESCRIPTION}},
            },
        },
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["image"],
                "properties": {"image": {"type": "string", "description":
                                         "the image as a data URL (data:image/png;base64,...) or bare base64. "
                                         + _IMAGE_DESCRIPTION}},
            },
            "example": {"image": "data:image/png;base64,iVBORw0KGgo..."},
        },
    },
}


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    text = {400: "not an image, bad base64 or malformed JSON", 413: "body or image too large",
            415: "unsupported image format or request content type", 422: "the image field is missing",
            503: "the request took longer than the server's timeout"}
    return {c: {"model": ErrorResponse, "description": text.get(c, "error")} for c in codes}


# ------------------------------------------------------------------ the work of one prediction


def _ms(t0: float, t1: float) -> float:
    return round((t1 - t0) * 1000, 3)


def _b64decode(text: str) -> bytes:
    """Bare base64 or a data URL -> bytes (InvalidImage / UnsupportedMediaType on bad input)."""
    if text.startswith("data:"):
        header, sep, text = text.partition(",")
        if not sep or not header.endswith(";base64"):
            raise InvalidImage("a data URL must look like data:image/png;base64,...", code="invalid_base64")
        mime = header[5:-7].split(";", 1)[0].strip().lower()
        if mime and not mime.startswith("image/"):
            raise UnsupportedMediaType(f"the data URL holds {mime[:60]}, not an image")
    # The canvas API emits plain base64; be lenient with whitespace and missing padding only.
    text = "".join(text.split())
    text += "=" * (-len(text) % 4)
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidImage("the image is not valid base64", code="invalid_base64") from None
    if not data:
        raise InvalidImage("the image is empty")
    return data


def _png_data_url(img28: np.ndarray) -> str:
    """(28, 28) uint8 -> 'data:image/png;base64,...' (~900 bytes).

    Written with zlib directly: Pillow's PNG writer costs ~0.3 ms of per-call setup, a fifth
    of the whole request budget, for an image this small (a test checks Pillow reads it back).
    """
    rows = np.zeros((28, 29), np.uint8)  # each row: filter byte 0 (None), then 28 pixels
    rows[:, 1:] = img28
    png = b"".join((
        b"\x89PNG\r\n\x1a\n",
        _png_chunk(b"IHDR", struct.pack(">IIBBBBB", 28, 28, 8, 0, 0, 0, 0)),  # 8-bit grayscale
        _png_chunk(b"IDAT", zlib.compress(rows.tobytes(), 1)),  # level 1: ~2x faster, ~10% bigger
        _png_chunk(b"IEND", b""),
    ))
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def read_digit(payload: bytes | str, predictor: Predictor, settings: Settings, t_start: float) -> dict:
    """Image bytes (or their base64 / data URL text) -> the /api/predict answer as a dict.

    Pure CPU work (base64, decoding, preprocessing, the model): safe to run in a worker thread.
    """
    reading = _read_image(payload, settings)
    prediction = None if reading.pre.empty else predictor.predict(reading.pre.image)
    inference_ms = _ms(reading.preprocessed, time.perf_counter())
    return _answer(reading, prediction, inference_ms, predictor.version, settings, t_start)


async def read_digit_batched(payload: bytes | str, batcher: Batcher, settings: Settings, t_start: float) -> dict:
    """``read_digit`` in the event loop, where requests that came together share one model run."""
    reading = _read_image(payload, settings)
    prediction, inference_ms = (None, 0.0) if reading.pre.empty else await batcher.predict(reading.pre.image)
    return _answer(reading, prediction, round(inference_ms, 3), batcher.predictor.version, settings, t_start)


class _Reading(NamedTuple):
    pre: Preprocessed  # .image: (28, 28) uint8, white ink on black
    started: float  # perf_counter times
    decoded: float
    preprocessed: float


def _read_image(payload: bytes | str, settings: Settings) -> _Reading:
    """Payload -> its 28x28 input for the model, timed."""
    from .preprocess import decode_image, to_mnist

    t0 = time.perf_counter()
    data = _b64decode(payload) if isinstance(payload, str) else payload
    img = decode_image(data, max_pixels=settings.max_pixels)
    t1 = time.perf_counter()
    pre = to_mnist(img)
    return _Reading(pre, t0, t1, time.perf_counter())


def _answer(reading: _Reading, prediction: Prediction | None, inference_ms: float, version: str,
            settings: Settings, t_start: float) -> dict:
    """The /api/predict answer as a dict."""
    from .predict import status_for

    if prediction is None:
        digit, confidence, probs = None, 0.0, [0.0] * 10
    else:
        digit, confidence = prediction.digit, round(prediction.confidence, 6)
        probs = [round(v, 6) for v in prediction.probabilities]
    status = status_for(confidence, empty=reading.pre.empty, threshold=settings.uncertain_threshold)
    preview = _png_data_url(reading.pre.image)
    total = _ms(t_start, time.perf_counter())
    # DEBUG: uvicorn's access log already has a line per request; this second one costs ~30 us (~2%).
    log.debug("predicted %s (%s, confidence %.3f) in %.2f ms", digit, status, confidence, total)
    return {
        "digit": digit, "confidence": confidence, "probabilities": probs, "status": status, "preview": preview,
        "model": version,
        "timing_ms": {"decode": _ms(reading.started, reading.decoded),
                      "preprocess": _ms(reading.decoded, reading.preprocessed),
                      "inference": inference_ms, "total": total},
    }


def _claimed_pixels(payload: bytes | str) -> int:
    """Width x height that the image's header claims, nothing decoded (0 when it cannot be read:
    the real decode then fails fast with the right error)."""
    import io
    import warnings

    from PIL import Image

    try:
        head = payload
        if isinstance(payload, str):  # a canvas PNG: its size is in the first 24 bytes (32 base64 chars)
            text = payload.partition(",")[2] if payload.startswith("data:") else payload
            try:
                head = base64.b64decode(text[:32], validate=True)
            except ValueError:  # whitespace or padding in the first 32: the full decode below
                head = b""
        if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
            width, height = struct.unpack(">II", head[16:24])
            return width * height
        data = _b64decode(payload) if isinstance(payload, str) else payload
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as img:
                return img.width * img.height
    except Exception:
        return 0


def run_limited(jobs: threading.Semaphore, deadline: float, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` in a worker thread, at most HEAVY_JOBS image decodes at a time (predict and
    feedback share the slots). The slot is taken here, in the thread, and held until the work
    really ends: a request abandoned by the timeout keeps its slot while its decode finishes,
    and one still waiting when its time is up never starts."""
    if not jobs.acquire(timeout=max(0.0, deadline - time.monotonic())):
        raise Busy("the server is busy with large images; try again")
    try:
        return fn(*args)
    finally:
        jobs.release()


def _log_preprocess_engine() -> None:
    from . import preprocess

    level = logging.INFO if preprocess.ENGINE == "c" else logging.WARNING
    log.log(level, "preprocessing: %s", preprocess.engine_description())


def _return_freed_memory_to_os() -> None:
    """Make glibc give large freed blocks back to the OS at once. By default its mmap threshold
    grows after the first large free, and freed image buffers of up to 32 MB then stay in the
    heap: after one big photo a worker would keep ~400 MB for good. A fixed 1 MB threshold only
    affects buffers that large (a 280x280 canvas PNG decodes to ~300 KB)."""
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").mallopt(-3, 1 << 20)  # -3: M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        pass  # not glibc (musl, macOS): nothing to tune


def _image_from_body(data: bytes, content_type: str) -> bytes | str:
    """The request's image: raw bytes (multipart) or base64 text (JSON), unparsed beyond that."""
    mime = content_type.split(";", 1)[0].strip().lower()
    if mime == "application/json":
        try:
            body = json.loads(data)
        except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting ([[[[...)
            raise InvalidRequest("the body is not valid JSON", code="invalid_json") from None
        if not isinstance(body, dict) or "image" not in body:
            raise MissingField('the JSON body needs an "image" field (a data URL or base64 string)')
        if not isinstance(body["image"], str):
            raise MissingField('"image" must be a string: a data URL or base64')
        return body["image"]
    if mime == "multipart/form-data":
        data = forms.field(data, content_type, "image")
        if data is None:
            raise MissingField('the form needs a file field named "image" (curl -F image=@digit.png)')
        if not data:
            raise InvalidImage("the uploaded file is empty")
        return data
    shown = mime or "no content type"
    raise UnsupportedMediaType(f"send multipart/form-data (field 'image') or application/json, not {shown}",
                               code="unsupported_content_type")


# ------------------------------------------------------------------ middleware: limits + headers


class _Guard:
    """Pure ASGI middleware (cheap: no BaseHTTPMiddleware) that, for every HTTP request,

    - reads the whole body first, counting bytes as they arrive: a declared Content-Length over
      the limit is refused before reading, and a chunked or lying body is cut off at the limit
      (413); routes then see the buffered body;
    - answers 503 when the request (body upload included) takes longer than the timeout;
    - adds the security headers to every response (the /docs page gets its own CSP).
    """

    def __init__(self, app: Callable[..., Awaitable[None]], *, max_body: int, timeout: float,
                 headers: list[tuple[bytes, bytes]], docs_headers: list[tuple[bytes, bytes]]) -> None:
        self.app = app
        self.max_body = max_body
        self.timeout = timeout
        self.headers = headers
        self.docs_headers = docs_headers

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self.docs_headers if scope["path"] == "/docs" else self.headers
        started = False

        async def send_with_headers(message: dict) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        with anyio.move_on_after(self.timeout) as deadline:
            try:
                body = await self._read_body(scope, receive)
            except DigitpadError as e:
                await _send_error(send_with_headers, e.http_status, e.code, e.message)
                return
            if body is None:  # the client went away
                return
            replayed = False

            async def replay() -> dict:
                nonlocal replayed
                if not replayed:
                    replayed = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            await self.app(scope, replay, send_with_headers)
        if deadline.cancelled_caught and not started:
            log.warning("%s %s timed out after %.1f s", scope["method"], scope["path"], self.timeout)
            await _send_error(send_with_headers, 503, "timeout",
                              f"the request took longer than {self.timeout:g} s; try again")

    async def _read_body(self, scope: dict, receive: Callable) -> bytes | None:
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    raise InvalidRequest("Content-Length is not a number") from None
                if declared > self.max_body:
                    raise PayloadTooLarge(f"the body is {declared:,} bytes, over the {self.max_body:,} byte limit")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            if chunk:
                size += len(chunk)
                if size > self.max_body:
                    raise PayloadTooLarge(f"the body is over the {self.max_body:,} byte limit")
                chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _send_error(send: Callable, status: int, code: str, message: str) -> None:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


# ------------------------------------------------------------------ the app


class _PageMount(Mount):
    """The page's files at ``/``, except under ``/api/``: there the router's own answers stand
    (a JSON 404 for an unknown endpoint, a 405 whose Allow header names the endpoint's methods)."""

    def matches(self, scope: dict) -> tuple[Match, dict]:
        if scope.get("path", "").startswith("/api/"):
            return Match.NONE, {}
        return super().matches(scope)


class _StaticFiles(StaticFiles):
    """The page's files, always revalidated (ETag) so a new version is picked up at once;
    vendored files carry their version in their path, so browsers keep them for a year."""

    def file_response(self, full_path: Any, stat_result: Any, scope: dict, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(full_path, stat_result, scope, *args, **kwargs)
        versioned = scope.get("path", "").startswith("/vendor/")
        response.headers["cache-control"] = "public, max-age=31536000, immutable" if versioned else "no-cache"
        if str(full_path).endswith(".wasm"):
            response.headers["content-type"] = "application/wasm"  # needed for streaming compilation
        return response


class _GzipExceptPredict:
    """gzip (Starlette's GZipMiddleware) for everything over ~1 KB (the page, the 14 MB
    onnxruntime .wasm -> ~3.7 MB, the model) except /api/predict, whose small answers are
    latency-bound. Compressed static responses lose Content-Length, not their ETag."""

    def __init__(self, app: Callable[..., Awaitable[None]], minimum_size: int = 1024) -> None:
        from starlette.middleware.gzip import GZipMiddleware

        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=minimum_size, compresslevel=6)

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "http" and not scope["path"].startswith("/api/predict"):
            await self.gzip(scope, receive, send)
        else:
            await self.app(scope, receive, send)


class _App(FastAPI):
    """FastAPI, plus ``direct``: (method, exact path) -> an ASGI app that answers those requests
    itself, ahead of FastAPI's middleware stack and router (see ``predict_direct``)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.direct: dict[tuple[str, str], Callable[..., Awaitable[None]]] = {}

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "http":
            target = self.direct.get((scope["method"], scope["path"]))
            if target is not None:
                await target(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


async def get_predictor(request: Request) -> Predictor:  # async: a sync dependency costs a threadpool hop
    """The Predictor opened in the lifespan."""
    return request.app.state.predictor


PredictorDep = Annotated[Predictor, Depends(get_predictor)]


def _error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    # A message may quote the client's input (a data URL's MIME type...): a lone surrogate from
    # JSON like "\ud800" cannot be encoded as UTF-8 and would turn a 4xx into a 500.
    message = message.encode("utf-8", "backslashreplace").decode("utf-8")
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


def _docs_page(openapi_url: str) -> tuple[HTMLResponse, str]:
    """Swagger UI from the vendored copy (no CDN: the docs work offline, like the page) and a
    CSP allowing exactly its one inline script by hash: the drawing page keeps ``script-src 'self'``."""
    page = get_swagger_ui_html(openapi_url=openapi_url, title="digitpad API",
                               swagger_js_url=f"/{SWAGGER_UI_DIR}/swagger-ui-bundle.js",
                               swagger_css_url=f"/{SWAGGER_UI_DIR}/swagger-ui.css",
                               swagger_favicon_url="/favicon.svg")
    html = page.body.decode()
    inline = re.findall(r"<script>(.*?)</script>", html, flags=re.S)
    hashes = " ".join("'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
                      for s in inline)
    csp = (f"default-src 'self'; script-src 'self' {hashes}; style-src 'self'; img-src 'self' data:; "
           "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
    return page, csp


def create_app(settings: Settings | None = None) -> FastAPI:
    """The digitpad web app. Nothing heavy happens here: the model opens in the lifespan."""
    settings = settings or Settings()
    http_limits.configure(settings)  # header size/time limits of this process's connections
    heavy_jobs = threading.BoundedSemaphore(HEAVY_JOBS)
    # python-multipart logs every malformed body at WARNING: client noise, already answered 400.
    logging.getLogger("python_multipart").setLevel(logging.ERROR)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        _return_freed_memory_to_os()
        app.state.predictor = Predictor(settings.model, threads=settings.threads)
        app.state.batcher = Batcher(app.state.predictor)  # for the small images read in the event loop
        log.info("model %s loaded from %s", app.state.predictor.version, app.state.predictor.path)
        _log_preprocess_engine()
        # FEEDBACK-HOOK: lifespan  (open the feedback store here, put it on app.state, close it after `yield`)
        from .feedback_api import open_store

        app.state.store = open_store(settings)  # None when collection is off (--no-feedback)
        yield
        if app.state.store is not None:
            app.state.store.close()

    app = _App(
        title="digitpad",
        summary="Handwritten digit recognizer: draw a digit, a CNN trained on MNIST reads it.",
        version=_package_version(),
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.heavy_jobs = heavy_jobs  # shared with POST /api/feedback, which decodes images too

    # ---- errors: always {"error": {"code", "message"}}, never a stack trace
    @app.exception_handler(DigitpadError)
    async def on_digitpad_error(request: Request, exc: DigitpadError) -> JSONResponse:
        return _error_response(exc.http_status, exc.code, exc.message)

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        return _error_response(exc.status_code, _HTTP_CODES.get(exc.status_code, "http_error"), message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        message = f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg", "invalid request"))
        return _error_response(422, "missing_field", message)

    security = {**SECURITY_HEADERS}

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Runs in Starlette's outermost middleware, outside _Guard: add the headers here.
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return _error_response(500, "internal_error", "internal error; the server log has the details",
                               {**security, "content-security-policy": PAGE_CSP})

    # ---- API
    @app.post(
        "/api/predict",
        summary="Read the digit in an image",
        response_model=PredictResponse,
        responses=_errors(400, 413, 415, 422, 503),
        openapi_extra={"requestBody": PREDICT_BODY},
        tags=["predict"],
    )
    async def predict(request: Request) -> Response:
        return Response(await answer(await request.body(), request.headers.get("content-type", "")),
                        media_type="application/json", headers={"cache-control": "no-store"})

    async def answer(body: bytes, content_type: str) -> bytes:
        """The work of POST /api/predict: request body -> the JSON answer (DigitpadError on bad input)."""
        t_start = time.perf_counter()
        predictor: Predictor = app.state.predictor  # (not a dependency: FastAPI's solving costs ~0.05-0.1 ms)
        payload = _image_from_body(body, content_type)
        if len(payload) <= INLINE_MAX_BYTES and _claimed_pixels(payload) <= INLINE_MAX_PIXELS:
            result = await read_digit_batched(payload, app.state.batcher, settings, t_start)
        else:
            # abandon_on_cancel: the request timeout can answer 503 while a huge decode finishes.
            deadline = time.monotonic() + settings.request_timeout
            result = await anyio.to_thread.run_sync(run_limited, heavy_jobs, deadline, read_digit, payload,
                                                    predictor, settings, t_start, abandon_on_cancel=True)
        # Encoded here, not by FastAPI: its re-validation of the (already well-formed) dict costs.
        return json.dumps(result, separators=(",", ":")).encode()

    async def predict_direct(scope: dict, receive: Callable, send: Callable) -> None:
        """POST /api/predict as a bare ASGI endpoint, behind its own _Guard, outside FastAPI's
        middleware stack and router (``_App`` dispatches to it): the same answers, bytes and headers
        as the routed ``predict`` above, which stays the documented one (OpenAPI). Saves ~0.15 ms
        of framework code, a tenth of a request."""
        message = await receive()  # _Guard's replay: the whole body
        content_type = next((v for k, v in scope["headers"] if k == b"content-type"), b"").decode("latin-1")
        try:
            data = await answer(message["body"], content_type)
        except DigitpadError as exc:
            await (await on_digitpad_error(Request(scope, receive), exc))(scope, receive, send)
            return
        except Exception:  # on_unexpected's answer, minus its headers: here _Guard adds them
            log.exception("unexpected error on POST /api/predict")
            await _error_response(500, "internal_error", "internal error; the server log has the details")(
                scope, receive, send)
            return
        # Response's own header order: a test holds this path byte-identical to the routed one.
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"cache-control", b"no-store"), (b"content-length", str(len(data)).encode()),
                                (b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": data})

    @app.get("/api/model", summary="Metadata of the loaded model", tags=["model"])
    async def model_info(predictor: PredictorDep) -> dict[str, Any]:
        return predictor.metadata

    @app.get("/api/config", summary="Settings the page needs", response_model=ConfigResponse, tags=["model"])
    async def config(predictor: PredictorDep) -> ConfigResponse:
        return ConfigResponse(feedback=settings.feedback, model=predictor.version,
                              uncertain_threshold=settings.uncertain_threshold,
                              model_url=f"api/model.onnx?v={_model_file(request_app=app)[1]}")

    @app.get("/api/model.onnx", summary="The model file, for on-device reading", tags=["model"],
             response_class=Response)
    async def model_file(request: Request) -> Response:
        data, etag = _model_file(request_app=app)
        # ?v=<hash> URLs never change content: cache for good. Otherwise revalidate by ETag.
        fixed = request.query_params.get("v") == etag
        headers = {"etag": f'"{etag}"',
                   "cache-control": "public, max-age=31536000, immutable" if fixed else "no-cache"}
        if request.headers.get("if-none-match", "").strip() == f'"{etag}"':
            return Response(status_code=304, headers=headers)
        return Response(data, media_type="application/octet-stream", headers=headers)

    @app.get("/healthz", summary="Liveness", response_model=HealthResponse, tags=["health"])
    async def healthz(predictor: PredictorDep) -> HealthResponse:
        return HealthResponse(status="ok", model=predictor.version)

    docs_page, docs_csp = _docs_page(app.openapi_url or "/openapi.json")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return docs_page

    # FEEDBACK-HOOK: routes  (app.include_router(digitpad.feedback_api.router) goes here, before the page mount)
    from .feedback_api import router as feedback_router

    app.include_router(feedback_router)

    # ---- the page (last: it catches every other path)
    app.router.routes.append(_PageMount("/", app=_StaticFiles(directory=STATIC_DIR, html=True), name="static"))

    def encode(h: dict[str, str]) -> list[tuple[bytes, bytes]]:
        return [(k.encode(), v.encode()) for k, v in h.items()]

    guard = {"max_body": settings.max_body_bytes, "timeout": settings.request_timeout,
             "headers": encode({**security, "content-security-policy": PAGE_CSP}),
             "docs_headers": encode({**security, "content-security-policy": docs_csp})}
    app.add_middleware(_GzipExceptPredict)
    app.add_middleware(_Guard, **guard)
    app.direct[("POST", "/api/predict")] = _Guard(predict_direct, **guard)
    return app


def _model_file(request_app: FastAPI) -> tuple[bytes, str]:
    """The loaded model's bytes and a 16-hex-digit hash of them (its ETag), read once."""
    cached = getattr(request_app.state, "model_file", None)
    if cached is None:
        data = Path(request_app.state.predictor.path).read_bytes()
        cached = request_app.state.model_file = (data, hashlib.sha256(data).hexdigest()[:16])
    return cached


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("digitpad")
    except PackageNotFoundError:
        return "0"


# ------------------------------------------------------------------ running it


def app_from_env() -> FastAPI:
    """Factory for uvicorn worker processes (``--workers N``): Settings come from DIGITPAD_* env vars."""
    return create_app(Settings())


def _settings_to_env(settings: Settings) -> None:
    """Hand the settings to worker processes: uvicorn spawns them fresh, so they re-read the env."""
    for name, value in settings.model_dump().items():
        key = f"DIGITPAD_{name.upper()}"
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = str(value).lower() if isinstance(value, bool) else str(value)


def log_config(level: str) -> dict:
    """uvicorn's logging config plus the digitpad loggers (worker processes start with none)."""
    from uvicorn.config import LOGGING_CONFIG

    cfg = json.loads(json.dumps(LOGGING_CONFIG))
    cfg["loggers"]["digitpad"] = {"handlers": ["default"], "level": level.upper(), "propagate": False}
    return cfg


def serve(settings: Settings) -> None:
    """Run the app under uvicorn (blocking). ``workers > 1`` runs that many processes."""
    import uvicorn

    # Fail fast, as one line plus a hint from the CLI, rather than as a traceback from the lifespan.
    port = workers.check_address(settings.host, settings.port)
    Predictor(settings.model, threads=settings.threads)
    common = dict(host=settings.host, port=settings.port, log_level=settings.log_level.lower(),
                  log_config=log_config(settings.log_level), access_log=settings.access_log, server_header=False,
                  http=http_limits.http_protocol(settings))
    if settings.workers > 1:
        _settings_to_env(settings)
        common["port"] = port  # --port 0: the free port found, the same for every worker
        workers.run_workers(uvicorn.Config("digitpad.server:app_from_env", factory=True, workers=settings.workers,
                                           **common), settings.host, port)
    else:
        uvicorn.run(create_app(settings), **common)

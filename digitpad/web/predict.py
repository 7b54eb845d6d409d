"""``POST /api/predict``: the hot path, answered ahead of FastAPI's stack.

``PredictEndpoint`` is a bare ASGI app (a ``DirectEndpoint``, as is ``read.ReadEndpoint``). Its
route is a ``DirectRoute`` of the router (so other methods get the router's 405 and Allow
header, as on every route), and the app dispatches its POSTs straight to it behind its own
``Guard`` (limits, timeout, security headers), skipping the middleware stack, the router and
FastAPI's request handling: ~0.15 ms of a ~1 ms request (BENCHMARKS.md). ``openapi_operation``
documents it (FastAPI documents only its own routes).

Small images (a drawing from the page) are read on the event loop, where requests that arrive
together share one model run (``predict.Batcher``); big ones (photos) in a worker thread, at
most ``HEAVY_JOBS`` per process at a time, where the request timeout can abandon them.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import anyio
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.datastructures import Headers
from starlette.routing import Route
from zlib_ng import gzip_ng

from ..decode import claimed_pixels
from ..errors import Busy, DigitpadError
from .body import image_from_body
from .errors import for_error, internal_error
from .precompressed import MIN_BYTES, accepts_gzip
from .schemas import IMAGE_BODY, ErrorResponse, PredictResponse, errors

log = logging.getLogger(__name__)

PATH = "/api/predict"
# Bodies up to this size are decoded and predicted on the event loop itself: a drawing from the
# page (~3-15 KB of PNG) takes well under a millisecond, far less than a threadpool round trip.
INLINE_MAX_BYTES = 64 * 1024
# ... and whose header claims at most this many pixels: a 60 KB PNG can claim 40 MP of one
# colour, whose decoding would hold the event loop (and every request behind it) for a second.
INLINE_MAX_PIXELS = 512 * 512
# Images decoded in worker threads at once, per process. An RGBA PNG needs ~12 bytes a pixel
# while it is decoded and reduced (~200 MB at the default 16 MP limit): anyio's 40 threads at
# once could exhaust the machine's memory. Others wait their turn, within the request timeout.
HEAVY_JOBS = 1


def run_limited(jobs: threading.Semaphore, deadline: float, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` in a worker thread, at most HEAVY_JOBS image decodes at a time (feedback has
    slots of its own). The slot is taken here, in the thread, and held until the work really
    ends: a request abandoned by the timeout keeps its slot while its decode finishes, and one
    still waiting when its time is up (``deadline`` counts from the request's start) never starts."""
    if not jobs.acquire(timeout=max(0.0, deadline - time.monotonic())):
        raise Busy("the server is busy with large images; try again")
    try:
        return fn(*args)
    finally:
        jobs.release()


class DirectRoute(Route):
    """A route whose requests the app answers ahead of its middleware stack (``app._App``)."""


class DirectEndpoint:
    """A POST route as a bare ASGI app (the Guard in front has buffered the whole body): the
    body goes to ``answer``, whose JSON bytes are the 200; a DigitpadError is its 4xx/503 JSON,
    anything else a logged 500. Subclasses give ``PATH``, ``answer`` and ``openapi``.

    ``state`` is the app's state: the lifespan puts the readers and the ``batcher`` there."""

    PATH = ""
    GZIP = False  # answers of MIN_BYTES or more gzipped for clients that take it (as GZipMiddleware would)

    def __init__(self, state: Any, timeout: float) -> None:
        self.state = state
        self.timeout = timeout

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        message = await receive()  # the Guard's replay: the whole body
        content_type = next((v for k, v in scope["headers"] if k == b"content-type"), b"").decode("latin-1")
        try:
            data = await self.answer(message["body"], content_type, scope.get("digitpad.deadline"))
        except DigitpadError as exc:
            await for_error(exc)(scope, receive, send)
            return
        except Exception:  # the Guard adds the security headers
            log.exception("unexpected error on POST %s", self.PATH)
            await internal_error()(scope, receive, send)
            return
        headers = [(b"cache-control", b"no-store"), (b"content-type", b"application/json")]
        if self.GZIP and len(data) >= MIN_BYTES and accepts_gzip(Headers(scope=scope)):
            data = gzip_ng.compress(data, compresslevel=6)  # (~0.1 ms for a number's answer)
            headers += [(b"content-encoding", b"gzip"), (b"vary", b"Accept-Encoding")]
        await send({"type": "http.response.start", "status": 200,
                    "headers": [*headers, (b"content-length", str(len(data)).encode())]})
        await send({"type": "http.response.body", "body": data})

    async def answer(self, body: bytes, content_type: str, deadline: float | None = None) -> bytes:
        """Request body -> the JSON answer (DigitpadError on bad input). ``deadline``
        (``time.monotonic()``, from the Guard): when the request's time is up."""
        raise NotImplementedError

    @classmethod
    def openapi(cls) -> tuple[dict, dict]:
        """(the route's OpenAPI path item, the component schemas it refers to)."""
        raise NotImplementedError

    @classmethod
    def route(cls, state: Any, timeout: float) -> DirectRoute:
        """The endpoint's POST route, for the app's router."""
        return DirectRoute(cls.PATH, cls(state, timeout), methods=["POST"], include_in_schema=False)


class PredictEndpoint(DirectEndpoint):
    """POST /api/predict."""

    PATH = PATH

    async def answer(self, body: bytes, content_type: str, deadline: float | None = None) -> bytes:
        t_start = time.perf_counter()
        reader = self.state.reader
        image = image_from_body(body, content_type) if len(body) <= INLINE_MAX_BYTES else None
        if image is not None and claimed_pixels(image) <= INLINE_MAX_PIXELS:
            reading = await reader.read_batched(image, self.state.batcher, t_start)
        else:
            # A large body is parsed (JSON, base64) and read in a worker thread: never on the event
            # loop. abandon_on_cancel: the request timeout can answer 503 while a huge decode finishes.
            deadline = deadline or time.monotonic() + self.timeout
            reading = await anyio.to_thread.run_sync(run_limited, self.state.heavy_jobs, deadline, _read_body,
                                                     reader, body, content_type, image, t_start, abandon_on_cancel=True)
        # Encoded here: pydantic's validation of the (already well-formed) answer would cost ~0.1 ms.
        return json.dumps(reading.answer(), separators=(",", ":")).encode()

    @classmethod
    def openapi(cls) -> tuple[dict, dict]:
        return openapi_operation(PredictResponse, "the digit read", {
            "tags": ["predict"], "summary": "Read the digit in an image",
            "operationId": "predict_api_predict_post",  # (what FastAPI would name it)
            "description": "Answered ahead of the app's middleware and router: the hot path."})


def _read_body(reader: Any, body: bytes, content_type: str, image: bytes | None, t_start: float) -> Any:
    """(In a worker thread) the body's image, parsed here unless it already was -> its Reading."""
    return reader.read(image_from_body(body, content_type) if image is None else image, t_start)


def openapi_operation(response: type[BaseModel], ok: str, operation: dict) -> tuple[dict, dict]:
    """(the path item of a POST of an image answered directly, the component schemas it refers
    to), for the app's OpenAPI document: FastAPI documents routes of its router, and a direct
    endpoint is not one. ``operation``: tags, summary, operationId...; ``ok``: the 200's description."""
    _, defs = models_json_schema([(response, "serialization"), (ErrorResponse, "serialization")],
                                 ref_template="#/components/schemas/{model}")
    ref = {"$ref": f"#/components/schemas/{response.__name__}"}
    responses = {"200": {"description": ok, "content": {"application/json": {"schema": ref}}}}
    for code, spec in errors(400, 413, 415, 422, 503).items():
        responses[str(code)] = {"description": spec["description"], "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/ErrorResponse"}}}}
    return {"post": {**operation, "requestBody": IMAGE_BODY, "responses": responses}}, defs.get("$defs", {})

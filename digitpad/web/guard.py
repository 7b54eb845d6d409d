"""The guard in front of every request: body size and time limits, and the security headers.

A pure ASGI middleware (no BaseHTTPMiddleware: it costs a task per request) that the app puts
around FastAPI's whole stack, and around ``/api/predict``, which is answered ahead of it.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Awaitable, Callable

import anyio

from ..errors import Busy, DigitpadError, InvalidRequest, PayloadTooLarge
from .admission import Admission

log = logging.getLogger(__name__)

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


def encode_headers(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(k.encode(), v.encode()) for k, v in headers.items()]


class Guard:
    """Pure ASGI middleware (cheap: no BaseHTTPMiddleware) that, for every HTTP request,

    - asks ``admission`` (``web.admission``) whether it may come in at all: the Host allow-list,
      no cross-site writes, the in-flight caps (400, 403, 503 at once, before the body is read);
    - reads the whole body first, counting bytes as they arrive: a declared Content-Length over
      the limit is refused before reading, and a chunked or lying body is cut off at the limit
      (413); routes then see the buffered body;
    - answers 503 when the request (body upload included) takes longer than the timeout before
      its answer starts; an answer that has started (a 14 MB file to a slow phone) then has
      ``download_timeout`` to finish. ``scope["digitpad.deadline"]`` (``time.monotonic()``)
      tells the routes when the request's time is up: work not started by then never starts;
    - adds the security headers to every response (the /docs page gets its own CSP).

    Its refusals say ``Connection: close``; the connection is not closed under a client still
    sending, though: the rest of the body is read and dropped first (bounded), so the client
    reads the answer instead of a reset (``web.uvicorn_limits``).
    """

    def __init__(self, app: Callable[..., Awaitable[None]], *, max_body: int, timeout: float,
                 download_timeout: float, admission: Admission, headers: list[tuple[bytes, bytes]],
                 docs_headers: list[tuple[bytes, bytes]]) -> None:
        self.app = app
        self.max_body = max_body
        self.timeout = timeout
        self.download_timeout = download_timeout
        self.admission = admission
        self.headers = headers
        self.docs_headers = docs_headers

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        extra = self.docs_headers if path == "/docs" else self.headers
        scope["digitpad.deadline"] = time.monotonic() + self.timeout
        deadline = anyio.CancelScope(deadline=anyio.current_time() + self.timeout)
        started = streaming = False
        declared = host = origin = site = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                declared = value
            elif name == b"host":
                host = value
            elif name == b"origin":
                origin = value
            elif name == b"sec-fetch-site":
                site = value

        async def send_with_headers(message: dict) -> None:
            nonlocal started, streaming
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", ()), *extra]
            elif not streaming and message.get("more_body"):
                streaming = True
                # An answer streamed in parts (a large file to a slow client): the request's own
                # time limit is met, the rest gets its own, longer one. (Answers sent in one part,
                # such as every prediction, never pay for moving the timer.)
                deadline.deadline = anyio.current_time() + self.download_timeout
            await send(message)

        refused, size = self.admission.refuse(scope["method"], path, host, origin, site), 0
        if refused is None:
            try:
                size = self._declared_size(declared)
            except DigitpadError as e:
                refused = e
        if refused is None:
            refused = self.admission.enter(path, size)
        if refused is not None:
            await send_error(send_with_headers, refused)
            return
        held = [size]  # body bytes counted in (a chunked body grows it as it arrives)
        try:
            with deadline:
                try:
                    body = await self._read_body(path, receive, held)
                except DigitpadError as e:
                    await send_error(send_with_headers, e)
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
        finally:
            self.admission.leave(path, held[0])
        if deadline.cancelled_caught and not started:
            log.warning("%s %s timed out after %.1f s", scope["method"], path, self.timeout)
            await send_error(send_with_headers, Busy(f"the request took longer than {self.timeout:g} s; try again"))

    def _declared_size(self, declared: bytes | None) -> int:
        if declared is None:
            return 0
        try:
            size = int(declared)
        except ValueError:
            raise InvalidRequest("Content-Length is not a number") from None
        if size > self.max_body:
            raise PayloadTooLarge(f"the body is {size:,} bytes, over the {self.max_body:,} byte limit")
        return size

    async def _read_body(self, path: str, receive: Callable, held: list[int]) -> bytes | None:
        """The body (None when the client went away); ``held[0]``: the bytes counted in so far."""
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
                if size > held[0]:  # more than declared (a chunked body): count it as it comes
                    busy = self.admission.grow(path, size - held[0])
                    if busy is not None:
                        raise busy
                    held[0] = size
                chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def send_error(send: Callable, error: DigitpadError) -> None:
    body = json.dumps({"error": {"code": error.code, "message": error.message}}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
               (b"connection", b"close")]
    if error.http_status in (429, 503):
        headers.append((b"retry-after", str(max(1, math.ceil(getattr(error, "retry_after", 1)))).encode()))
    await send({"type": "http.response.start", "status": error.http_status, "headers": headers})
    await send({"type": "http.response.body", "body": body})

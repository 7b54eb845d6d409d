"""The guard in front of every request: body size and time limits, and the security headers.

A pure ASGI middleware (no BaseHTTPMiddleware: it costs a task per request) that the app puts
around FastAPI's whole stack, and around ``/api/predict``, which is answered ahead of it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable

import anyio

from ..errors import DigitpadError, InvalidRequest, PayloadTooLarge

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
                await send_error(send_with_headers, e.http_status, e.code, e.message)
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
            await send_error(send_with_headers, 503, "timeout",
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


async def send_error(send: Callable, status: int, code: str, message: str) -> None:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})

"""Limits on the HTTP header phase, which uvicorn leaves open and the app never sees.

uvicorn's httptools protocol buffers a request's header block without any size limit and
waits for it without any deadline: a client can send a 50 MB header (the worker's memory
grows by as much, per connection) or open connections and trickle bytes forever. The app's
own guard (``web.guard.Guard``: body size, request timeout) only starts once the headers are
complete. ``LimitedHttpTools`` closes both holes:

- a header block (request line and headers) over ``max_header_bytes``: 431 and close. Bytes
  are counted as they arrive, so a flood is cut off after at most one read past the limit;
- headers not complete ``header_timeout`` seconds after the connection opened or the request
  began: the connection is closed (a slow client never holds a worker's slot for long).

    uvicorn.run(app, http=http_protocol(settings))

Workers started by ``--workers N`` import this module afresh, so ``configure`` runs again in
each (``web.app.create_app`` calls it).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from ..settings import Settings

log = logging.getLogger(__name__)

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # no httptools: uvicorn's h11 protocol, limited by h11_max_incomplete_event_size
    HttpToolsProtocol = None  # type: ignore[assignment,misc]


def configure(settings: Settings) -> None:
    """Apply the settings' limits to every connection this process accepts from now on."""
    if HttpToolsProtocol is not None:
        LimitedHttpTools.max_header_bytes = settings.max_header_bytes
        LimitedHttpTools.header_timeout = settings.header_timeout


def http_protocol(settings: Settings) -> Any:
    """What to pass as uvicorn's ``http=``: the limited httptools protocol, or "h11"."""
    configure(settings)
    return LimitedHttpTools if HttpToolsProtocol is not None else "h11"


def _too_large_response(limit: int) -> bytes:
    body = json.dumps({"error": {"code": "headers_too_large",
                                 "message": f"the request's headers are over the {limit:,} byte limit"}}).encode()
    return (b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\n"
            + f"content-length: {len(body)}\r\n".encode() + b"connection: close\r\n\r\n" + body)


if HttpToolsProtocol is not None:

    class LimitedHttpTools(HttpToolsProtocol):  # type: ignore[misc,valid-type]
        """uvicorn's httptools protocol plus a size limit and a deadline on each header block."""

        max_header_bytes = 64 * 1024
        header_timeout = 10.0

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._in_headers = True
            self._header_bytes = 0  # bytes received while a header block was unfinished
            self._reject = False
            self._headers_since = self.loop.time()  # when the current header block began
            # One timer per connection, not one per request (a timer costs ~5 us, ~0.5% of a
            # prediction): it re-arms itself for whatever time the current header block has left.
            self._header_deadline: asyncio.TimerHandle | None = self.loop.call_later(
                self.header_timeout, self._check_header_deadline)

        def connection_lost(self, exc: Exception | None) -> None:
            if self._header_deadline is not None:
                self._header_deadline.cancel()
                self._header_deadline = None
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if self._reject:
                return  # the connection is closing: ignore what else arrives
            super().data_received(data)  # parser callbacks below run inside this call
            if self.transport.is_closing():
                return
            if self._in_headers:
                # Every byte of this chunk belongs to an unfinished header block. (httptools holds
                # a partial header value itself, so counting complete headers alone would come too late.)
                self._header_bytes += len(data)
                self._reject = self._header_bytes > self.max_header_bytes
            if self._reject:
                log.warning("refusing a request whose headers exceed %d bytes", self.max_header_bytes)
                self.transport.write(_too_large_response(self.max_header_bytes))
                self.transport.close()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._in_headers = True
            self._headers_since = self.loop.time()

        def on_headers_complete(self) -> None:
            self._in_headers = False
            self._header_bytes = 0
            # The block as parsed (it may have arrived in one read with the body): URL and headers.
            size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)  # ": ", CRLF
            if size > self.max_header_bytes:
                self._reject = True  # data_received answers 431; no ASGI cycle is started
                return
            super().on_headers_complete()

        def on_body(self, body: bytes) -> None:
            if not self._reject:
                super().on_body(body)

        def on_message_complete(self) -> None:
            if not self._reject:
                super().on_message_complete()

        def _check_header_deadline(self) -> None:
            self._header_deadline = None
            if self.transport.is_closing():
                return
            left = self.header_timeout
            if self._in_headers:
                left = self._headers_since + self.header_timeout - self.loop.time()
                if left <= 0:
                    log.info("closing a connection that sent no complete request in %.0f s", self.header_timeout)
                    self.transport.close()
                    return
            self._header_deadline = self.loop.call_later(left, self._check_header_deadline)

else:  # pragma: no cover - httptools ships with uvicorn[standard]
    LimitedHttpTools = None  # type: ignore[assignment,misc]

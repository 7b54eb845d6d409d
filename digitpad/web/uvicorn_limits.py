"""Limits on what uvicorn does before and after the app: headers, connections, refused bodies.

uvicorn's httptools protocol buffers a request's header block without any size limit and
waits for it without any deadline: a client can send a 50 MB header (the worker's memory
grows by as much, per connection) or open connections and trickle bytes forever. The app's
own guard (``web.guard.Guard``: body size, request timeout) only starts once the headers are
complete. ``LimitedHttpTools`` closes those holes, and two more:

- a header block (request line and headers) over ``max_header_bytes``: 431 and close. Bytes
  are counted as they arrive, so a flood is cut off after at most one read past the limit;
- headers not complete ``header_timeout`` seconds after the connection opened or the request
  began: the connection is closed (a slow client never holds a worker's slot for long);
- **a connection cap** (``max_connections``; by default the file-descriptor limit less 128):
  a new connection over it closes the connection that has been idle longest (between
  requests, or still sending headers), so 1,100 idle sockets under a 1,024 descriptor limit
  cannot stop the server accepting, and a health check still gets in. ``raise_fd_limit``
  lifts the soft descriptor limit to the hard one at start-up;
- **an answer before the body has all arrived** (413, a busy 503, a timeout): the connection
  is not closed under the client, which is still sending and would get a reset instead of the
  answer: the answer is followed by a half-close, the rest of the body is read and dropped (at
  most twice ``max_body_bytes``, for at most ``linger_seconds``), then the connection closes.

    uvicorn.run(app, http=http_protocol(settings))

Workers started by ``--workers N`` import this module afresh, so ``configure`` runs again in
each (``web.app.create_app`` calls it).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

try:
    import resource
except ImportError:  # not Unix: no descriptor limits to raise
    resource = None  # type: ignore[assignment]

from ..settings import Settings

log = logging.getLogger(__name__)

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # no httptools: uvicorn's h11 protocol, limited by h11_max_incomplete_event_size
    HttpToolsProtocol = None  # type: ignore[assignment,misc]


FD_RESERVE = 128  # descriptors kept for everything but connections (database, model, logs, threads)


def raise_fd_limit() -> int | None:
    """Lift this process's soft limit on open files to its hard limit (children inherit it);
    the limit now, or None where there is none to read."""
    if resource is None:
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return None if soft == resource.RLIM_INFINITY else soft


def connection_cap(settings: Settings) -> int:
    """``max_connections``, or (0) the descriptor limit less FD_RESERVE (0: no cap)."""
    if settings.max_connections:
        return settings.max_connections
    if resource is None:
        return 0
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return 0 if soft == resource.RLIM_INFINITY else max(16, soft - FD_RESERVE)


def configure(settings: Settings) -> None:
    """Apply the settings' limits to every connection this process accepts from now on."""
    if HttpToolsProtocol is not None:
        LimitedHttpTools.max_header_bytes = settings.max_header_bytes
        LimitedHttpTools.header_timeout = settings.header_timeout
        LimitedHttpTools.max_connections = connection_cap(settings)
        LimitedHttpTools.linger_bytes = 2 * settings.max_body_bytes
        LimitedHttpTools.linger_seconds = min(settings.request_timeout, 30.0)


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
        """uvicorn's httptools protocol plus a size limit and a deadline on each header block,
        a connection cap, and a bounded drain of a body the app answered early."""

        max_header_bytes = 64 * 1024
        header_timeout = 10.0
        max_connections = 0
        linger_bytes = 10_000_000
        linger_seconds = 10.0

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._in_headers = True
            self._header_bytes = 0  # bytes received while a header block was unfinished
            self._reject = False
            self._body_done = True  # the current request's body has all arrived
            self._dropped = 0  # body bytes read and dropped after the answer
            self._linger: asyncio.TimerHandle | None = None
            self._headers_since = self.loop.time()  # when the current header block began
            # One timer per connection, not one per request (a timer costs ~5 us, ~0.5% of a
            # prediction): it re-arms itself for whatever time the current header block has left.
            self._header_deadline: asyncio.TimerHandle | None = self.loop.call_later(
                self.header_timeout, self._check_header_deadline)
            if self.max_connections and len(self.connections) > self.max_connections:
                self._make_room()

        def connection_lost(self, exc: Exception | None) -> None:
            for timer in (self._header_deadline, self._linger):
                if timer is not None:
                    timer.cancel()
            self._header_deadline = self._linger = None
            super().connection_lost(exc)

        def _make_room(self) -> None:
            """Over the cap: close the connection idle longest (this one when all are busy)."""
            # Idle: no request in progress (none yet, between requests, or still sending headers).
            idle = [c for c in self.connections if c is not self and hasattr(c, "_headers_since")
                    and (c.cycle is None or c.cycle.response_complete) and not c.transport.is_closing()]
            if not idle:
                log.warning("%d connections, all busy: refusing a new one", len(self.connections))
                self.transport.close()
                return
            oldest = min(idle, key=lambda c: c._headers_since)
            log.info("%d connections: closing the one idle for %.0f s", len(self.connections),
                     self.loop.time() - oldest._headers_since)
            oldest.transport.close()

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
            self._body_done = False
            self._dropped = 0
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
            if self.cycle is not None:
                self.cycle.transport = _Lingering(self)  # its close() waits for the body

        def on_body(self, body: bytes) -> None:
            if self._reject:
                return
            if self.cycle is not None and self.cycle.response_complete:  # answered already: drop it
                self._dropped += len(body)
                if self._linger is None:
                    self._linger = self.loop.call_later(self.linger_seconds, self.transport.close)
                if self._dropped > self.linger_bytes:
                    self.transport.close()
                return
            super().on_body(body)

        def on_message_complete(self) -> None:
            self._body_done = True
            if self._linger is not None:
                self._linger.cancel()
                self._linger = None
                if self.cycle is not None and not self.cycle.keep_alive:
                    self.transport.close()  # the half-closed connection, its body drained
                    return
            if not self._reject:
                super().on_message_complete()

        def close_after_body(self) -> None:
            """The cycle's close(): at once when the body is in; else answer, half-close, drain."""
            if self._body_done or self.transport.is_closing():
                self.transport.close()
                return
            if self._linger is None:
                if self.transport.can_write_eof():
                    self.transport.write_eof()
                self._linger = self.loop.call_later(self.linger_seconds, self.transport.close)
                self.flow.resume_reading()  # uvicorn paused reading when the body buffer filled

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

    class _Lingering:
        """The transport as a request's cycle sees it: ``close`` waits for the request's body.
        (``write`` and ``is_closing`` are the transport's own bound methods: no cost per call.)"""

        __slots__ = ("_protocol", "_transport", "write", "is_closing")

        def __init__(self, protocol: LimitedHttpTools) -> None:
            self._protocol = protocol
            self._transport = protocol.transport
            self.write = self._transport.write
            self.is_closing = self._transport.is_closing

        def close(self) -> None:
            self._protocol.close_after_body()

        def __getattr__(self, name: str) -> Any:
            return getattr(self._transport, name)

else:  # pragma: no cover - httptools ships with uvicorn[standard]
    LimitedHttpTools = None  # type: ignore[assignment,misc]

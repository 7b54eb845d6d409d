"""Answers compressed once, not per request: the page's files and the model file.

Compressing per request (Starlette's GZipMiddleware) cost 655 ms of CPU for each download of
onnxruntime-web's 14 MB ``.wasm``. Here a file is gzipped the first time a client asks for it
(zlib-ng, level 6: ~0.16 s for the .wasm, in a worker thread; concurrent first requests wait
for that one compression), kept in this process's memory (~4.5 MB for every file of the page),
and served with ``Content-Encoding: gzip``, ``Vary: Accept-Encoding``, a length, and an ETag of
its own (the plain file's with ``-gz``), so a revalidation is a 304.

    cache = GzipCache()
    gz = await cache.get(key, read_bytes)         # key: anything that changes with the content
    response = gzip_response(gz, etag, headers, request_headers)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable

import anyio
from starlette.datastructures import Headers
from starlette.responses import Response
from zlib_ng import gzip_ng

COMPRESSIBLE = (".js", ".mjs", ".css", ".html", ".svg", ".wasm", ".json", ".map", ".txt", ".md", ".onnx")
MIN_BYTES = 1024


def accepts_gzip(headers: Headers) -> bool:
    """The client takes gzip (and sent no Range: a byte range of the plain file is served plain)."""
    if "range" in headers:
        return False
    for item in headers.get("accept-encoding", "").split(","):
        coding, _, params = item.strip().lower().partition(";")
        if coding.strip() in ("gzip", "*"):
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def gz_etag(etag: str) -> str:
    """``"abc"`` -> ``"abc-gz"`` (the compressed variant's own validator)."""
    weak = etag.startswith("W/")
    tag = etag.removeprefix("W/").strip('"')
    return f'{"W/" if weak else ""}"{tag}-gz"'


class GzipCache:
    """gzip bodies by key, each compressed once per process. Thread-safe."""

    def __init__(self) -> None:
        self._done: dict[Hashable, bytes] = {}
        self._locks: dict[Hashable, threading.Lock] = {}
        self._guard = threading.Lock()

    def _compress(self, key: Hashable, read: Callable[[], bytes]) -> bytes:
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._done:
                self._done[key] = gzip_ng.compress(read(), compresslevel=6)
            return self._done[key]

    async def get(self, key: Hashable, read: Callable[[], bytes]) -> bytes:
        """The gzip of ``read()`` (compressed in a worker thread the first time)."""
        done = self._done.get(key)
        if done is not None:
            return done
        return await anyio.to_thread.run_sync(self._compress, key, read)


def gzip_response(gz: bytes, etag: str, headers: dict[str, str], request_headers: Headers) -> Response:
    """The compressed answer, or a 304 when the client has this variant already."""
    tag = gz_etag(etag)
    out = {**headers, "etag": tag, "vary": "accept-encoding"}
    given = request_headers.get("if-none-match", "")
    if given and tag.removeprefix("W/") in [t.strip().removeprefix("W/") for t in given.split(",")]:
        return Response(status_code=304, headers=out)
    return Response(gz, headers={**out, "content-encoding": "gzip"})

"""``POST /api/read``: a whole number in an image (``digitpad.numberreading``).

The same body as ``/api/predict`` (multipart field ``image``, or JSON ``{"image": ...}``), the same
limits and errors. Answered as ``/api/predict`` is, ahead of FastAPI's stack (a
``predict.DirectEndpoint``), skipping FastAPI's request handling, its router and the middleware
stack; gzipped as that stack did (an answer of 6 characters shrinks by ~40%).

Reading a number is a few ms of CPU, too long for the event loop (a scribble of many pieces
can take far longer): it runs in a worker thread, one at a time per process (``read_jobs``),
within the request timeout.
"""

from __future__ import annotations

import json
import time
from typing import Any

import anyio

from ..numberreading import NumberReader
from .body import image_from_body
from .predict import INLINE_MAX_BYTES, DirectEndpoint, openapi_operation, run_limited
from .schemas import ReadResponse

PATH = "/api/read"


class ReadEndpoint(DirectEndpoint):
    """POST /api/read."""

    PATH = PATH
    GZIP = True

    async def answer(self, body: bytes, content_type: str, deadline: float | None = None) -> bytes:
        t_start = time.perf_counter()
        # A small body is parsed here (a bad one is answered at once, without waiting for the
        # reading slot); a large one in the worker thread, never on the event loop.
        image = image_from_body(body, content_type) if len(body) <= INLINE_MAX_BYTES else None
        # abandon_on_cancel: the request timeout can answer 503 while a long reading finishes.
        deadline = deadline or time.monotonic() + self.timeout
        return await anyio.to_thread.run_sync(run_limited, self.state.read_jobs, deadline, _read_body,
                                              self.state.number_reader, body, content_type, image, t_start,
                                              abandon_on_cancel=True)

    @classmethod
    def openapi(cls) -> tuple[dict, dict]:
        return openapi_operation(ReadResponse, "Successful Response", {
            "tags": ["read"], "summary": "Read the whole number in an image",
            "operationId": "read_number_api_read_post"})  # (the name FastAPI gave it as a route of its own)


def _read_body(reader: NumberReader, body: bytes, content_type: str, image: bytes | None, t_start: float) -> bytes:
    """(In a worker thread) the body's image, parsed here unless it already was -> the JSON
    answer, encoded here too (as Starlette's JSONResponse would: no pydantic validation of an
    answer that is well-formed by construction)."""
    answer: Any = reader.read(image_from_body(body, content_type) if image is None else image, t_start)
    return json.dumps(answer, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()

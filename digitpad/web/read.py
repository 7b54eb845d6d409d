"""``POST /api/read``: a whole number in an image (``digitpad.numberreading``).

The same body as ``/api/predict`` (multipart field ``image``, or JSON ``{"image": ...}``), the same
limits and errors. Reading a number is ~10 ms of CPU, too long for the event loop: it runs in a
worker thread, one at a time per process (``read_jobs``), within the request timeout.
"""

from __future__ import annotations

import time

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from .body import image_from_body
from .predict import run_limited
from .schemas import IMAGE_BODY, ReadResponse, errors

router = APIRouter(tags=["read"])


@router.post("/api/read", summary="Read the whole number in an image", response_model=ReadResponse,
             responses=errors(400, 413, 415, 422, 503), openapi_extra={"requestBody": IMAGE_BODY})
async def read_number(request: Request) -> JSONResponse:
    t_start = time.perf_counter()
    state = request.app.state
    image = image_from_body(await request.body(), request.headers.get("content-type", ""))
    # abandon_on_cancel: the request timeout can answer 503 while a long reading finishes.
    deadline = time.monotonic() + state.settings.request_timeout
    answer = await anyio.to_thread.run_sync(run_limited, state.read_jobs, deadline, state.number_reader.read, image,
                                            t_start, abandon_on_cancel=True)
    return JSONResponse(answer, headers={"cache-control": "no-store"})

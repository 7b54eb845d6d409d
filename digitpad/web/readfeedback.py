"""``POST /api/read/feedback``: a corrected number from the page -> a row that waits for review.

The number's twin of ``POST /api/feedback`` (which keeps its shape, for one digit): the same
image formats and limits (multipart field ``image`` or JSON ``{"image": data URL | base64}``),
plus ``text``, the string the image really shows, and optionally ``boxes``, the characters'
boxes of the ``/api/read`` answer the page showed (a JSON array in a form field). The server
stores its own re-encoding of the image, its own reading of that, and one box per character
(``numberfeedback.prepare_number_correction``). The same guards as digit feedback: the
cross-site check, the corrections-per-minute throttle (one budget for both routes), the store's
cap, feedback's own decode slot, released before the database write.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ..errors import InvalidImage, InvalidRequest, MissingField, RateLimited, UnsupportedMediaType
from ..numberfeedback import NumberCorrection, prepare_number_correction, store_number_correction
from ..numberreading import NumberReader
from . import multipart
from .body import b64decode, mime_of, parse_json
from .deps import SettingsDep, StoreDep
from .feedback import text_field
from .predict import run_limited
from .schemas import NUMBER_FEEDBACK_BODY, FeedbackCreated, errors
from .throttle import client_of

router = APIRouter(tags=["feedback"])

FORM_FIELDS = frozenset({"image", "text", "boxes", "source"})


@dataclass
class NumberForm:
    image: bytes  # the image file's bytes (a JSON body's base64 already decoded)
    text: str
    boxes: object  # as sent (checked by prepare_number_correction), or None
    source: str


def _text(value: object) -> str:
    if value is None or value == "":
        raise MissingField('"text" is required: the number the image really shows, e.g. "737-1340"')
    if not isinstance(value, str):
        raise InvalidRequest('"text" must be a string, e.g. "737-1340"', code="invalid_text")
    return value.strip()


def _source(value: object, default: str) -> str:
    if value in (None, ""):
        return default
    if value not in ("draw", "upload"):
        raise InvalidRequest('"source" must be "draw" or "upload"', code="invalid_source")
    return value  # type: ignore[return-value]


def parse_number_feedback(body: bytes, content_type: str) -> NumberForm:
    """The request body -> NumberForm (multipart or JSON; any problem -> a 4xx DigitpadError)."""
    mime = mime_of(content_type)
    if mime == "application/json":
        data = parse_json(body)
        if not isinstance(data, dict):
            raise MissingField('send a JSON object: {"image": "data:image/png;base64,...", "text": "737-1340"}')
        image = data.get("image")
        if not isinstance(image, str) or not image:
            raise MissingField('the JSON body needs an "image" field (a data URL or base64 string)')
        text = _text(data.get("text"))
        return NumberForm(b64decode(image), text, data.get("boxes"), _source(data.get("source"), "draw"))
    if mime == "multipart/form-data":
        found = multipart.fields(body, content_type, FORM_FIELDS)
        image = found.get("image")
        if image is None:
            raise MissingField('the form needs a file field named "image" (curl -F image=@number.png)')
        texts = {k: text_field(v) for k, v in found.items() if k != "image"}
        text = _text(texts.get("text"))
        boxes = texts.get("boxes")
        if boxes not in (None, ""):
            try:
                boxes = json.loads(boxes)
            except ValueError:
                raise InvalidRequest('"boxes" must be a JSON array of [x, y, w, h]', code="invalid_boxes") from None
        if not image:
            raise InvalidImage("the uploaded file is empty")
        return NumberForm(image, text, boxes or None, _source(texts.get("source"), "upload"))
    raise UnsupportedMediaType(f"send multipart/form-data or application/json, not {mime[:60] or 'no content type'}",
                               code="unsupported_content_type")


def _parse_and_prepare(numbers: NumberReader, body: bytes, content_type: str) -> tuple[NumberForm, NumberCorrection]:
    """(In a worker thread, in feedback's decode slot) the body -> its form and the correction."""
    form = parse_number_feedback(body, content_type)
    return form, prepare_number_correction(numbers, form.image, text=form.text, client_boxes=form.boxes)


@router.post("/api/read/feedback", status_code=201, summary="Record the number an image really shows",
             response_model=FeedbackCreated, responses=errors(400, 403, 413, 415, 422, 429, 503, 507),
             openapi_extra={"requestBody": NUMBER_FEEDBACK_BODY})
async def post_number_feedback(request: Request, store: StoreDep, settings: SettingsDep) -> JSONResponse:
    wait = request.app.state.feedback_throttle.take(client_of(request.scope))
    if wait:
        raise RateLimited(f"at most {settings.feedback_per_minute} corrections a minute; try again in {wait:.0f} s",
                          retry_after=wait)
    body = await request.body()  # (buffered and size-checked by the Guard)
    deadline = request.scope.get("digitpad.deadline") or time.monotonic() + settings.request_timeout
    state = request.app.state
    # Parsed and read in a worker thread: reading a number is ~10 ms of CPU, too long for the loop.
    form, correction = await anyio.to_thread.run_sync(run_limited, state.feedback_jobs, deadline, _parse_and_prepare,
                                                      state.number_reader, body,
                                                      request.headers.get("content-type", ""), abandon_on_cancel=True)
    # The database write, outside the decode slot: a slow commit never holds the next decode.
    fid = await anyio.to_thread.run_sync(lambda: store_number_correction(store, correction, source=form.source))
    return JSONResponse({"id": fid}, status_code=201, headers={"cache-control": "no-store"})

"""``POST /api/feedback``: a correction from the page -> a row that waits for review.

The POST takes the same image formats and limits as ``/api/predict`` (multipart field ``image``
or JSON ``{"image": data URL | base64}``) plus ``label``. The server stores its own re-encoding
of the image and its own reading of that (``feedback.prepare_correction``: predicted digit,
confidence, probabilities, model version), so neither the bytes nor the statistics are what a
client sends. The row starts ``pending``: training uses reviewed rows (``digitpad.curation``).

What a stranger cannot do with it: write from another site (the Guard's cross-site check), post
more than ``feedback_per_minute`` corrections (429), fill the disk (the stored image is bounded,
the store has a cap: 507), or hold the server: the body is parsed and the image read in a worker
thread, in a decode slot of feedback's own (``FEEDBACK_JOBS``), released before the database
write; work not started by the request's deadline never starts. The admin routes are in ``admin``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ..errors import InvalidImage, InvalidRequest, MissingField, RateLimited, UnsupportedMediaType
from ..feedback import Correction, prepare_correction, store_correction
from ..reading import Reader
from . import multipart
from .body import b64decode, mime_of, parse_json
from .deps import ReaderDep, SettingsDep, StoreDep
from .predict import INLINE_MAX_BYTES, run_limited
from .schemas import FEEDBACK_BODY, FeedbackCreated, errors
from .throttle import client_of

log = logging.getLogger(__name__)

router = APIRouter(tags=["feedback"])

# Corrections decoded at once per process: a slot of their own, so corrections never wait
# behind /api/predict's photos, and a burst of big uploads cannot hold many decoded images.
FEEDBACK_JOBS = 1
FORM_FIELDS = frozenset({"image", "label", "predicted", "confidence", "model", "source"})
_DIGITS = "0123456789"


@dataclass
class FeedbackForm:
    image: bytes  # the image file's bytes (a JSON body's base64 already decoded)
    label: int
    source: str
    client_predicted: int | None = None


def _digit(name: str, value: object, *, required: bool) -> int | None:
    """A 0-9 digit from JSON (int) or a form field (one ASCII digit: not "²", not 5,000 digits)."""
    if value is None or value == "":
        if required:
            raise MissingField(f'"{name}" is required: the digit 0-9 the image really shows')
        return None
    if isinstance(value, str) and len(value.strip()) == 1 and value.strip() in _DIGITS:
        value = _DIGITS.index(value.strip())
    # Present but not a digit ("seven", 7.5, true, 10): the field is there, its value is wrong.
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 9:
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
        raise InvalidRequest(f'"{name}" must be a digit 0-9, got {shown}', code=f"invalid_{name}")
    return value


def _optional_fields(get) -> tuple[int | None, str | None]:  # noqa: ANN001
    """Check the optional fields a client may echo back (so garbage is a 4xx, not stored)."""
    predicted = _digit("predicted", get("predicted"), required=False)
    confidence = get("confidence")
    if confidence not in (None, ""):
        try:
            c = float(confidence)
        except (TypeError, ValueError, OverflowError):
            raise MissingField('"confidence" must be a number 0-1') from None
        if isinstance(confidence, bool) or not 0.0 <= c <= 1.0:
            raise InvalidRequest('"confidence" must be between 0 and 1', code="invalid_confidence")
    model = get("model")
    if model is not None and not isinstance(model, str):
        raise MissingField('"model" must be a string')
    source = get("source")
    if source not in (None, "", "draw", "upload"):
        raise InvalidRequest('"source" must be "draw" or "upload"', code="invalid_source")
    return predicted, source or None


def text_field(value: bytes | None) -> str | None:
    """A form field's bytes as text (``invalid_multipart`` unless UTF-8)."""
    try:
        return None if value is None else value.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequest("a form field is not UTF-8 text", code="invalid_multipart") from None


def parse_feedback(body: bytes, content_type: str) -> FeedbackForm:
    """The request body -> FeedbackForm (multipart or JSON; any problem -> a 4xx DigitpadError)."""
    mime = mime_of(content_type)
    if mime == "application/json":
        data = parse_json(body)
        if not isinstance(data, dict):
            raise MissingField('send a JSON object: {"image": "data:image/png;base64,...", "label": 7}')
        image = data.get("image")
        if not isinstance(image, str) or not image:
            raise MissingField('the JSON body needs an "image" field (a data URL or base64 string)')
        label = _digit("label", data.get("label"), required=True)
        predicted, source = _optional_fields(data.get)
        return FeedbackForm(image=b64decode(image), label=label, source=source or "draw", client_predicted=predicted)
    if mime == "multipart/form-data":
        found = multipart.fields(body, content_type, FORM_FIELDS)
        image = found.get("image")
        if image is None:
            raise MissingField('the form needs a file field named "image" (curl -F image=@digit.png)')
        texts: dict[str, Any] = {k: text_field(v) for k, v in found.items() if k != "image"}
        label = _digit("label", texts.get("label"), required=True)
        predicted, source = _optional_fields(texts.get)
        if not image:
            raise InvalidImage("the uploaded file is empty")
        return FeedbackForm(image=image, label=label, source=source or "upload", client_predicted=predicted)
    raise UnsupportedMediaType(f"send multipart/form-data or application/json, not {mime[:60] or 'no content type'}",
                               code="unsupported_content_type")


def _parse_and_prepare(reader: Reader, body: bytes, content_type: str) -> tuple[FeedbackForm, Correction]:
    """(In a worker thread, in the decode slot) a large body -> its form and the correction."""
    form = parse_feedback(body, content_type)
    return form, prepare_correction(reader, form.image)


@router.post("/api/feedback", status_code=201, summary="Record the digit an image really shows",
             response_model=FeedbackCreated, responses=errors(400, 403, 413, 415, 422, 429, 503, 507),
             openapi_extra={"requestBody": FEEDBACK_BODY})
async def post_feedback(request: Request, store: StoreDep, reader: ReaderDep, settings: SettingsDep) -> JSONResponse:
    wait = request.app.state.feedback_throttle.take(client_of(request.scope))
    if wait:
        raise RateLimited(f"at most {settings.feedback_per_minute} corrections a minute; try again in {wait:.0f} s",
                          retry_after=wait)
    body = await request.body()  # (buffered and size-checked by the Guard)
    content_type = request.headers.get("content-type", "")
    deadline = request.scope.get("digitpad.deadline") or time.monotonic() + settings.request_timeout
    jobs = request.app.state.feedback_jobs
    if len(body) <= INLINE_MAX_BYTES:  # a drawing from the page: parsed here, in microseconds
        form = parse_feedback(body, content_type)
        correction = await anyio.to_thread.run_sync(run_limited, jobs, deadline, prepare_correction, reader,
                                                    form.image, abandon_on_cancel=True)
    else:
        form, correction = await anyio.to_thread.run_sync(run_limited, jobs, deadline, _parse_and_prepare, reader,
                                                          body, content_type, abandon_on_cancel=True)
    if form.client_predicted is not None:
        log.debug("client showed %s for a correction to %s", form.client_predicted, form.label)
    # The database write, outside the decode slot: a slow commit never holds the next decode.
    fid = await anyio.to_thread.run_sync(lambda: store_correction(store, correction, label=form.label,
                                                                  source=form.source))
    return JSONResponse({"id": fid}, status_code=201, headers={"cache-control": "no-store"})

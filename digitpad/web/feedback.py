"""HTTP routes for feedback: corrections from the page become training data.

    POST   /api/feedback               an image + the digit it really is -> 201 {"id": ...}
    GET    /api/feedback?limit&offset  newest first (admin)
    GET    /api/feedback/{id}/image    the original image, or ?size=28 for what the model saw (admin)
    DELETE /api/feedback/{id}          (admin)

The POST takes the same image formats and limits as ``/api/predict`` (multipart field ``image``
or JSON ``{"image": data URL | base64}``) plus ``label``. The server reads the image with the
same ``Reader`` as /api/predict and stores its own reading (predicted digit, confidence,
probabilities, model version), so the statistics stay true whatever a client sends. Admin
routes need ``Authorization: Bearer $DIGITPAD_ADMIN_TOKEN``: with no token configured they answer 403.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Annotated, Literal

import anyio
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from .. import png
from ..errors import InvalidImage, InvalidRequest, MissingField, UnsupportedMediaType
from ..feedback import record
from .body import b64decode, mime_of, parse_json
from .deps import AdminOnly, ReaderDep, SettingsDep, StoreDep
from .predict import run_limited
from .schemas import FEEDBACK_BODY, FeedbackCreated, FeedbackPage, errors

log = logging.getLogger(__name__)

router = APIRouter(tags=["feedback"])

# A row id: the databases' 64-bit integer keys (a larger number cannot name a row, and would
# overflow the driver: a 500 instead of a 404).
RowId = Annotated[int, Path(ge=1, le=2**63 - 1, description="id of the row")]


# ------------------------------------------------------------------ parsing the POST


@dataclass
class FeedbackForm:
    image: bytes  # the image file's bytes (a JSON body's base64 already decoded)
    label: int
    source: str
    client_predicted: int | None = None


def _digit(name: str, value: object, *, required: bool) -> int | None:
    """A 0-9 digit from JSON (int) or a form field (decimal string)."""
    if value is None or value == "":
        if required:
            raise MissingField(f'"{name}" is required: the digit 0-9 the image really shows')
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    # Present but not a digit ("seven", 7.5, true, 10): the field is there, its value is wrong.
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 9:
        raise InvalidRequest(f'"{name}" must be a digit 0-9, got {value!r}', code=f"invalid_{name}")
    return value


def _optional_fields(get) -> tuple[int | None, str | None]:  # noqa: ANN001
    """Check the optional fields a client may echo back (so garbage is a 4xx, not stored)."""
    predicted = _digit("predicted", get("predicted"), required=False)
    confidence = get("confidence")
    if confidence not in (None, ""):
        try:
            c = float(confidence)
        except (TypeError, ValueError):
            raise MissingField(f'"confidence" must be a number 0-1, got {confidence!r}') from None
        if isinstance(confidence, bool) or not 0.0 <= c <= 1.0:
            raise InvalidRequest(f'"confidence" must be between 0 and 1, got {confidence!r}',
                                 code="invalid_confidence")
    model = get("model")
    if model is not None and not isinstance(model, str):
        raise MissingField('"model" must be a string')
    source = get("source")
    if source not in (None, "", "draw", "upload"):
        raise InvalidRequest(f'"source" must be "draw" or "upload", got {source!r}', code="invalid_source")
    return predicted, source or None


async def parse_feedback(request: Request) -> FeedbackForm:
    """The request body -> FeedbackForm (multipart or JSON; any problem -> a 4xx DigitpadError)."""
    mime = mime_of(request.headers.get("content-type", ""))
    if mime == "application/json":
        body = parse_json(await request.body())
        if not isinstance(body, dict):
            raise MissingField('send a JSON object: {"image": "data:image/png;base64,...", "label": 7}')
        image = body.get("image")
        if not isinstance(image, str) or not image:
            raise MissingField('the JSON body needs an "image" field (a data URL or base64 string)')
        label = _digit("label", body.get("label"), required=True)
        predicted, source = _optional_fields(body.get)
        return FeedbackForm(image=b64decode(image), label=label, source=source or "draw", client_predicted=predicted)
    if mime == "multipart/form-data":
        form = await request.form(max_files=2, max_fields=16)
        try:
            item = form.get("image")
            if item is None or isinstance(item, str):
                raise MissingField('the form needs a file field named "image" (curl -F image=@digit.png)')
            label = _digit("label", form.get("label"), required=True)
            predicted, source = _optional_fields(form.get)
            data = await item.read()
        finally:
            await form.close()
        if not data:
            raise InvalidImage("the uploaded file is empty")
        return FeedbackForm(image=data, label=label, source=source or "upload", client_predicted=predicted)
    raise UnsupportedMediaType(f"send multipart/form-data or application/json, not {mime or 'no content type'}",
                               code="unsupported_content_type")


# ------------------------------------------------------------------ routes


@router.post("/api/feedback", status_code=201, summary="Record the digit an image really shows",
             response_model=FeedbackCreated, responses=errors(400, 403, 413, 415, 422, 503),
             openapi_extra={"requestBody": FEEDBACK_BODY})
async def post_feedback(request: Request, store: StoreDep, reader: ReaderDep, settings: SettingsDep) -> JSONResponse:
    form = await parse_feedback(request)
    if form.client_predicted is not None:
        log.debug("client showed %s for a correction to %s", form.client_predicted, form.label)
    # One image decode at a time per process, like /api/predict's large images: a burst of
    # big uploads must not hold anyio's 40 threads' worth of decoded pixels at once.
    deadline = time.monotonic() + settings.request_timeout
    fid = await anyio.to_thread.run_sync(
        run_limited, request.app.state.heavy_jobs, deadline,
        lambda: record(store, reader, data=form.image, label=form.label, source=form.source))
    return JSONResponse({"id": fid}, status_code=201, headers={"cache-control": "no-store"})


@router.get("/api/feedback", summary="List feedback, newest first (admin)", response_model=FeedbackPage,
            responses=errors(401, 403, 422, 503), dependencies=[AdminOnly])
def list_feedback(store: StoreDep, limit: Annotated[int, Query(ge=1, le=500)] = 50,
                  offset: Annotated[int, Query(ge=0)] = 0) -> dict:
    return {"items": [r.to_dict() for r in store.list(limit=limit, offset=offset)], "total": store.count(),
            "limit": limit, "offset": offset}


@router.get("/api/feedback/{feedback_id}/image", summary="A feedback image (admin)",
            responses={200: {"content": {"image/png": {}}}, **errors(401, 403, 404, 503)}, dependencies=[AdminOnly])
def feedback_image(feedback_id: RowId, store: StoreDep, size: Literal["original", "28"] = "original") -> Response:
    """``size=original``: the bytes as received; ``size=28``: the 28x28 the model saw, as PNG."""
    row = store.get(feedback_id)
    if size == "original":
        body, media = row.image, row.content_type
    else:
        body, media = png.encode_gray(row.image28), "image/png"
    return Response(body, media_type=media, headers={"cache-control": "no-store"})


@router.delete("/api/feedback/{feedback_id}", status_code=204, summary="Delete one row (admin)",
               responses=errors(401, 403, 404, 503), dependencies=[AdminOnly])
def delete_feedback(feedback_id: RowId, store: StoreDep) -> Response:
    store.delete(feedback_id)
    return Response(status_code=204)

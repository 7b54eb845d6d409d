"""HTTP routes for feedback: corrections from the page become training data.

    POST   /api/feedback               an image + the digit it really is -> 201 {"id": ...}
    GET    /api/feedback?limit&offset  newest first (admin)
    GET    /api/feedback/{id}/image    the original image, or ?size=28 for what the model saw (admin)
    DELETE /api/feedback/{id}          (admin)

The POST takes the same image formats and limits as ``/api/predict`` (multipart field ``image``
or JSON ``{"image": data URL | base64}``) plus ``label``. The server recomputes the reading
(predicted digit, confidence, probabilities, model version) on the stored image with the live
model, so the statistics stay true whatever a client sends. Admin routes need
``Authorization: Bearer $DIGITPAD_ADMIN_TOKEN``: with no token configured they answer 403.

Routes are thin: parse, call one function, let ``digitpad.errors`` become ``{"error": ...}``.
"""

from __future__ import annotations

import io
import json
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from .errors import (
    Forbidden,
    InvalidImage,
    InvalidRequest,
    MissingField,
    Unauthorized,
    UnsupportedMediaType,
)
from .settings import Settings
from .store import FeedbackStore

log = logging.getLogger(__name__)

router = APIRouter(tags=["feedback"])


def open_store(settings: Settings) -> FeedbackStore | None:
    """The store the server uses, or None when collection is off (``--no-feedback``)."""
    if not settings.feedback:
        log.info("feedback collection is off")
        return None
    store = FeedbackStore.open(settings.database_url)
    log.info("feedback store: %s", store.url)
    return store


# ------------------------------------------------------------------ schemas (OpenAPI)


class FeedbackCreated(BaseModel):
    id: int = Field(description="id of the stored row")


class FeedbackItem(BaseModel):
    id: int
    created_at: str = Field(description="ISO 8601, UTC")
    label: int = Field(description="the digit the person says it is", ge=0, le=9)
    predicted: int | None = Field(description="what the live model read (recomputed by the server)")
    confidence: float | None
    model_version: str | None
    source: Literal["draw", "upload"]
    content_type: str = Field(description="type of the original image")
    image_bytes: int = Field(description="size of the original image")


class FeedbackPage(BaseModel):
    items: list[FeedbackItem]
    total: int
    limit: int
    offset: int


_FIELDS = {
    "label": {"type": "integer", "minimum": 0, "maximum": 9, "description": "the digit it really is"},
    "predicted": {"type": "integer", "minimum": 0, "maximum": 9,
                  "description": "what the page showed (optional; the server recomputes it)"},
    "confidence": {"type": "number", "minimum": 0, "maximum": 1, "description": "optional, as shown"},
    "model": {"type": "string", "description": "optional: model version the page showed"},
    "source": {"type": "string", "enum": ["draw", "upload"],
               "description": "default: draw for JSON, upload for multipart"},
}
FEEDBACK_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {"schema": {"type": "object", "required": ["image", "label"], "properties": {
            "image": {"type": "string", "format": "binary", "description": "the image (as for /api/predict)"},
            **_FIELDS}}},
        "application/json": {
            "schema": {"type": "object", "required": ["image", "label"], "properties": {
                "image": {"type": "string", "description": "data URL (data:image/png;base64,...) or bare base64"},
                **_FIELDS}},
            "example": {"image": "data:image/png;base64,iVBORw0KGgo...", "label": 7, "predicted": 1,
                        "confidence": 0.52, "model": "digitnet-20260520", "source": "draw"},
        },
    },
}


def _responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    from .server import ErrorResponse

    text = {400: "bad image or label", 401: "missing or wrong bearer token",
            403: "collection is off (POST), or no admin token is configured (admin routes)",
            404: "no such row", 413: "body or image too large", 415: "unsupported image or content type",
            422: "a required field is missing", 503: "the database is unavailable"}
    return {c: {"model": ErrorResponse, "description": text[c]} for c in codes}


# ------------------------------------------------------------------ dependencies


async def get_store(request: Request) -> FeedbackStore:
    store = getattr(request.app.state, "store", None)
    if store is None:
        raise Forbidden("feedback collection is turned off on this server", code="feedback_disabled")
    return store


async def require_admin(request: Request) -> None:
    """Bearer token check, in constant time. No token configured: the admin API is off (403)."""
    token = request.app.state.settings.admin_token
    if not token:
        raise Forbidden("the feedback admin API is off: start the server with DIGITPAD_ADMIN_TOKEN set",
                        code="admin_disabled")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secrets.compare_digest(given.strip().encode(), token.encode()):
        raise Unauthorized("send the admin token as 'Authorization: Bearer TOKEN'")


StoreDep = Annotated[FeedbackStore, Depends(get_store)]


# ------------------------------------------------------------------ parsing the POST


@dataclass
class FeedbackForm:
    image: bytes | str  # raw bytes (multipart) or base64 / data URL text (JSON)
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
    mime = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if mime == "application/json":
        try:
            body = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            raise InvalidRequest("the body is not valid JSON", code="invalid_json") from None
        if not isinstance(body, dict):
            raise MissingField('send a JSON object: {"image": "data:image/png;base64,...", "label": 7}')
        image = body.get("image")
        if not isinstance(image, str) or not image:
            raise MissingField('the JSON body needs an "image" field (a data URL or base64 string)')
        label = _digit("label", body.get("label"), required=True)
        predicted, source = _optional_fields(body.get)
        return FeedbackForm(image=image, label=label, source=source or "draw", client_predicted=predicted)
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


# ------------------------------------------------------------------ the work (runs in a worker thread)


def record_feedback(store: FeedbackStore, predictor, form: FeedbackForm, *, max_pixels: int) -> int:  # noqa: ANN001
    """Base64 text -> bytes, then ``digitpad.feedback.record`` (decode, preprocess, read, store)."""
    from .feedback import record
    from .server import _b64decode

    data = _b64decode(form.image) if isinstance(form.image, str) else form.image
    if form.client_predicted is not None:
        log.debug("client showed %s for a correction to %s", form.client_predicted, form.label)
    return record(store, predictor, data=data, label=form.label, source=form.source, max_pixels=max_pixels)


# ------------------------------------------------------------------ routes


@router.post("/api/feedback", status_code=201, summary="Record the digit an image really shows",
             response_model=FeedbackCreated, responses=_responses(400, 403, 413, 415, 422, 503),
             openapi_extra={"requestBody": FEEDBACK_BODY})
async def post_feedback(request: Request, store: StoreDep) -> JSONResponse:
    settings: Settings = request.app.state.settings
    form = await parse_feedback(request)
    from .server import run_limited

    # One image decode at a time per process, like /api/predict's large images: a burst of
    # big uploads must not hold anyio's 40 threads' worth of decoded pixels at once.
    deadline = time.monotonic() + settings.request_timeout
    fid = await anyio.to_thread.run_sync(
        run_limited, request.app.state.heavy_jobs, deadline,
        lambda: record_feedback(store, request.app.state.predictor, form, max_pixels=settings.max_pixels))
    return JSONResponse({"id": fid}, status_code=201, headers={"cache-control": "no-store"})


@router.get("/api/feedback", summary="List feedback, newest first (admin)", response_model=FeedbackPage,
            responses=_responses(401, 403, 422, 503), dependencies=[Depends(require_admin)])
def list_feedback(store: StoreDep, limit: Annotated[int, Query(ge=1, le=500)] = 50,
                  offset: Annotated[int, Query(ge=0)] = 0) -> dict[str, Any]:
    return {"items": [r.to_dict() for r in store.list(limit=limit, offset=offset)], "total": store.count(),
            "limit": limit, "offset": offset}


@router.get("/api/feedback/{feedback_id}/image", summary="A feedback image (admin)",
            responses={200: {"content": {"image/png": {}}}, **_responses(401, 403, 404, 503)},
            dependencies=[Depends(require_admin)])
def feedback_image(feedback_id: int, store: StoreDep, size: Literal["original", "28"] = "original") -> Response:
    """``size=original``: the bytes as received; ``size=28``: the 28x28 the model saw, as PNG."""
    row = store.get(feedback_id)
    if size == "original":
        body, media = row.image, row.content_type
    else:
        from PIL import Image

        buf = io.BytesIO()
        Image.fromarray(row.image28, "L").save(buf, "PNG")
        body, media = buf.getvalue(), "image/png"
    return Response(body, media_type=media, headers={"cache-control": "no-store"})


@router.delete("/api/feedback/{feedback_id}", status_code=204, summary="Delete one row (admin)",
               responses=_responses(401, 403, 404, 503), dependencies=[Depends(require_admin)])
def delete_feedback(feedback_id: int, store: StoreDep) -> Response:
    store.delete(feedback_id)
    return Response(status_code=204)


__all__ = ["FeedbackForm", "open_store", "parse_feedback", "record_feedback", "router"]

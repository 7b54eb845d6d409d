"""What the API says and accepts, for OpenAPI and the docs: response models and request bodies.

The routes encode their answers themselves where speed matters (``/api/predict``); these models
describe those answers, and tests hold the answers to them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field


class Timing(BaseModel):
    decode: float = Field(description="ms to read the body's image (base64 + image decoding)")
    preprocess: float = Field(description="ms to turn it into the 28x28 model input")
    inference: float = Field(description="ms in the model (requests read together share a run: each its share)")
    total: float = Field(description="ms from the route's start to the answer")


class PredictResponse(BaseModel):
    digit: int | None = Field(description="the digit read, or null when no ink was found", ge=0, le=9)
    confidence: float = Field(description="probability of that digit (0 when empty)", ge=0, le=1)
    probabilities: list[float] = Field(description="probability of each digit 0..9", min_length=10, max_length=10)
    status: Literal["ok", "uncertain", "empty"] = Field(
        description="'empty': no ink; 'uncertain': confidence below the server's threshold")
    preview: str = Field(description="the 28x28 image the model saw, as a PNG data URL (white ink on black)")
    model: str = Field(description="version of the model that answered")
    timing_ms: Timing


class ErrorDetail(BaseModel):
    code: str = Field(description="stable machine-readable code, e.g. invalid_image")
    message: str = Field(description="what went wrong, for a person")


class ErrorResponse(BaseModel):
    error: ErrorDetail


class HealthResponse(BaseModel):
    status: Literal["ok"]
    model: str


class ReadyResponse(BaseModel):
    status: Literal["ready"]
    model: str
    store: Literal["ok", "off"] = Field(description="the feedback store answered, its schema at head (off: "
                                                    "collection is turned off)")


class ConfigResponse(BaseModel):
    feedback: bool = Field(description="whether the page should offer corrections (POST /api/feedback)")
    model: str = Field(description="version of the loaded model")
    uncertain_threshold: float = Field(description="below this confidence a reading is 'uncertain'")
    model_url: str = Field("api/model.onnx", description="the model file for on-device reading, versioned by "
                                                         "its hash (?v=...): cache it for good")


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
    content_type: str = Field(description="type of the stored image (the server's re-encoding: image/png)")
    image_bytes: int = Field(description="size of the stored image")
    review: Literal["pending", "accepted", "rejected"] = Field(description="only accepted rows are trained on")


class FeedbackPage(BaseModel):
    items: list[FeedbackItem]
    total: int
    limit: int
    offset: int


class FeedbackDeleted(BaseModel):
    deleted: int = Field(description="rows deleted")


class ReviewRequest(BaseModel):
    decision: Literal["accepted", "rejected"]
    ids: list[Annotated[int, Field(ge=1, le=2**63 - 1)]] | None = Field(
        None, max_length=10_000, description="the rows to mark; omitted: every pending row")


class ReviewDone(BaseModel):
    updated: int = Field(description="rows whose review changed")


# ------------------------------------------------------------------ request bodies (openapi_extra)

_IMAGE_DESCRIPTION = ("PNG (with or without alpha), JPEG (EXIF orientation applied), WebP, BMP or GIF (first frame). "
                      "Dark ink on a light or transparent background, or light ink on dark.")
IMAGE_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["image"],
                "properties": {"image": {"type": "string", "format": "binary", "description": _IMAGE_DESCRIPTION}},
            },
        },
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["image"],
                "properties": {"image": {"type": "string", "description":
                                         "the image as a data URL (data:image/png;base64,...) or bare base64. "
                                         + _IMAGE_DESCRIPTION}},
            },
            "example": {"image": "data:image/png;base64,iVBORw0KGgo..."},
        },
    },
}

_FEEDBACK_FIELDS = {
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
            **_FEEDBACK_FIELDS}}},
        "application/json": {
            "schema": {"type": "object", "required": ["image", "label"], "properties": {
                "image": {"type": "string", "description": "data URL (data:image/png;base64,...) or bare base64"},
                **_FEEDBACK_FIELDS}},
            "example": {"image": "data:image/png;base64,iVBORw0KGgo...", "label": 7, "predicted": 1,
                        "confidence": 0.52, "model": "digitnet-20260520", "source": "draw"},
        },
    },
}

_ERROR_TEXT = {400: "not an image, bad base64, bad field or malformed JSON", 401: "missing or wrong bearer token",
               403: "collection is off (POST), or no admin token is configured (admin routes)",
               404: "no such row", 413: "body or image too large", 415: "unsupported image format or request content type",
               422: "a required field is missing", 429: "too many requests from this client: see Retry-After",
               503: "the server is busy (see Retry-After), the request took longer than the server's timeout, or the "
                    "database is unavailable", 507: "the feedback store is full"}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these error statuses, each with the ErrorResponse body."""
    return {c: {"model": ErrorResponse, "description": _ERROR_TEXT.get(c, "error")} for c in codes}

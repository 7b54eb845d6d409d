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
    digit: int | None = Field(description="the closest digit, or null when no ink was found", ge=0, le=9)
    confidence: float = Field(description="probability of that digit, among the digits (0 when empty)", ge=0, le=1)
    probabilities: list[float] = Field(description="probability of each digit 0..9, if it is a digit (they sum to 1)",
                                       min_length=10, max_length=10)
    digit_likelihood: float = Field(description="how likely the image is a digit at all (calibrated; 0 when empty)",
                                    ge=0, le=1)
    status: Literal["ok", "uncertain", "not_digit", "empty"] = Field(
        description="'empty': no ink; 'not_digit': digit_likelihood below the server's threshold (a letter, a "
                    "symbol, a scribble); 'uncertain': confidence (or digit_likelihood) below its threshold")
    preview: str = Field(description="the 28x28 image the model saw, as a PNG data URL (white ink on black)")
    model: str = Field(description="version of the model that answered")
    timing_ms: Timing


class Alternative(BaseModel):
    char: str = Field(description="another character this one could be")
    p: float = Field(description="its probability", ge=0, le=1)


class ReadCharacter(BaseModel):
    char: str = Field(description="the character read: 0-9, - . , / : ( ) + $ %, or '?' (not a character of a number)")
    confidence: float = Field(description="its probability", ge=0, le=1)
    status: Literal["ok", "uncertain", "other"] = Field(
        description="'uncertain': confidence below the server's threshold; 'other': not a character of a number")
    box: list[int] = Field(description="[x, y, width, height] of its ink, in the input image's pixels",
                           min_length=4, max_length=4)
    alternatives: list[Alternative] = Field(description="the next most likely characters")
    probabilities: list[float] = Field(description="the probability of each digit 0..9 (the page's ten bars)",
                                       min_length=10, max_length=10)
    preview: str = Field(description="the 28x28 image the model saw for this character, as a PNG data URL")


class ReadTiming(BaseModel):
    decode: float = Field(description="ms to read the body's image")
    read: float = Field(description="ms to find and read the characters")
    total: float = Field(description="ms from the route's start to the answer")


class ReadResponse(BaseModel):
    text: str = Field(description="the number read, left to right ('' when empty); a clear gap between groups is "
                                  "one space; '?' for a character that is not one of a number")
    status: Literal["ok", "uncertain", "not_number", "empty"] = Field(
        description="'empty': no ink; 'not_number': nothing in it is a character of a number (a letter, a "
                    "scribble); 'uncertain': some character is doubtful or not a character of a number")
    confidence: float = Field(description="probability of the whole string", ge=0, le=1)
    characters: list[ReadCharacter]
    model: str = Field(description="version of the digit model that answered")
    sequence_model: str | None = Field(None, description="version of the sequence model that reads digits that touch, "
                                                         "or a number the reader doubts (step 10); null: read without one")
    timing_ms: ReadTiming


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
    not_digit_threshold: float = Field(0.0, description="below this digit likelihood a reading is 'not_digit'")
    doubtful_threshold: float = Field(0.0, description="below this digit likelihood (and not under not_digit_threshold) "
                                                       "a reading is 'uncertain'")
    trained_on: str = Field("", description="one line: which handwriting the model was trained on (its metadata)")
    model_url: str = Field("api/model.onnx", description="the model file for on-device reading, versioned by "
                                                         "its hash (?v=...): cache it for good")
    sequence_url: str | None = Field(None, description="the sequence model file (the number reader's step 10: a run "
                                                       "of digits it doubts, read whole), versioned by its hash "
                                                       "(?v=...): cache it for good; null: the server reads "
                                                       "numbers without one, and so does the device")


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


class NumberFeedbackItem(BaseModel):
    id: int
    created_at: str = Field(description="ISO 8601, UTC")
    text: str = Field(description="the number the person says it is")
    read_text: str | None = Field(description="what the live model read (recomputed by the server)")
    boxes: list[list[int]] | None = Field(description="[x, y, w, h] per character of text (spaces aside), in the "
                                                       "stored image's pixels; null: not cut for training")
    boxes_from: Literal["server", "client"] | None
    confidence: float | None
    model_version: str | None
    source: Literal["draw", "upload"]
    review: Literal["pending", "accepted", "rejected"] = Field(description="only accepted rows are trained on")


class NumberFeedbackPage(BaseModel):
    items: list[NumberFeedbackItem]
    total: int
    limit: int


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

_NUMBER_FIELDS = {
    "text": {"type": "string", "minLength": 1, "maxLength": 20, "example": "737-1340",
             "description": "the number the image really shows: digits, - . , / : ( ) + $ % and single spaces"},
    "boxes": {"type": "array", "items": {"type": "array", "items": {"type": "integer"}, "minItems": 4, "maxItems": 4},
              "description": "optional: the characters' boxes [x, y, w, h] of the /api/read answer the page showed "
                             "(in a form: as a JSON string); used only when the server's own reading has a "
                             "different number of characters"},
    "source": {"type": "string", "enum": ["draw", "upload"]},
}

NUMBER_FEEDBACK_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {"schema": {"type": "object", "required": ["image", "text"], "properties": {
            "image": {"type": "string", "format": "binary", "description": "the image (as for /api/read)"},
            **_NUMBER_FIELDS}}},
        "application/json": {
            "schema": {"type": "object", "required": ["image", "text"], "properties": {
                "image": {"type": "string", "description": "data URL (data:image/png;base64,...) or bare base64"},
                **_NUMBER_FIELDS}},
            "example": {"image": "data:image/png;base64,iVBORw0KGgo...", "text": "737-1340",
                        "boxes": [[12, 30, 40, 70], [60, 28, 38, 72]], "source": "draw"},
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

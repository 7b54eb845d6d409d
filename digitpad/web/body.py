"""A request's body -> the image's bytes: multipart field ``image``, or JSON ``{"image": ...}``
holding a data URL or bare base64, decoded here, once."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from ..errors import InvalidImage, InvalidRequest, MissingField, UnsupportedMediaType
from . import multipart


def b64decode(text: str) -> bytes:
    """Bare base64 or a data URL -> bytes (InvalidImage / UnsupportedMediaType on bad input)."""
    if text.startswith("data:"):
        header, sep, text = text.partition(",")
        if not sep or not header.endswith(";base64"):
            raise InvalidImage("a data URL must look like data:image/png;base64,...", code="invalid_base64")
        mime = header[5:-7].split(";", 1)[0].strip().lower()
        if mime and not mime.startswith("image/"):
            raise UnsupportedMediaType(f"the data URL holds {mime[:60]}, not an image")
    # The canvas API emits plain base64; be lenient with whitespace and missing padding only.
    text = "".join(text.split())
    text += "=" * (-len(text) % 4)
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidImage("the image is not valid base64", code="invalid_base64") from None
    if not data:
        raise InvalidImage("the image is empty")
    return data


def mime_of(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def parse_json(data: bytes) -> Any:
    """A JSON body (InvalidRequest when it does not parse)."""
    try:
        return json.loads(data)
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting ([[[[...)
        raise InvalidRequest("the body is not valid JSON", code="invalid_json") from None


def image_field(value: object) -> bytes:
    """The JSON "image" field -> the image's bytes."""
    if not isinstance(value, str):
        raise MissingField('"image" must be a string: a data URL or base64')
    return b64decode(value)


def image_from_body(data: bytes, content_type: str) -> bytes:
    """The request's image bytes, from multipart/form-data (field ``image``) or JSON."""
    mime = mime_of(content_type)
    if mime == "application/json":
        body = parse_json(data)
        if not isinstance(body, dict) or "image" not in body:
            raise MissingField('the JSON body needs an "image" field (a data URL or base64 string)')
        return image_field(body["image"])
    if mime == "multipart/form-data":
        image = multipart.field(data, content_type, "image")
        if image is None:
            raise MissingField('the form needs a file field named "image" (curl -F image=@digit.png)')
        if not image:
            raise InvalidImage("the uploaded file is empty")
        return image
    shown = mime or "no content type"
    raise UnsupportedMediaType(f"send multipart/form-data (field 'image') or application/json, not {shown}",
                               code="unsupported_content_type")

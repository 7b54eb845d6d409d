"""One error family for digitpad.

Raised in the domain (data, preprocess, predict, store) and translated at the edges:
the HTTP layer answers ``{"error": {"code", "message"}}`` with ``http_status``; the CLI
prints one line plus the hint and exits non-zero.
"""

from __future__ import annotations


class DigitpadError(Exception):
    """Base class. ``code`` is a stable machine-readable string."""

    code = "error"
    http_status = 400

    def __init__(self, message: str, *, hint: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if code is not None:
            self.code = code

    def to_dict(self) -> dict:
        return {"error": {"code": self.code, "message": self.message}}


class DataError(DigitpadError):
    """MNIST files missing, corrupt, or failing their checksums."""

    code = "data_error"


class ModelError(DigitpadError):
    """A model file that cannot be loaded or lacks digitpad metadata."""

    code = "model_error"


class InvalidImage(DigitpadError):
    """Bytes that are not a decodable image, or bad base64 / data URL."""

    code = "invalid_image"
    http_status = 400


class InvalidRequest(DigitpadError):
    """Malformed request body (e.g. JSON that does not parse)."""

    code = "invalid_request"
    http_status = 400


class UnsupportedMediaType(DigitpadError):
    """An image format or content type we do not accept."""

    code = "unsupported_media_type"
    http_status = 415


class PayloadTooLarge(DigitpadError):
    """Body over the byte limit, or an image over the pixel limit (decompression bomb)."""

    code = "payload_too_large"
    http_status = 413


class MissingField(DigitpadError):
    """A required field is absent or has the wrong type."""

    code = "missing_field"
    http_status = 422


class NotFound(DigitpadError):
    code = "not_found"
    http_status = 404


class Forbidden(DigitpadError):
    code = "forbidden"
    http_status = 403


class Unauthorized(DigitpadError):
    code = "unauthorized"
    http_status = 401


class StoreError(DigitpadError):
    """The feedback database cannot be opened, migrated or reached (a server-side fault)."""

    code = "store_unavailable"
    http_status = 503


class StoreFull(DigitpadError):
    """The feedback store reached its total cap (rows or bytes): nothing more is stored until an admin deletes."""

    code = "store_full"
    http_status = 507


class RateLimited(DigitpadError):
    """A client sent more than its share (corrections per minute, wrong admin tokens)."""

    code = "rate_limited"
    http_status = 429

    def __init__(self, message: str, *, retry_after: float, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class Busy(DigitpadError):
    """The server could not start the work within the request timeout (too many large images at once)."""

    code = "timeout"
    http_status = 503

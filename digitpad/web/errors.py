"""Errors at the HTTP edge: every failure answers ``{"error": {"code", "message"}}``.

The domain raises ``digitpad.errors.DigitpadError`` (its ``http_status`` and ``code`` say the
rest); Starlette's own HTTP errors and FastAPI's validation errors get codes of the same
family; anything unexpected is logged with its traceback and answers a bare 500.
"""

from __future__ import annotations

import logging
import math

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import DigitpadError
from .guard import PAGE_CSP, SECURITY_HEADERS

log = logging.getLogger(__name__)

# Error codes for Starlette's own HTTP errors (unknown route, wrong method, bad multipart...).
_HTTP_CODES = {400: "invalid_request", 404: "not_found", 405: "method_not_allowed", 413: "payload_too_large",
               415: "unsupported_media_type", 422: "missing_field", 429: "rate_limited", 503: "timeout"}


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    # A message may quote the client's input (a data URL's MIME type...): a lone surrogate from
    # JSON like "\ud800" cannot be encoded as UTF-8 and would turn a 4xx into a 500.
    message = message.encode("utf-8", "backslashreplace").decode("utf-8")
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


def for_error(exc: DigitpadError) -> JSONResponse:
    headers = None
    if exc.http_status in (429, 503):  # try again: when
        headers = {"retry-after": str(max(1, math.ceil(getattr(exc, "retry_after", 1))))}
    return error_response(exc.http_status, exc.code, exc.message, headers)


async def on_digitpad_error(request: Request, exc: DigitpadError) -> JSONResponse:
    return for_error(exc)


async def on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    message = exc.detail if isinstance(exc.detail, str) else "request failed"
    return error_response(exc.status_code, _HTTP_CODES.get(exc.status_code, "http_error"), message, exc.headers)


async def on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
    message = f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg", "invalid request"))
    return error_response(422, "missing_field", message)


def internal_error(headers: dict[str, str] | None = None) -> JSONResponse:
    return error_response(500, "internal_error", "internal error; the server log has the details", headers)


async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    # Runs in Starlette's outermost middleware, outside the Guard: add its headers here.
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return internal_error({**SECURITY_HEADERS, "content-security-policy": PAGE_CSP})


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(DigitpadError, on_digitpad_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(Exception, on_unexpected)

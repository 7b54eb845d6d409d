"""The page and the docs: static files at ``/``, gzip, the Swagger UI page.

The page is plain HTML/CSS/JS modules in ``digitpad/static/`` (no build step, no CDN);
vendored files carry their version in their path and are cached for a year, the rest is
revalidated by ETag so a new version is seen at once. Files go out gzipped, compressed once
per process (``precompressed``).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Awaitable, Callable
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import Headers
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import FileResponse, RedirectResponse
from starlette.routing import Match, Mount

from .precompressed import COMPRESSIBLE, MIN_BYTES, GzipCache, accepts_gzip, gzip_response

STATIC_DIR = Path(str(resources.files("digitpad") / "static"))
SWAGGER_UI_DIR = "vendor/swagger-ui-5.35.0"  # under STATIC_DIR: the /docs page's script and styles


class PageMount(Mount):
    """The page's files at ``/``, except under ``/api/``: there the router's own answers stand
    (a JSON 404 for an unknown endpoint, a 405 whose Allow header names the endpoint's methods)."""

    def matches(self, scope: dict) -> tuple[Match, dict]:
        if scope.get("path", "").startswith("/api/"):
            return Match.NONE, {}
        return super().matches(scope)


class PageFiles(StaticFiles):
    """The page's files, always revalidated (ETag) so a new version is picked up at once;
    vendored files carry their version in their path, so browsers keep them for a year.
    Text and the .wasm go out gzipped, compressed once per process (``precompressed``).
    A directory's redirect (``/vendor`` -> ``/vendor/``) names the path only: never the
    client's Host header."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.gzipped = GzipCache()

    async def get_response(self, path: str, scope: dict) -> Response:
        response = await super().get_response(path, scope)
        if isinstance(response, RedirectResponse):
            target = urlsplit(response.headers["location"])
            response.headers["location"] = target.path + (f"?{target.query}" if target.query else "")
            return response
        if not isinstance(response, FileResponse) or response.status_code != 200:
            return response
        name = str(response.path)
        if not name.endswith(COMPRESSIBLE) or (response.stat_result and response.stat_result.st_size < MIN_BYTES):
            return response
        response.headers["vary"] = "accept-encoding"
        request_headers = Headers(scope=scope)
        if not accepts_gzip(request_headers):
            return response
        st = response.stat_result
        gz = await self.gzipped.get((name, st.st_mtime_ns, st.st_size), Path(name).read_bytes)
        keep = {k: response.headers[k] for k in ("content-type", "cache-control", "last-modified")
                if k in response.headers}
        return gzip_response(gz, response.headers["etag"], keep, request_headers)

    def file_response(self, full_path: Any, stat_result: Any, scope: dict, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(full_path, stat_result, scope, *args, **kwargs)
        versioned = scope.get("path", "").startswith("/vendor/")
        response.headers["cache-control"] = "public, max-age=31536000, immutable" if versioned else "no-cache"
        if str(full_path).endswith(".wasm"):
            response.headers["content-type"] = "application/wasm"  # needed for streaming compilation
        return response


class GzipExceptPredict:
    """gzip (Starlette's GZipMiddleware) for the API's answers over ~1 KB (the OpenAPI spec,
    listings, the model's metadata), except /api/predict, whose small answers are
    latency-bound. The page's files and the model file come compressed already
    (``precompressed``: a response with a Content-Encoding passes through untouched)."""

    def __init__(self, app: Callable[..., Awaitable[None]], minimum_size: int = 1024) -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=minimum_size, compresslevel=6)

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "http" and not scope["path"].startswith("/api/predict"):
            await self.gzip(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def docs_page(openapi_url: str) -> tuple[HTMLResponse, str]:
    """Swagger UI from the vendored copy (no CDN: the docs work offline, like the page) and a
    CSP allowing exactly its one inline script by hash: the drawing page keeps ``script-src 'self'``."""
    page = get_swagger_ui_html(openapi_url=openapi_url, title="digitpad API",
                               swagger_js_url=f"/{SWAGGER_UI_DIR}/swagger-ui-bundle.js",
                               swagger_css_url=f"/{SWAGGER_UI_DIR}/swagger-ui.css",
                               swagger_favicon_url="/favicon.svg")
    html = page.body.decode()
    inline = re.findall(r"<script>(.*?)</script>", html, flags=re.S)
    hashes = " ".join("'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
                      for s in inline)
    csp = (f"default-src 'self'; script-src 'self' {hashes}; style-src 'self'; img-src 'self' data:; "
           "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
    return page, csp


def page_mount() -> PageMount:
    """The page's files at ``/`` (added last: it catches every path the API does not)."""
    return PageMount("/", app=PageFiles(directory=STATIC_DIR, html=True), name="static")

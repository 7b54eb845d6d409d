"""The web app: composes the pieces, nothing more.

    create_app(settings)   # the FastAPI app; the model and the store open in its lifespan

Routes live in ``predict`` (POST /api/predict) and ``read`` (POST /api/read), both answered
ahead of the stack, ``meta`` (model, config, health), ``feedback`` and ``admin``; errors in
``errors``; limits and headers in ``guard`` (who may come in: ``admission``); the page and the
docs in ``static``. Importing this module loads no model and never imports torch.
"""

from __future__ import annotations

import ctypes
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse

from .. import engines
from ..curation import Limits
from ..errors import DigitpadError
from ..numberreading import number_reader_for
from ..predict import Batcher, Predictor
from ..reading import reader_for
from ..settings import ADMIN_TOKEN_MIN_LENGTH, Settings
from ..store import FeedbackStore
from . import admin, errors, feedback, meta, predict, read, readadmin, readfeedback, static, uvicorn_limits
from .admission import Admission
from .deps import ADMIN_FAILURES_PER_MINUTE
from .guard import PAGE_CSP, SECURITY_HEADERS, Guard, encode_headers
from .throttle import Throttle

log = logging.getLogger(__name__)


class _App(FastAPI):
    """FastAPI, plus ``direct``: (method, exact path) -> the guarded ASGI app of a
    ``predict.DirectRoute``, which answers those requests ahead of the middleware stack and
    the router (filled in by ``direct_routes``)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.direct: dict[tuple[str, str], Callable[..., Awaitable[None]]] = {}

    def direct_routes(self, guard: dict[str, Any]) -> None:
        for r in self.router.routes:
            if isinstance(r, predict.DirectRoute):
                for method in r.methods or ():
                    self.direct[(method, r.path)] = Guard(r.app, **guard)

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "http":
            target = self.direct.get((scope["method"], scope["path"]))
            if target is not None:
                await target(scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    def openapi(self) -> dict[str, Any]:
        """FastAPI's document of the router's routes, plus the endpoints answered directly."""
        if self.openapi_schema is None:
            doc = get_openapi(title=self.title, version=self.version, summary=self.summary, routes=self.routes)
            direct = {}
            for r in self.router.routes:
                if isinstance(r, predict.DirectRoute):
                    direct[r.path], schemas = r.app.openapi()
                    doc.setdefault("components", {}).setdefault("schemas", {}).update(schemas)
            doc["paths"] = {**direct, **doc["paths"]}
            self.openapi_schema = doc
        return self.openapi_schema


def _return_freed_memory_to_os() -> None:
    """Make glibc give large freed blocks back to the OS at once. By default its mmap threshold
    grows after the first large free, and freed image buffers of up to 32 MB then stay in the
    heap: after one big photo a worker would keep ~400 MB for good. A fixed 1 MB threshold only
    affects buffers that large (a 280x280 canvas PNG decodes to ~300 KB)."""
    try:
        ctypes.CDLL("libc.so.6").mallopt(-3, 1 << 20)  # -3: M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        pass  # not glibc (musl, macOS): nothing to tune


def _open_store(settings: Settings) -> FeedbackStore | None:
    """The store the server uses, or None when collection is off (``--no-feedback``)."""
    if not settings.feedback:
        log.info("feedback collection is off")
        return None
    limits = Limits(max_rows=settings.feedback_max_rows or None,
                    max_bytes=int(settings.feedback_max_mb * 1e6) or None)
    store = FeedbackStore.open(settings.database_url, migrate_schema=settings.migrate, limits=limits)
    log.info("feedback store: %s", store.url)
    return store


def check_settings(settings: Settings) -> None:
    """Settings that must not start a server: one line and a hint (the CLI prints them)."""
    token = settings.admin_token
    if token is not None and len(token) < ADMIN_TOKEN_MIN_LENGTH:
        raise DigitpadError(f"DIGITPAD_ADMIN_TOKEN is {len(token)} characters long: a guessable admin token is "
                            f"refused (at least {ADMIN_TOKEN_MIN_LENGTH})", code="weak_admin_token",
                            hint="make one: python3 -c 'import secrets; print(secrets.token_urlsafe(32))'")
    if settings.max_bytes_in_flight < settings.max_body_bytes:
        raise DigitpadError(f"DIGITPAD_MAX_BYTES_IN_FLIGHT ({settings.max_bytes_in_flight:,}) is under "
                            f"DIGITPAD_MAX_BODY_BYTES ({settings.max_body_bytes:,}): no large body could ever come in",
                            hint="raise DIGITPAD_MAX_BYTES_IN_FLIGHT, or lower DIGITPAD_MAX_BODY_BYTES")


def _package_version() -> str:
    try:
        return version("digitpad")
    except PackageNotFoundError:
        return "0"


def create_app(settings: Settings | None = None) -> FastAPI:
    """The digitpad web app. Nothing heavy happens here: the model opens in the lifespan."""
    settings = settings or Settings()
    check_settings(settings)
    uvicorn_limits.configure(settings)  # header size/time limits and the connection cap of this process
    engine = engines.choose(settings.preprocess)
    # python-multipart logs every malformed body at WARNING: client noise, already answered 400.
    logging.getLogger("python_multipart").setLevel(logging.ERROR)
    docs_page, docs_csp = static.docs_page("/openapi.json")
    admission = Admission(hosts=settings.host_names(), max_requests=settings.max_requests_in_flight,
                          max_bytes=settings.max_bytes_in_flight)
    guard = {"max_body": settings.max_body_bytes, "timeout": settings.request_timeout,
             "download_timeout": settings.download_timeout, "admission": admission,
             "headers": encode_headers({**SECURITY_HEADERS, "content-security-policy": PAGE_CSP}),
             "docs_headers": encode_headers({**SECURITY_HEADERS, "content-security-policy": docs_csp})}

    @asynccontextmanager
    async def lifespan(app: _App) -> AsyncIterator[None]:
        _return_freed_memory_to_os()
        predictor = Predictor(settings.model, threads=settings.threads)
        app.state.predictor = predictor
        app.state.reader = reader_for(settings, predictor)
        app.state.number_reader = number_reader_for(settings, app.state.reader)
        app.state.batcher = Batcher(predictor)  # for the small images read on the event loop
        log.info("model %s loaded from %s", predictor.version, predictor.path)
        log.log(logging.INFO if engine.name == "c" else logging.WARNING, "preprocessing: %s", engine.describe())
        app.state.store = _open_store(settings)
        yield
        if app.state.store is not None:
            app.state.store.close()

    app = _App(title="digitpad", summary="Handwritten digit recognizer: draw a digit, a CNN trained on MNIST reads it.",
               version=_package_version(), lifespan=lifespan, docs_url=None, redoc_url=None,
               # No "/api/model/" -> "http://<the client's Host>/api/model" redirects: a Host header
               # is never echoed back (the page's directory redirects name the path only).
               redirect_slashes=False)
    app.state.settings = settings
    # Large-image decodes at once per process: /api/predict's, and feedback's own.
    app.state.heavy_jobs = threading.BoundedSemaphore(predict.HEAVY_JOBS)
    app.state.read_jobs = threading.BoundedSemaphore(1)  # POST /api/read: one number at a time per process
    app.state.feedback_jobs = threading.BoundedSemaphore(feedback.FEEDBACK_JOBS)
    app.state.feedback_throttle = Throttle(settings.feedback_per_minute)
    app.state.admin_throttle = Throttle(ADMIN_FAILURES_PER_MINUTE)
    errors.install(app)
    app.router.routes.append(predict.PredictEndpoint.route(app.state, settings.request_timeout))
    app.router.routes.append(read.ReadEndpoint.route(app.state, settings.request_timeout))
    app.include_router(meta.router)
    app.include_router(feedback.router)
    app.include_router(readfeedback.router)
    app.include_router(readadmin.router)
    app.include_router(admin.router)

    async def docs() -> HTMLResponse:
        return docs_page

    app.add_api_route("/docs", docs, include_in_schema=False, response_class=HTMLResponse)
    app.router.routes.append(static.page_mount())  # last: it catches every other path
    app.add_middleware(static.GzipExceptPredict)
    app.add_middleware(Guard, **guard)
    app.direct_routes(guard)
    return app

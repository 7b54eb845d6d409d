"""What routes take from the app: the objects opened in the lifespan, as ``Annotated`` dependencies.

All async: a plain ``def`` dependency would cost a threadpool hop per request.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, Request, Response

from ..errors import Forbidden, RateLimited, Unauthorized
from ..predict import Predictor
from ..reading import Reader
from ..sequence import SequenceModel
from ..settings import Settings
from ..store import FeedbackStore
from .throttle import client_of

# Wrong admin tokens one address may send per minute before it is refused (429) for a while.
ADMIN_FAILURES_PER_MINUTE = 10


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_predictor(request: Request) -> Predictor:
    return request.app.state.predictor


async def get_reader(request: Request) -> Reader:
    return request.app.state.reader


async def get_sequence(request: Request) -> SequenceModel | None:
    """The number reader's sequence model (None: the server reads without it, DIGITPAD_SEQUENCE=false)."""
    return request.app.state.number_reader.sequence


async def get_store(request: Request) -> FeedbackStore:
    store = getattr(request.app.state, "store", None)
    if store is None:
        raise Forbidden("feedback collection is turned off on this server", code="feedback_disabled")
    return store


async def require_admin(request: Request, response: Response) -> None:
    """Bearer token check, in constant time, throttled per address (ADMIN_FAILURES_PER_MINUTE
    wrong tokens, then 429). No token configured: the admin API is off (403). Answers are never
    cached (``Cache-Control: no-store``)."""
    response.headers["cache-control"] = "no-store"
    token = request.app.state.settings.admin_token
    if not token:
        raise Forbidden("the feedback admin API is off: start the server with DIGITPAD_ADMIN_TOKEN set",
                        code="admin_disabled")
    throttle, client = request.app.state.admin_throttle, client_of(request.scope)
    wait = throttle.wait(client)
    if wait:
        raise RateLimited(f"too many wrong admin tokens from this address; try again in {wait:.0f} s",
                          retry_after=wait)
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secrets.compare_digest(given.strip().encode(), token.encode()):
        throttle.take(client)
        raise Unauthorized("send the admin token as 'Authorization: Bearer TOKEN'")


SettingsDep = Annotated[Settings, Depends(get_settings)]
PredictorDep = Annotated[Predictor, Depends(get_predictor)]
ReaderDep = Annotated[Reader, Depends(get_reader)]
SequenceDep = Annotated[SequenceModel | None, Depends(get_sequence)]
StoreDep = Annotated[FeedbackStore, Depends(get_store)]
AdminOnly = Depends(require_admin)

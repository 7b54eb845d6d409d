"""The feedback admin routes: review, listing, images, deletes (``Authorization: Bearer TOKEN``).

    GET    /api/feedback?limit&offset&review           newest first, without images
    GET    /api/feedback/{id}/image[?size=28]          the stored image, or the 28x28 the model saw
    DELETE /api/feedback/{id}                          one row
    DELETE /api/feedback?min_id&max_id&model&before&review   many rows -> {"deleted": n}; space given back
    POST   /api/feedback/review {"decision", "ids"}    accept or reject rows (no ids: every pending one)

With no token configured they answer 403; a wrong token 401, and too many wrong tokens from one
address 429 (``deps.require_admin``). Every answer says ``Cache-Control: no-store``: neither a
browser nor the page's service worker keeps it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response

from .. import png
from ..curation import Selection
from .deps import AdminOnly, StoreDep
from .schemas import FeedbackDeleted, FeedbackPage, ReviewDone, ReviewRequest, errors

router = APIRouter(tags=["feedback admin"], dependencies=[AdminOnly])

NO_STORE = {"cache-control": "no-store"}
# A row id: the databases' 64-bit integer keys (a larger number cannot name a row, and would
# overflow the driver: a 500 instead of a 404).
RowId = Annotated[int, Path(ge=1, le=2**63 - 1, description="id of the row")]
IdBound = Annotated[int | None, Query(ge=1, le=2**63 - 1)]
Review = Literal["pending", "accepted", "rejected"]


def selection_query(min_id: IdBound = None, max_id: IdBound = None,
                    model: Annotated[str | None, Query(max_length=200)] = None,
                    before: Annotated[datetime | None, Query(description="ISO 8601; without a zone: UTC")] = None,
                    review: Review | None = None) -> Selection:
    """A bulk delete's criteria, from its query string (digits' and numbers' rows alike)."""
    if before is not None and before.tzinfo is None:
        before = before.replace(tzinfo=UTC)
    return Selection(min_id=min_id, max_id=max_id, model=model, before=before, review=review)


SelectionQuery = Annotated[Selection, Depends(selection_query)]


@router.get("/api/feedback", summary="List feedback, newest first (admin)", response_model=FeedbackPage,
            responses=errors(401, 403, 422, 429, 503))
def list_feedback(store: StoreDep, limit: Annotated[int, Query(ge=1, le=500)] = 50,
                  offset: Annotated[int, Query(ge=0, le=2**62)] = 0, review: Review | None = None) -> dict:
    return {"items": [r.to_dict() for r in store.list(limit=limit, offset=offset, review=review)],
            "total": store.count(review=review), "limit": limit, "offset": offset}


@router.get("/api/feedback/{feedback_id}/image", summary="A feedback image (admin)",
            responses={200: {"content": {"image/png": {}}}, **errors(401, 403, 404, 429, 503)})
def feedback_image(feedback_id: RowId, store: StoreDep, size: Literal["original", "28"] = "original") -> Response:
    """``size=original``: the image as stored (the server's re-encoding of the upload);
    ``size=28``: the 28x28 the model saw, as PNG."""
    row = store.get(feedback_id)
    if size == "original":
        body, media = row.image, row.content_type
    else:
        body, media = png.encode_gray(row.image28), "image/png"
    return Response(body, media_type=media, headers=NO_STORE)


@router.delete("/api/feedback/{feedback_id}", status_code=204, summary="Delete one row (admin)",
               responses=errors(401, 403, 404, 429, 503))
def delete_feedback(feedback_id: RowId, store: StoreDep) -> Response:
    store.delete(feedback_id)
    return Response(status_code=204, headers=NO_STORE)


@router.delete("/api/feedback", summary="Delete many rows (admin)", response_model=FeedbackDeleted,
               responses=errors(400, 401, 403, 422, 429, 503))
def delete_many(store: StoreDep, selection: SelectionQuery) -> dict:
    """Every row matching all the given criteria (at least one); SQLite gives the space back."""
    return {"deleted": store.delete_many(selection)}


@router.post("/api/feedback/review", summary="Accept or reject rows (admin)", response_model=ReviewDone,
             responses=errors(400, 401, 403, 422, 429, 503))
def review(body: ReviewRequest, store: StoreDep) -> dict:
    """Only accepted rows are trained on (``digitpad finetune``)."""
    return {"updated": store.review(body.ids, body.decision)}

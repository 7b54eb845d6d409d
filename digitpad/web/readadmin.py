"""The admin routes of corrected numbers (``Authorization: Bearer TOKEN``), as ``admin``'s for digits.

    GET    /api/read/feedback?limit&review                newest first, without images
    GET    /api/read/feedback/{id}/image                  the stored image
    DELETE /api/read/feedback/{id}                        one row
    DELETE /api/read/feedback?min_id&max_id&model&before&review   many rows -> {"deleted": n}
    POST   /api/read/feedback/review {"decision", "ids"}  accept or reject rows (no ids: every pending one)
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from .admin import NO_STORE, Review, RowId, SelectionQuery
from .deps import AdminOnly, StoreDep
from .schemas import FeedbackDeleted, NumberFeedbackPage, ReviewDone, ReviewRequest, errors

router = APIRouter(tags=["feedback admin"], dependencies=[AdminOnly])


@router.get("/api/read/feedback", summary="List corrected numbers, newest first (admin)",
            response_model=NumberFeedbackPage, responses=errors(401, 403, 422, 429, 503))
def list_numbers(store: StoreDep, limit: Annotated[int, Query(ge=1, le=500)] = 50,
                 review: Review | None = None) -> dict:
    items = [{"id": r.id, "created_at": r.created_at.isoformat(), "text": r.text, "read_text": r.read_text,
              "boxes": r.boxes, "boxes_from": r.boxes_from, "confidence": r.confidence,
              "model_version": r.model_version, "source": r.source, "review": r.review}
             for r in store.numbers.list(limit=limit, review=review)]
    return {"items": items, "total": store.numbers.count(review=review), "limit": limit}


@router.get("/api/read/feedback/{feedback_id}/image", summary="A corrected number's image (admin)",
            responses={200: {"content": {"image/png": {}}}, **errors(401, 403, 404, 429, 503)})
def number_image(feedback_id: RowId, store: StoreDep) -> Response:
    row = store.numbers.get(feedback_id)
    return Response(row.image, media_type=row.content_type, headers=NO_STORE)


@router.delete("/api/read/feedback/{feedback_id}", status_code=204, summary="Delete one corrected number (admin)",
               responses=errors(401, 403, 404, 429, 503))
def delete_number(feedback_id: RowId, store: StoreDep) -> Response:
    store.numbers.delete(feedback_id)
    return Response(status_code=204, headers=NO_STORE)


@router.delete("/api/read/feedback", summary="Delete many corrected numbers (admin)", response_model=FeedbackDeleted,
               responses=errors(400, 401, 403, 422, 429, 503))
def delete_numbers(store: StoreDep, selection: SelectionQuery) -> dict:
    return {"deleted": store.numbers.delete_many(selection)}


@router.post("/api/read/feedback/review", summary="Accept or reject corrected numbers (admin)",
             response_model=ReviewDone, responses=errors(400, 401, 403, 422, 429, 503))
def review_numbers(body: ReviewRequest, store: StoreDep) -> dict:
    """Only accepted rows are trained on (``digitpad finetune``), one crop per character."""
    return {"updated": store.numbers.review(body.ids, body.decision)}

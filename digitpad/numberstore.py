"""The store's corrected numbers (``number_feedback``): ``FeedbackStore.numbers``.

    fid = store.numbers.add(text="737-1340", image_bytes=png, content_type="image/png",
                            read_text="737-1540", boxes=[[4, 10, 20, 31], ...], boxes_from="server",
                            read_scores=[{"7": 0.99}, ...], confidence=0.41, model_version="...", source="draw")
    store.numbers.get(fid); store.numbers.review([fid], "accepted"); store.numbers.count(review="pending")
    for row in store.numbers.iter_for_export(review=("accepted",)): ...

The same rules as the digits' rows (``digitpad.store``): committed and on disk before ``add``
returns, the one cap over both tables (``curation.Quota``), rows start ``pending`` and only a
review (or, when asked, the agreement check) makes them training data. The store knows nothing
of HTTP or images: callers validate and read the image (``digitpad.numberfeedback``); the rows'
invariants are checked here again (``rows.check_text``, ``rows.check_boxes``).
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Iterator
from datetime import UTC, datetime

from sqlalchemy import Engine, delete, func, select

from . import curation
from .errors import InvalidRequest, NotFound
from .rows import REVIEW_STATES, SOURCES, NumberFeedback, NumberRecord, check_text, utc

log = logging.getLogger(__name__)
BOX_SOURCES = ("server", "client")


class NumberRows:
    """Corrected numbers in the store's database (thread-safe: each call has its own session)."""

    def __init__(self, session: curation.SessionFactory, quota: curation.Quota, engine: Engine) -> None:
        self._session = session
        self.quota = quota
        self.engine = engine

    def add(self, *, text: str, image_bytes: bytes, content_type: str, read_text: str | None = None,
            boxes: builtins.list[builtins.list[int]] | None = None, boxes_from: str | None = None,
            read_scores: builtins.list[dict[str, float]] | None = None, confidence: float | None = None,
            model_version: str | None = None, source: str = "draw") -> int:
        """Insert one row (``pending`` review); returns its id once committed (durable).
        ``StoreFull`` when the store's cap has been reached; InvalidRequest for a bad row."""
        check_text(text)
        n = len(text.replace(" ", ""))
        if boxes is not None and (len(boxes) != n or any(len(b) != 4 for b in boxes)):
            raise InvalidRequest(f"boxes must hold one [x, y, w, h] per character ({n})", code="invalid_boxes")
        if (boxes is None) != (boxes_from is None) or (boxes_from is not None and boxes_from not in BOX_SOURCES):
            raise InvalidRequest(f"boxes_from is one of {', '.join(BOX_SOURCES)} when there are boxes")
        if confidence is not None and not 0.0 <= float(confidence) <= 1.0:
            raise InvalidRequest(f"confidence must be between 0 and 1, got {confidence}", code="invalid_confidence")
        if source not in SOURCES:
            raise InvalidRequest(f"source must be one of {', '.join(SOURCES)}, got {source!r}", code="invalid_source")
        if not image_bytes:
            raise InvalidRequest("image_bytes is empty", code="missing_image")
        row = NumberFeedback(
            created_at=datetime.now(UTC), text=text, read_text=None if read_text is None else read_text[:64],
            boxes=None if boxes is None else [[int(v) for v in b] for b in boxes], boxes_from=boxes_from,
            read_scores=read_scores, confidence=None if confidence is None else float(confidence),
            model_version=model_version, source=source, content_type=content_type[:100], image=bytes(image_bytes),
            review="pending",
        )
        return self.quota.insert(self._session, row, len(image_bytes))

    def get(self, id: int) -> NumberRecord:  # noqa: A002 (the row's own name for it)
        with self._session() as s:
            r = s.get(NumberFeedback, id)
            if r is None:
                raise NotFound(f"no number feedback with id {id}")
            return _record(r)

    def delete(self, id: int) -> None:  # noqa: A002
        with self._session(write=True) as s:
            n = s.execute(delete(NumberFeedback).where(NumberFeedback.id == id)).rowcount
        if not n:
            raise NotFound(f"no number feedback with id {id}")
        self.quota.forget()

    def delete_many(self, selection: curation.Selection) -> int:
        """Delete every row ``selection`` picks; then give the space back (SQLite). Returns how many."""
        return curation.delete_and_reclaim(self._session, self.engine, self.quota, selection, NumberFeedback)

    def review(self, ids: builtins.list[int] | None, decision: str, *, only_pending: bool = False) -> int:
        """Mark rows ``accepted`` / ``rejected`` (ids None: every pending row); returns how many changed."""
        with self._session(write=True) as s:
            return curation.set_review(s, ids=ids, decision=decision, only_pending=only_pending,
                                       table=NumberFeedback)

    def count(self, *, review: str | None = None) -> int:
        q = select(func.count()).select_from(NumberFeedback)
        if review is not None:
            q = q.where(NumberFeedback.review == review)
        with self._session() as s:
            return int(s.scalar(q) or 0)

    def list(self, *, limit: int = 50, review: str | None = None) -> builtins.list[NumberRecord]:
        """Newest first (``review``: only rows in that state)."""
        if limit < 0:
            raise InvalidRequest("limit must not be negative")
        q = select(NumberFeedback).order_by(NumberFeedback.id.desc()).limit(limit)
        if review is not None:
            q = q.where(NumberFeedback.review == review)
        with self._session() as s:
            return [_record(r) for r in s.scalars(q)]

    def by_review(self) -> dict[str, int]:
        """How many rows are in each review state (states with none left out)."""
        q = select(NumberFeedback.review, func.count()).group_by(NumberFeedback.review)
        with self._session() as s:
            return {review: int(n) for review, n in s.execute(q)}

    def ids(self) -> builtins.list[int]:
        with self._session() as s:
            return builtins.list(s.scalars(select(NumberFeedback.id).order_by(NumberFeedback.id)))

    def iter_for_export(self, *, batch_size: int = 64, review: tuple[str, ...] | None = None) -> Iterator[NumberRecord]:
        """Every row (``review``: only rows in those states), oldest first, streamed in batches."""
        if review is not None and not set(review) <= set(REVIEW_STATES):
            raise InvalidRequest(f"review is one of {', '.join(REVIEW_STATES)}", code="invalid_review")
        q = select(NumberFeedback).order_by(NumberFeedback.id)
        if review is not None:
            q = q.where(NumberFeedback.review.in_(review))
        with self._session() as s:
            for r in s.scalars(q.execution_options(yield_per=batch_size)):
                yield _record(r)


def _record(r: NumberFeedback) -> NumberRecord:
    return NumberRecord(id=r.id, created_at=utc(r.created_at), text=r.text, read_text=r.read_text, boxes=r.boxes,
                        boxes_from=r.boxes_from, read_scores=r.read_scores, confidence=r.confidence,
                        model_version=r.model_version, source=r.source, content_type=r.content_type,
                        image=r.image, review=r.review)

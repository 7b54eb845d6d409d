"""The feedback store: corrections people make on the page, kept as training data.

    store = FeedbackStore.open()                       # SQLite in the per-user data dir
    store = FeedbackStore.open("postgresql+psycopg://user:pw@host/db", limits=Limits(max_rows=50_000))
    fid = store.add(label=7, image_bytes=png, content_type="image/png", image28=img28, source="draw")
    store.review([fid], "accepted"); store.delete_many(Selection(max_id=100))
    store.stats(); store.list(limit=50, offset=0); store.delete(fid); store.ready(); store.close()
    store.numbers.add(text="737-1340", image_bytes=png, ...)   # corrected numbers: digitpad.numberstore

SQLAlchemy 2 models (``digitpad.rows``), schema migrations by Alembic (``digitpad.schema``;
opening a store runs ``upgrade head`` under a lock, so several server workers may start at once,
unless it is told not to migrate: then a schema that is not at head is a ``StoreError`` naming
``digitpad db upgrade``, the step a deployment runs once before its replicas start). Connecting,
SQLite's settings and the file's identity are ``digitpad.database``'s; the cap, the review and
bulk deletes ``digitpad.curation``'s. The default database is an SQLite file in WAL mode with
``synchronous=FULL`` and a busy timeout: every ``add`` is committed and on disk before it
returns, which is what lets the API answer 201 (and a file deleted or replaced under the server
makes every call a ``StoreError``, never a silent write to a file nobody will read).

The store knows nothing about HTTP or images beyond bytes: callers validate and preprocess,
the store checks its own invariants again and raises the ``digitpad.errors`` family.
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from . import curation
from .curation import Limits, Selection
from .database import (
    CHECK_URL_HINT,
    DatabaseFile,
    database_schema_status,
    default_database_url,
    describe_url,
    make_engine,
    reason,
    require_current_schema,
    resolve_url,
    upgrade_database,
)
from .errors import InvalidRequest, NotFound, StoreError
from .numberstore import NumberRows
from .rows import Base, ExportRow, Feedback, FeedbackRecord, FeedbackSummary, check_row, utc
from .schema import alembic_config, current_revision, head_revision, migrate

log = logging.getLogger(__name__)


class FeedbackStore:
    """Feedback rows in SQLite or PostgreSQL. Thread-safe: each call uses its own session."""

    def __init__(self, engine: Engine, *, limits: Limits | None = None) -> None:
        self.engine = engine
        self.backend = engine.dialect.name
        self.limits = limits or Limits()
        self.quota = curation.Quota(self.limits)
        self.file = DatabaseFile.of(engine.url)
        self._identity = self.file.identity() if self.file else None
        self._head = head_revision()
        self._read = sessionmaker(engine, expire_on_commit=False)
        self._write = sessionmaker(engine.execution_options(digitpad_write=True), expire_on_commit=False)
        self.numbers = NumberRows(self._session, self.quota, engine)  # corrected numbers (number_feedback)

    @classmethod
    def open(cls, url: str | None = None, *, migrate_schema: bool = True, limits: Limits | None = None) -> FeedbackStore:
        """Connect to ``url`` (default: the per-user SQLite file) and bring the schema to head.

        ``migrate_schema=False`` (``DIGITPAD_MIGRATE=false``: replicas that leave migrating to a
        deployment step) changes nothing: a schema that is not at head raises ``StoreError``.
        An SQLite file that existed once and is gone is refused (``database.DatabaseFile``).
        """
        engine = make_engine(url)
        try:
            if migrate_schema:
                migrate(engine)
            else:
                require_current_schema(engine, url)
        except StoreError:
            engine.dispose()
            raise
        except SQLAlchemyError as e:
            engine.dispose()
            raise StoreError(f"cannot open the feedback database {describe_url(url)}: {reason(e)}",
                             hint=CHECK_URL_HINT) from e
        store = cls(engine, limits=limits)
        if store.file is not None:
            store.file.remember()
        log.debug("feedback store: %s", describe_url(url))
        return store

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> FeedbackStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def _session(self, *, write: bool = False) -> Iterator[Session]:
        """A session in one transaction (committed on success); database faults -> StoreError."""
        if self.file is not None:
            self.file.check_same(self._identity)  # gone or replaced: refuse, loudly
        try:
            with (self._write if write else self._read)() as session, session.begin():
                yield session
        except SQLAlchemyError as e:
            log.error("feedback store: %s", e)
            raise StoreError(f"the feedback database failed: {reason(e)}") from e

    def ready(self) -> None:
        """``StoreError`` unless the database answers and its schema is this digitpad's head (and,
        for SQLite, the file is still the one opened, and opens for writing): what ``/readyz`` asks."""
        if self.file is not None:
            self.file.check_same(self._identity)
            revision = self.file.probe()
        else:
            with self._session() as s:
                revision = s.execute(text("SELECT version_num FROM alembic_version")).scalar()
        if revision != self._head:
            raise StoreError(f"the feedback database's schema is at {revision}, not this digitpad's {self._head}",
                             code="schema_out_of_date")

    # ------------------------------------------------------------ writes

    def add(
        self,
        *,
        label: int,
        image_bytes: bytes,
        content_type: str,
        image28: np.ndarray,
        predicted: int | None = None,
        confidence: float | None = None,
        probabilities: builtins.list[float] | None = None,
        model_version: str | None = None,
        source: str = "draw",
    ) -> int:
        """Insert one row (``pending`` review); returns its id once committed (durable).
        ``StoreFull`` when the store's cap (``limits``) has been reached."""
        img = np.asarray(image28)
        check_row(label=label, predicted=predicted, confidence=confidence, probabilities=probabilities,
                  source=source, image28=img, image_bytes=image_bytes)
        row = Feedback(
            created_at=datetime.now(UTC),
            label=int(label),
            predicted=None if predicted is None else int(predicted),
            confidence=None if confidence is None else float(confidence),
            probabilities=None if probabilities is None else [float(p) for p in probabilities],
            model_version=model_version,
            source=source,
            content_type=content_type[:100],
            image=bytes(image_bytes),
            image28=img.tobytes(),
            review="pending",
        )
        return self.quota.insert(self._session, row, len(image_bytes))

    def delete(self, id: int) -> None:  # noqa: A002 (the row's own name for it)
        """Remove one row; ``NotFound`` if there is none."""
        with self._session(write=True) as s:
            row = s.get(Feedback, id)
            if row is None:
                raise NotFound(f"no feedback with id {id}")
            s.delete(row)

    def delete_many(self, selection: Selection, *, reclaim: bool = True) -> int:
        """Delete every row ``selection`` picks; then give the space back (SQLite). Returns how many."""
        n = curation.delete_and_reclaim(self._session, self.engine, self.quota, selection, reclaim=reclaim)
        log.info("feedback store: deleted %d rows (%s)", n, selection)
        return n

    def review(self, ids: builtins.list[int] | None, decision: str, *, only_pending: bool = False) -> int:
        """Mark rows ``accepted`` / ``rejected`` (ids None: every pending row); returns how many changed."""
        with self._session(write=True) as s:
            return curation.set_review(s, ids=ids, decision=decision, only_pending=only_pending)

    # ------------------------------------------------------------ reads

    def get(self, id: int) -> FeedbackRecord:  # noqa: A002
        with self._session() as s:
            r = s.get(Feedback, id)
            if r is None:
                raise NotFound(f"no feedback with id {id}")
            return FeedbackRecord(
                id=r.id, created_at=utc(r.created_at), label=r.label, predicted=r.predicted,
                confidence=r.confidence, probabilities=r.probabilities, model_version=r.model_version,
                source=r.source, content_type=r.content_type, image=r.image,
                image28=np.frombuffer(r.image28, np.uint8).reshape(28, 28).copy(), review=r.review,
            )

    def list(self, *, limit: int = 50, offset: int = 0, review: str | None = None) -> builtins.list[FeedbackSummary]:
        """Newest first, without image bytes (``review``: only rows in that state)."""
        if limit < 0 or offset < 0:
            raise InvalidRequest("limit and offset must not be negative")
        f = Feedback
        q = (select(f.id, f.created_at, f.label, f.predicted, f.confidence, f.model_version, f.source,
                    f.content_type, func.length(f.image), f.review)
             .order_by(f.id.desc()).limit(limit).offset(offset))
        if review is not None:
            q = q.where(f.review == review)
        with self._session() as s:
            return [FeedbackSummary(id=r[0], created_at=utc(r[1]), label=r[2], predicted=r[3], confidence=r[4],
                                    model_version=r[5], source=r[6], content_type=r[7], image_bytes=int(r[8]),
                                    review=r[9])
                    for r in s.execute(q)]

    def ids(self) -> builtins.list[int]:
        """Every id, ascending (for reconciliation and tests)."""
        with self._session() as s:
            return builtins.list(s.scalars(select(Feedback.id).order_by(Feedback.id)))

    def count(self, *, review: str | None = None) -> int:
        q = select(func.count()).select_from(Feedback)
        if review is not None:
            q = q.where(Feedback.review == review)
        with self._session() as s:
            return int(s.scalar(q) or 0)

    def usage(self) -> tuple[int, int]:
        """(rows, bytes of stored images)."""
        with self._session() as s:
            return curation.usage(s)

    def stats(self) -> dict[str, Any]:
        """Totals, count per label and per review state, the live model's accuracy on feedback,
        confusion matrix.

        Accuracy counts rows whose reading is known (``predicted`` not null): predicted == label
        means the model was right and the person confirmed it; the rest are corrections.
        """
        f = Feedback
        q = (select(f.label, f.predicted, f.model_version, f.source, f.review, func.count())
             .group_by(f.label, f.predicted, f.model_version, f.source, f.review))
        with self._session() as s:
            groups = s.execute(q).all()
            first, last = s.execute(select(func.min(f.created_at), func.max(f.created_at))).one()
        per_label = [0] * 10
        confusion = [[0] * 10 for _ in range(10)]  # rows: label (truth), columns: predicted
        by_source: dict[str, int] = {}
        by_review: dict[str, int] = {}
        by_model: dict[str, dict[str, Any]] = {}
        for label, predicted, model, source, review, n in groups:
            per_label[label] += n
            by_source[source] = by_source.get(source, 0) + n
            by_review[review] = by_review.get(review, 0) + n
            if predicted is not None:
                confusion[label][predicted] += n
                m = by_model.setdefault(model or "unknown", {"rated": 0, "correct": 0})
                m["rated"] += n
                m["correct"] += n if predicted == label else 0
        for m in by_model.values():
            m["accuracy"] = m["correct"] / m["rated"] if m["rated"] else None
        rated = sum(map(sum, confusion))
        correct = sum(confusion[d][d] for d in range(10))
        return {
            "total": sum(per_label),
            "per_label": per_label,
            "rated": rated,
            "correct": correct,
            "accuracy": correct / rated if rated else None,
            "confusion": confusion,
            "by_source": by_source,
            "by_review": by_review,
            "by_model": by_model,
            "first": utc(first).isoformat() if first else None,
            "last": utc(last).isoformat() if last else None,
        }

    def iter_for_export(self, *, batch_size: int = 256, review: tuple[str, ...] | None = None) -> Iterator[ExportRow]:
        """Every row (``review``: only rows in those states), oldest first, streamed in batches
        (constant memory)."""
        f = Feedback
        q = select(f.id, f.label, f.image, f.content_type, f.image28, f.review, f.probabilities).order_by(f.id)
        if review is not None:
            q = q.where(f.review.in_(review))
        with self._session() as s:
            for r in s.execute(q.execution_options(yield_per=batch_size)):
                yield ExportRow(id=r[0], label=r[1], image=r[2], content_type=r[3],
                                image28=np.frombuffer(r[4], np.uint8).reshape(28, 28).copy(), review=r[5],
                                probabilities=r[6])


__all__ = [
    "Base", "ExportRow", "Feedback", "FeedbackRecord", "FeedbackStore", "FeedbackSummary", "Limits", "Selection",
    # from digitpad.database and digitpad.schema, where the store's users have long found them
    "database_schema_status", "default_database_url", "describe_url", "make_engine", "require_current_schema",
    "resolve_url", "upgrade_database", "alembic_config", "current_revision", "migrate",
]

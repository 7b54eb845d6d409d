"""The feedback table (SQLAlchemy 2 models), a row's invariants, and the plain records the store
hands to callers.

A row is one correction: the image a person drew or uploaded (re-encoded by the server, never the
bytes as sent: ``digitpad.feedback``), the digit they say it is, the server's own reading of it,
and its review state. Corrections are quarantined: a row starts ``pending`` and only an admin's
review (``digitpad feedback review``) makes it ``accepted`` training data (``digitpad.curation``).
The schema itself lives in Alembic migrations (``digitpad.schema``); these models must match them
(tests/test_store.py compares the two).
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import JSON, CheckConstraint, DateTime, Float, Integer, LargeBinary, MetaData, SmallInteger, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from .errors import InvalidRequest

SOURCES = ("draw", "upload")
# A row's review state: new rows wait; only accepted rows are trained on by default.
REVIEW_STATES = ("pending", "accepted", "rejected")
IMAGE28_BYTES = 28 * 28

# Explicit constraint names, so Alembic migrations and the models always agree.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Feedback(Base):
    """One correction: the image a person drew or uploaded, and the digit they say it is."""

    __tablename__ = "feedback"
    __table_args__ = (
        CheckConstraint("label >= 0 AND label <= 9", name="label_digit"),
        CheckConstraint("predicted IS NULL OR (predicted >= 0 AND predicted <= 9)", name="predicted_digit"),
        CheckConstraint("confidence IS NULL OR (confidence >= 0 AND confidence <= 1)", name="confidence_unit"),
        CheckConstraint("source IN ('draw', 'upload')", name="source_known"),
        CheckConstraint(f"length(image28) = {IMAGE28_BYTES}", name="image28_size"),
        CheckConstraint("review IN ('pending', 'accepted', 'rejected')", name="review_known"),
        # SQLite: never reuse the id of a deleted row (exported files are named by id).
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    label: Mapped[int] = mapped_column(SmallInteger)
    predicted: Mapped[int | None] = mapped_column(SmallInteger)
    confidence: Mapped[float | None] = mapped_column(Float)
    probabilities: Mapped[builtins.list[float] | None] = mapped_column(JSON)  # 10 floats
    model_version: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(16))
    content_type: Mapped[str] = mapped_column(String(100))
    image: Mapped[bytes] = mapped_column(LargeBinary)  # the stored image (the server's re-encoding)
    image28: Mapped[bytes] = mapped_column(LargeBinary)  # (28, 28) uint8 row-major, what the model saw
    review: Mapped[str] = mapped_column(String(8), server_default="pending", index=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# ---------------------------------------------------------------- records handed to callers


@dataclass(frozen=True)
class FeedbackSummary:
    """A row without its image bytes (what listings return)."""

    id: int
    created_at: datetime
    label: int
    predicted: int | None
    confidence: float | None
    model_version: str | None
    source: str
    content_type: str
    image_bytes: int  # size of the stored image
    review: str = "pending"

    def to_dict(self) -> dict[str, Any]:
        d = self.__dict__.copy()
        d["created_at"] = self.created_at.isoformat()
        return d


@dataclass(frozen=True)
class FeedbackRecord:
    """A whole row."""

    id: int
    created_at: datetime
    label: int
    predicted: int | None
    confidence: float | None
    probabilities: builtins.list[float] | None
    model_version: str | None
    source: str
    content_type: str
    image: bytes = field(repr=False)
    image28: np.ndarray = field(repr=False)  # (28, 28) uint8, white ink on black
    review: str = "pending"


@dataclass(frozen=True)
class ExportRow:
    id: int
    label: int
    image: bytes = field(repr=False)  # the stored image (re-preprocess it with the current pipeline)
    content_type: str
    image28: np.ndarray = field(repr=False)  # (28, 28) uint8 stored at collection time
    review: str = "pending"
    probabilities: builtins.list[float] | None = field(default=None, repr=False)  # the stored reading


def check_row(*, label: object, predicted: object, confidence: float | None, probabilities: object,
              source: str, image28: np.ndarray, image_bytes: bytes) -> None:
    """The row's invariants, checked before the database's own CHECK constraints: InvalidRequest."""
    _check_digit("label", label, required=True)
    _check_digit("predicted", predicted, required=False)
    if confidence is not None and not (0.0 <= float(confidence) <= 1.0):
        raise InvalidRequest(f"confidence must be between 0 and 1, got {confidence}", code="invalid_confidence")
    if probabilities is not None and len(probabilities) != 10:  # type: ignore[arg-type]
        raise InvalidRequest(f"probabilities must hold 10 numbers, got {len(probabilities)}")  # type: ignore[arg-type]
    if source not in SOURCES:
        raise InvalidRequest(f"source must be one of {', '.join(SOURCES)}, got {source!r}", code="invalid_source")
    if image28.shape != (28, 28) or image28.dtype != np.uint8:
        raise InvalidRequest(f"image28 must be a (28, 28) uint8 array, got {image28.shape} {image28.dtype}")
    if not image_bytes:
        raise InvalidRequest("image_bytes is empty", code="missing_image")


def _check_digit(name: str, value: object, *, required: bool) -> None:
    if value is None:
        if required:
            raise InvalidRequest(f"{name} is required", code=f"missing_{name}")
        return
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or not 0 <= int(value) <= 9:
        raise InvalidRequest(f"{name} must be a digit 0-9, got {value!r}", code=f"invalid_{name}")


def utc(dt: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything we write is UTC."""
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


__all__ = ["IMAGE28_BYTES", "NAMING", "REVIEW_STATES", "SOURCES", "Base", "ExportRow", "Feedback",
           "FeedbackRecord", "FeedbackSummary", "check_row", "utc"]

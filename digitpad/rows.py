"""The feedback tables (SQLAlchemy 2 models), a row's invariants, and the plain records the store
hands to callers.

A row is one correction: the image a person drew or uploaded (re-encoded by the server, never the
bytes as sent: ``digitpad.feedback``), the digit they say it is, the server's own reading of it,
and its review state. A corrected *number* is a row of ``number_feedback``: the image, the string the
person typed, the server's reading of it and one box per character (``NumberFeedback``; what
``digitpad.numberfeedback`` stores and exports as per-character crops). Corrections are quarantined: a row starts ``pending`` and only an admin's
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

from .charset import NUMBER_ALPHABET
from .errors import InvalidRequest

SOURCES = ("draw", "upload")
# A row's review state: new rows wait; only accepted rows are trained on by default.
REVIEW_STATES = ("pending", "accepted", "rejected")
IMAGE28_BYTES = 28 * 28
NUMBER_TEXT_MAX = 20  # characters of a corrected number (spaces included), as /api/read reads

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


class NumberFeedback(Base):
    """One corrected number: the image, the string it really shows, the server's reading of it and
    each character's box (pixels of the stored image), which export cuts into per-character crops."""

    __tablename__ = "number_feedback"
    __table_args__ = (
        CheckConstraint(f"length(text) >= 1 AND length(text) <= {NUMBER_TEXT_MAX}", name="text_length"),
        CheckConstraint("confidence IS NULL OR (confidence >= 0 AND confidence <= 1)", name="confidence_unit"),
        CheckConstraint("source IN ('draw', 'upload')", name="source_known"),
        CheckConstraint("review IN ('pending', 'accepted', 'rejected')", name="review_known"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    text: Mapped[str] = mapped_column(String(NUMBER_TEXT_MAX))  # what the person says it is
    read_text: Mapped[str | None] = mapped_column(String(64))  # the server's reading of the stored image
    # One [x, y, w, h] per non-space character of ``text`` (stored-image pixels), or null when
    # neither the server's reading nor the client's boxes had one box per character.
    boxes: Mapped[builtins.list[builtins.list[int]] | None] = mapped_column(JSON)
    boxes_from: Mapped[str | None] = mapped_column(String(8))  # "server" or "client"
    # Per character of the server's reading: {char: probability} (the agreement check reads them).
    read_scores: Mapped[builtins.list[dict[str, float]] | None] = mapped_column(JSON)
    confidence: Mapped[float | None] = mapped_column(Float)  # the reading's, whole string
    model_version: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(16))
    content_type: Mapped[str] = mapped_column(String(100))
    image: Mapped[bytes] = mapped_column(LargeBinary)  # the stored image (the server's re-encoding)
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


@dataclass(frozen=True)
class NumberRecord:
    """A whole ``number_feedback`` row."""

    id: int
    created_at: datetime
    text: str
    read_text: str | None
    boxes: builtins.list[builtins.list[int]] | None
    boxes_from: str | None
    read_scores: builtins.list[dict[str, float]] | None = field(repr=False)
    confidence: float | None
    model_version: str | None
    source: str
    content_type: str
    image: bytes = field(repr=False)
    review: str = "pending"

    @property
    def characters(self) -> str:
        """The corrected text without its spaces: one character per box."""
        return self.text.replace(" ", "")


def check_text(text: object) -> str:
    """A corrected number: 1-20 characters of the number alphabet and single spaces between
    groups (no space at either end). Returns it; InvalidRequest (``invalid_text``) otherwise."""
    if not isinstance(text, str):
        raise InvalidRequest(f"text must be a string, got {type(text).__name__}", code="invalid_text")
    if not 1 <= len(text) <= NUMBER_TEXT_MAX:
        raise InvalidRequest(f"text must be 1-{NUMBER_TEXT_MAX} characters, got {len(text)}", code="invalid_text")
    bad = sorted({c for c in text if c not in NUMBER_ALPHABET and c != " "})
    if bad:
        shown = "".join(bad)[:10]
        raise InvalidRequest(f"text may hold only digits, {NUMBER_ALPHABET[10:]} and single spaces; "
                             f"not {shown!r}", code="invalid_text")
    if text != text.strip() or "  " in text:
        raise InvalidRequest("text may hold single spaces between groups only (none at either end)",
                             code="invalid_text")
    return text


def check_boxes(boxes: object, *, n: int, width: int, height: int) -> builtins.list[builtins.list[int]]:
    """``n`` boxes [x, y, w, h] of whole pixels, each inside a ``width`` x ``height`` image and
    at least a pixel big. Returns them as lists of ints; InvalidRequest (``invalid_boxes``) otherwise."""
    if not isinstance(boxes, builtins.list) or len(boxes) != n:
        got = len(boxes) if isinstance(boxes, builtins.list) else type(boxes).__name__
        raise InvalidRequest(f"boxes must be a list of {n} boxes (one per character), got {got}",
                             code="invalid_boxes")
    out = []
    for b in boxes:
        if (not isinstance(b, builtins.list | tuple) or len(b) != 4
                or not all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in b)):
            raise InvalidRequest("each box is [x, y, w, h] in whole pixels", code="invalid_boxes")
        x, y, w, h = (int(v) for v in b)
        if x < 0 or y < 0 or w < 1 or h < 1 or x + w > width or y + h > height:
            raise InvalidRequest(f"box {[x, y, w, h]} is not inside the {width}x{height} image", code="invalid_boxes")
        out.append([x, y, w, h])
    return out


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


__all__ = ["IMAGE28_BYTES", "NAMING", "NUMBER_TEXT_MAX", "REVIEW_STATES", "SOURCES", "Base", "ExportRow", "Feedback",
           "FeedbackRecord", "FeedbackSummary", "NumberFeedback", "NumberRecord", "check_boxes", "check_row",
           "check_text", "utc"]

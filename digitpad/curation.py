"""Keeping the feedback store honest and bounded: the total cap, the review, bulk deletes, space.

    quota = Quota(Limits(max_rows=50_000)); quota.check(session, adding=4_096)   # StoreFull (507)
    set_review(session, ids=[3, 4], decision="accepted")
    delete_selected(session, Selection(max_id=100))  # -> rows deleted
    reclaim_space(engine)                            # SQLite: give freed pages back to the OS

**Quarantine.** Anyone can post a correction, so no correction is training data until a person
has looked at it: rows start ``pending``; ``digitpad feedback review`` (or the admin API) marks
them ``accepted`` or ``rejected``; ``digitpad finetune`` trains on accepted rows only, or, when
asked (``--feedback agreeing``), also on pending rows that pass the agreement check below.

**Agreement check** (``agrees``): the server's own reading of the image, stored with the row,
gave the label at least ``AGREE_MIN_PROBABILITY`` (0.2). A poisoned row (a clear 7 labelled 1)
fails it: the model gives 1 about 0.01 there (of the issue's 400 MNIST 7s posted as "1", one
passes: a 7 the model itself reads as a 1). A true correction the model found implausible fails
it too, and waits for a review. A corrected number (``agrees_number``) passes when the stored
reading found as many characters as the typed string has and gave each typed one at least that.
Corrected numbers live in a table of their own (``rows.NumberFeedback``); the review, bulk
deletes and the one cap (counted over both tables) apply to them the same way.

**The cap.** ``Limits(max_rows, max_bytes)``, checked inside the insert's own transaction (on
SQLite the write lock serializes check-and-insert; on PostgreSQL concurrent writers may pass
it by a row each). ``Quota`` says how often the table is counted.

**Space.** The first bulk delete on an SQLite file converts it to incremental auto-vacuum (one
``VACUUM``: a rewrite of what is left, under the write lock); from then on each bulk delete ends
with ``PRAGMA incremental_vacuum``, which returns the freed pages to the OS at once. PostgreSQL's autovacuum makes deleted rows' space
reusable for new rows; giving it back to the OS takes ``VACUUM FULL feedback`` (which locks the
table while it rewrites it: run it in a quiet hour).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from .database import reason
from .errors import InvalidRequest, StoreFull
from .rows import REVIEW_STATES, Feedback, NumberFeedback

log = logging.getLogger(__name__)
SessionFactory = Callable[..., AbstractContextManager[Session]]  # FeedbackStore._session(write=...)

AGREE_MIN_PROBABILITY = 0.2
DECISIONS = ("accepted", "rejected")


@dataclass(frozen=True)
class Limits:
    """The store's total cap (None: no cap)."""

    max_rows: int | None = None
    max_bytes: int | None = None


def usage(session: Session) -> tuple[int, int]:
    """(rows, bytes of stored images), of both tables: digits' and numbers' rows share the cap."""
    rows = size = 0
    for table in (Feedback, NumberFeedback):
        n, b = session.execute(select(func.count(), func.coalesce(func.sum(func.length(table.image)), 0))).one()
        rows, size = rows + int(n), size + int(b)
    return rows, size


class Quota:
    """The cap, checked before each insert. Counting the table costs ~90 ms at 50,000 rows on
    SQLite, too much for every insert: the count is taken again when it is older than
    ``recount_s`` or when this process's own inserts since bring it within 10% of the cap (so
    near the cap every insert counts exactly). Other processes' inserts in between can pass the
    cap by what they insert in ``recount_s`` (and the per-client rate limits bound that)."""

    def __init__(self, limits: Limits, recount_s: float = 5.0) -> None:
        self.limits = limits
        self.recount_s = recount_s
        self._lock = threading.Lock()
        self._rows = self._bytes = 0
        self._counted_at = -math.inf

    def check(self, session: Session, adding: int) -> None:
        """``StoreFull`` when one more row of ``adding`` image bytes would pass the cap."""
        rows_cap, bytes_cap = self.limits.max_rows, self.limits.max_bytes
        if rows_cap is None and bytes_cap is None:
            return
        with self._lock:
            rows, size, counted_at = self._rows, self._bytes, self._counted_at
        near = ((rows_cap is not None and rows + 1 > 0.9 * rows_cap)
                or (bytes_cap is not None and size + adding > 0.9 * bytes_cap))
        if near or time.monotonic() - counted_at > self.recount_s:
            rows, size = usage(session)
            with self._lock:
                self._rows, self._bytes, self._counted_at = rows, size, time.monotonic()
        if rows_cap is not None and rows + 1 > rows_cap:
            raise StoreFull(f"the feedback store is full ({rows:,} of {rows_cap:,} rows); nothing was stored")
        if bytes_cap is not None and size + adding > bytes_cap:
            raise StoreFull(f"the feedback store is full ({size / 1e6:,.1f} of {bytes_cap / 1e6:,.1f} MB of "
                            "images); nothing was stored")

    def added(self, nbytes: int) -> None:
        """A row of ``nbytes`` was committed."""
        with self._lock:
            self._rows += 1
            self._bytes += nbytes

    def forget(self) -> None:
        """Rows were deleted: count again at the next insert."""
        with self._lock:
            self._counted_at = -math.inf

    def insert(self, session: SessionFactory, row: Feedback | NumberFeedback, nbytes: int) -> int:
        """Add ``row`` (``nbytes`` of image) within the cap, in one write transaction of
        ``session`` (the store's session factory); its id once committed (durable)."""
        with session(write=True) as s:
            self.check(s, nbytes)
            s.add(row)
            s.flush()  # assigns the id inside the transaction
            fid = row.id
        self.added(nbytes)
        return fid


def agrees(label: int, probabilities: list[float] | None) -> bool:
    """The agreement check: the stored reading gave ``label`` at least AGREE_MIN_PROBABILITY."""
    return probabilities is not None and len(probabilities) > label and probabilities[label] >= AGREE_MIN_PROBABILITY


def agrees_number(text: str, read_scores: list[dict[str, float]] | None) -> bool:
    """The agreement check for a corrected number: the stored reading found as many characters as
    ``text`` has (spaces aside), and gave each corrected character at least AGREE_MIN_PROBABILITY."""
    chars = text.replace(" ", "")
    return (read_scores is not None and len(read_scores) == len(chars)
            and all(s.get(c, 0.0) >= AGREE_MIN_PROBABILITY for c, s in zip(chars, read_scores, strict=True)))


# ---------------------------------------------------------------- review


def set_review(session: Session, *, ids: list[int] | None, decision: str, only_pending: bool = False,
               table: type[Feedback] | type[NumberFeedback] = Feedback) -> int:
    """Mark rows of ``table`` (digits' or numbers') ``accepted`` or ``rejected``: the given ids, or
    (ids None) every pending row. Returns how many rows changed."""
    if decision not in DECISIONS:
        raise InvalidRequest(f"a review decision is one of {', '.join(DECISIONS)}, got {decision!r}",
                             code="invalid_decision")
    q = update(table).values(review=decision, reviewed_at=datetime.now(UTC))
    if ids is not None:
        if not ids:
            return 0
        q = q.where(table.id.in_(sorted(set(ids))))
    if ids is None or only_pending:
        q = q.where(table.review == "pending")
    return int(session.execute(q.execution_options(synchronize_session=False)).rowcount or 0)


# ---------------------------------------------------------------- bulk delete


@dataclass(frozen=True)
class Selection:
    """Which rows a bulk delete removes: every given criterion must hold (at least one is needed)."""

    min_id: int | None = None
    max_id: int | None = None
    model: str | None = None
    before: datetime | None = None  # created strictly before
    review: str | None = None  # "pending", "accepted" or "rejected"

    def where(self, table: type[Feedback] | type[NumberFeedback] = Feedback) -> list:
        if self.review is not None and self.review not in REVIEW_STATES:
            raise InvalidRequest(f"review is one of {', '.join(REVIEW_STATES)}, got {self.review!r}",
                                 code="invalid_review")
        f = table
        clauses = [c for c, given in (
            (f.id >= (self.min_id or 0), self.min_id is not None),
            (f.id <= (self.max_id or 0), self.max_id is not None),
            (f.model_version == self.model, self.model is not None),
            (f.created_at < (self.before or datetime.now(UTC)), self.before is not None),
            (f.review == self.review, self.review is not None),
        ) if given]
        if not clauses:
            raise InvalidRequest("say which rows to delete: an id range, a model, a date or a review state",
                                 code="missing_field")
        return clauses


def delete_selected(session: Session, selection: Selection,
                    table: type[Feedback] | type[NumberFeedback] = Feedback) -> int:
    """Delete the selected rows of ``table`` (digits' or numbers') in one statement; returns how many."""
    q = delete(table).where(*selection.where(table)).execution_options(synchronize_session=False)
    return int(session.execute(q).rowcount or 0)


def delete_and_reclaim(session: SessionFactory, engine: Engine, quota: Quota, selection: Selection,
                       table: type[Feedback] | type[NumberFeedback] = Feedback, *, reclaim: bool = True) -> int:
    """Delete the selected rows of ``table``, let ``quota`` count again, then give the space back
    (``reclaim_space``; a failure there is logged: the rows are gone either way). -> how many."""
    with session(write=True) as s:
        n = delete_selected(s, selection, table)
    quota.forget()
    if n and reclaim:
        try:
            reclaim_space(engine)
        except SQLAlchemyError as e:  # the space comes back at the next one
            log.warning("feedback store: could not give the space back: %s", reason(e))
    return n


# ---------------------------------------------------------------- space


def reclaim_space(engine: Engine) -> None:
    """Give the pages freed by deletes back to the OS (SQLite); PostgreSQL: nothing to do here."""
    if engine.dialect.name != "sqlite":
        return
    raw = engine.raw_connection()
    try:
        conn = raw.driver_connection  # sqlite3.Connection, in autocommit (database._configure_sqlite)
        mode = conn.execute("PRAGMA auto_vacuum").fetchone()[0]
        # executescript steps the pragma to its end (execute() would free a single page).
        conn.executescript("PRAGMA incremental_vacuum;" if mode == 2 else "PRAGMA auto_vacuum=INCREMENTAL; VACUUM;")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        if mode != 2:
            log.info("feedback database converted to incremental auto-vacuum")
    finally:
        raw.close()

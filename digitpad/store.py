"""The feedback store: corrections people make on the page, kept as training data.

    store = FeedbackStore.open()                       # SQLite in the per-user data dir
    store = FeedbackStore.open("postgresql+psycopg://user:pw@host/db")
    fid = store.add(label=7, image_bytes=png, content_type="image/png", image28=img28, source="draw")
    store.stats(); store.list(limit=50, offset=0); store.delete(fid); store.close()

SQLAlchemy 2 models, schema migrations by Alembic (``digitpad.schema``; opening a store runs
``upgrade head`` under a lock, so several server workers may start at once, unless it is told not
to migrate: then a schema that is not at head is a ``StoreError`` naming ``digitpad db upgrade``,
the step a deployment runs once before its replicas start). The default
database is an SQLite file in WAL mode with ``synchronous=FULL`` and a busy timeout: every
``add`` is committed and on disk before it returns, which is what lets the API answer 201.
``DIGITPAD_DATABASE_URL`` (or ``--database-url``) points the store at PostgreSQL (psycopg 3).

The store knows nothing about HTTP or images beyond bytes: callers validate and preprocess,
the store checks its own invariants again and raises the ``digitpad.errors`` family.
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    Engine,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    create_engine,
    event,
    func,
    select,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.pool import StaticPool

from .errors import InvalidRequest, NotFound, StoreError
from .schema import MIGRATE_HINT, SchemaStatus, alembic_config, current_revision, migrate, schema_status

log = logging.getLogger(__name__)

SOURCES = ("draw", "upload")
IMAGE28_BYTES = 28 * 28
SQLITE_BUSY_TIMEOUT_MS = 30_000

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
    image: Mapped[bytes] = mapped_column(LargeBinary)  # the original upload, as received
    image28: Mapped[bytes] = mapped_column(LargeBinary)  # (28, 28) uint8 row-major, what the model saw


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
    image_bytes: int  # size of the original image

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


@dataclass(frozen=True)
class ExportRow:
    id: int
    label: int
    image: bytes = field(repr=False)  # original bytes (re-preprocess them with the current pipeline)
    content_type: str
    image28: np.ndarray = field(repr=False)  # (28, 28) uint8 stored at collection time


def _utc(dt: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything we write is UTC.
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


# ---------------------------------------------------------------- URLs


def default_database_url() -> str:
    """SQLite file in the per-user data dir (created on first use)."""
    from platformdirs import user_data_dir

    path = Path(user_data_dir("digitpad")) / "feedback.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def resolve_url(url: str | None) -> URL:
    """``None`` -> the default SQLite file; ``postgresql://`` -> the psycopg 3 driver."""
    try:
        u = make_url(url or default_database_url())
    except ArgumentError as e:
        raise StoreError(f"not a database URL: {url!r}",
                         hint="use sqlite:///path/feedback.db or postgresql+psycopg://user:password@host/db") from e
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    return u


def describe_url(url: str | URL | None) -> str:
    """The URL with its password masked, for logs and messages."""
    return resolve_url(str(url) if isinstance(url, URL) else url).render_as_string(hide_password=True)


def _is_memory(u: URL) -> bool:
    return u.get_backend_name() == "sqlite" and u.database in (None, "", ":memory:")


def make_engine(url: str | None) -> Engine:
    """An Engine with digitpad's connection settings (SQLite: WAL, FULL sync, busy timeout)."""
    u = resolve_url(url)
    backend = u.get_backend_name()
    kwargs: dict[str, Any] = {}
    if backend == "sqlite":
        if _is_memory(u):
            # One shared connection, else every pooled connection sees its own empty database.
            kwargs.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
        else:
            folder = Path(u.database).expanduser().resolve().parent
            if not folder.is_dir():
                raise StoreError(f"folder for the feedback database does not exist: {folder}",
                                 hint="create it, or pass another --database-url")
            kwargs.update(connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False})
    elif backend == "postgresql":
        kwargs.update(pool_pre_ping=True)
    try:
        engine = create_engine(u, **kwargs)
    except (NoSuchModuleError, ModuleNotFoundError) as e:
        hint = "pip install 'digitpad[postgres]'" if backend == "postgresql" else None
        raise StoreError(f"no database driver for {u.drivername} ({e})", hint=hint) from e
    if backend == "sqlite":
        _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:  # noqa: ANN001
        # We emit BEGIN ourselves (below): pysqlite's implicit transactions cannot take the
        # write lock up front, and a read that upgrades to a write can fail with SQLITE_BUSY
        # without waiting for the busy timeout.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
        cur.execute("PRAGMA synchronous=FULL")  # a commit is fsynced before it returns
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:  # noqa: ANN001
        # Writers queue for the lock at BEGIN (honouring busy_timeout); readers stay deferred.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("digitpad_write") else "BEGIN")


# ---------------------------------------------------------------- the schema (digitpad.schema)


def require_current_schema(engine: Engine, url: str | None = None) -> None:
    """``StoreError`` unless the schema is at head (for processes told not to migrate)."""
    status = schema_status(engine)
    if not status.ok:
        hint = ("deploy the digitpad that migrated it, or downgrade the database" if status.state == "unknown"
                else MIGRATE_HINT)
        raise StoreError(f"the feedback database {describe_url(url)} is not ready: {status.describe()}",
                         hint=hint, code="schema_out_of_date")


def upgrade_database(url: str | None) -> tuple[str | None, str | None]:
    """``digitpad db upgrade``: migrate the database at ``url`` to head; (before, after) revisions."""
    engine = make_engine(url)
    try:
        return migrate(engine)
    except SQLAlchemyError as e:
        raise StoreError(f"cannot migrate the feedback database {describe_url(url)}: {_reason(e)}",
                         hint="check --database-url / DIGITPAD_DATABASE_URL") from e
    finally:
        engine.dispose()


def database_schema_status(url: str | None) -> SchemaStatus:
    """``digitpad db check``: the schema's status at ``url``; ``StoreError`` when unreachable."""
    engine = make_engine(url)
    try:
        return schema_status(engine)
    except SQLAlchemyError as e:
        raise StoreError(f"cannot read the feedback database {describe_url(url)}: {_reason(e)}",
                         hint="check --database-url / DIGITPAD_DATABASE_URL") from e
    finally:
        engine.dispose()


# ---------------------------------------------------------------- the store


class FeedbackStore:
    """Feedback rows in SQLite or PostgreSQL. Thread-safe: each call uses its own session."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.backend = engine.dialect.name
        self._read = sessionmaker(engine, expire_on_commit=False)
        self._write = sessionmaker(engine.execution_options(digitpad_write=True), expire_on_commit=False)

    @classmethod
    def open(cls, url: str | None = None, *, migrate_schema: bool = True) -> FeedbackStore:
        """Connect to ``url`` (default: the per-user SQLite file) and bring the schema to head.

        ``migrate_schema=False`` (``DIGITPAD_MIGRATE=false``: replicas that leave migrating to a
        deployment step) changes nothing: a schema that is not at head raises ``StoreError``.
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
            raise StoreError(f"cannot open the feedback database {describe_url(url)}: {_reason(e)}",
                             hint="check --database-url / DIGITPAD_DATABASE_URL") from e
        log.debug("feedback store: %s", describe_url(url))
        return cls(engine)

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
        try:
            with (self._write if write else self._read)() as session, session.begin():
                yield session
        except SQLAlchemyError as e:
            log.error("feedback store: %s", e)
            raise StoreError(f"the feedback database failed: {_reason(e)}") from e

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
        """Insert one row; returns its id once the row is committed (durable)."""
        img = np.asarray(image28)
        _check_digit("label", label, required=True)
        _check_digit("predicted", predicted, required=False)
        if confidence is not None and not (0.0 <= float(confidence) <= 1.0):
            raise InvalidRequest(f"confidence must be between 0 and 1, got {confidence}", code="invalid_confidence")
        if probabilities is not None and len(probabilities) != 10:
            raise InvalidRequest(f"probabilities must hold 10 numbers, got {len(probabilities)}")
        if source not in SOURCES:
            raise InvalidRequest(f"source must be one of {', '.join(SOURCES)}, got {source!r}", code="invalid_source")
        if img.shape != (28, 28) or img.dtype != np.uint8:
            raise InvalidRequest(f"image28 must be a (28, 28) uint8 array, got {img.shape} {img.dtype}")
        if not image_bytes:
            raise InvalidRequest("image_bytes is empty", code="missing_image")
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
        )
        with self._session(write=True) as s:
            s.add(row)
            s.flush()  # assigns the id inside the transaction
            fid = row.id
        return fid

    def delete(self, id: int) -> None:  # noqa: A002 (the row's own name for it)
        """Remove one row; ``NotFound`` if there is none."""
        with self._session(write=True) as s:
            row = s.get(Feedback, id)
            if row is None:
                raise NotFound(f"no feedback with id {id}")
            s.delete(row)

    # ------------------------------------------------------------ reads

    def get(self, id: int) -> FeedbackRecord:  # noqa: A002
        with self._session() as s:
            r = s.get(Feedback, id)
            if r is None:
                raise NotFound(f"no feedback with id {id}")
            return FeedbackRecord(
                id=r.id, created_at=_utc(r.created_at), label=r.label, predicted=r.predicted,
                confidence=r.confidence, probabilities=r.probabilities, model_version=r.model_version,
                source=r.source, content_type=r.content_type, image=r.image,
                image28=np.frombuffer(r.image28, np.uint8).reshape(28, 28).copy(),
            )

    def list(self, *, limit: int = 50, offset: int = 0) -> builtins.list[FeedbackSummary]:
        """Newest first, without image bytes."""
        if limit < 0 or offset < 0:
            raise InvalidRequest("limit and offset must not be negative")
        f = Feedback
        q = (select(f.id, f.created_at, f.label, f.predicted, f.confidence, f.model_version, f.source,
                    f.content_type, func.length(f.image))
             .order_by(f.id.desc()).limit(limit).offset(offset))
        with self._session() as s:
            return [FeedbackSummary(id=r[0], created_at=_utc(r[1]), label=r[2], predicted=r[3], confidence=r[4],
                                    model_version=r[5], source=r[6], content_type=r[7], image_bytes=int(r[8]))
                    for r in s.execute(q)]

    def ids(self) -> builtins.list[int]:
        """Every id, ascending (for reconciliation and tests)."""
        with self._session() as s:
            return builtins.list(s.scalars(select(Feedback.id).order_by(Feedback.id)))

    def count(self) -> int:
        with self._session() as s:
            return int(s.scalar(select(func.count()).select_from(Feedback)) or 0)

    def stats(self) -> dict[str, Any]:
        """Totals, count per label, the live model's accuracy on feedback, confusion matrix.

        Accuracy counts rows whose reading is known (``predicted`` not null): predicted == label
        means the model was right and the person confirmed it; the rest are corrections.
        """
        f = Feedback
        q = (select(f.label, f.predicted, f.model_version, f.source, func.count())
             .group_by(f.label, f.predicted, f.model_version, f.source))
        with self._session() as s:
            groups = s.execute(q).all()
            first, last = s.execute(select(func.min(f.created_at), func.max(f.created_at))).one()
        per_label = [0] * 10
        confusion = [[0] * 10 for _ in range(10)]  # rows: label (truth), columns: predicted
        by_source: dict[str, int] = {}
        by_model: dict[str, dict[str, Any]] = {}
        for label, predicted, model, source, n in groups:
            per_label[label] += n
            by_source[source] = by_source.get(source, 0) + n
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
            "by_model": by_model,
            "first": _utc(first).isoformat() if first else None,
            "last": _utc(last).isoformat() if last else None,
        }

    def iter_for_export(self, *, batch_size: int = 256) -> Iterator[ExportRow]:
        """Every row, oldest first, streamed in batches (constant memory)."""
        f = Feedback
        q = select(f.id, f.label, f.image, f.content_type, f.image28).order_by(f.id)
        with self._session() as s:
            for r in s.execute(q.execution_options(yield_per=batch_size)):
                yield ExportRow(id=r[0], label=r[1], image=r[2], content_type=r[3],
                                image28=np.frombuffer(r[4], np.uint8).reshape(28, 28).copy())


def _check_digit(name: str, value: object, *, required: bool) -> None:
    if value is None:
        if required:
            raise InvalidRequest(f"{name} is required", code=f"missing_{name}")
        return
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or not 0 <= int(value) <= 9:
        raise InvalidRequest(f"{name} must be a digit 0-9, got {value!r}", code=f"invalid_{name}")


def _reason(e: SQLAlchemyError) -> str:
    """One line from a driver error (no SQL, no parameters: they can hold image bytes)."""
    orig = getattr(e, "orig", None)
    msg = str(orig if orig is not None else e).strip().splitlines()
    return msg[0] if msg else type(e).__name__


__all__ = [
    "Base", "ExportRow", "Feedback", "FeedbackRecord", "FeedbackStore", "FeedbackSummary",
    "database_schema_status", "default_database_url", "describe_url", "make_engine", "require_current_schema",
    "resolve_url", "upgrade_database",
    # the schema's own functions, from digitpad.schema, where the migrations' users have long found them
    "alembic_config", "current_revision", "migrate",
]

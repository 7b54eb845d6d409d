"""Connecting to the feedback database: URLs, engines, SQLite's settings, a file that must not vanish.

    engine = make_engine(url)                 # SQLite (WAL, FULL sync, busy timeout) or PostgreSQL (psycopg 3)
    upgrade_database(url)                     # `digitpad db upgrade`
    database_schema_status(url)               # `digitpad db check`

**An SQLite file that cannot lie.** SQLite happily keeps writing to a file that was deleted or
replaced under a running server (the open descriptor still points at the old inode), and opening
a path that is not there creates a new, empty database. So the store records the file's identity
(device and inode) when it opens it and checks it before every transaction (``DatabaseFile``:
one ``stat``, ~2 us): a file gone or replaced is a ``StoreError`` (503) and a log line, never a
201 for a row nobody will see. And once a database has been opened, a marker beside it
(``feedback.db.id``) remembers that it existed: if the file is gone at the next start, opening
it is refused instead of silently starting an empty one. PostgreSQL has no such file; there, the
protection is ``DIGITPAD_MIGRATE=false`` (a replica refuses an empty schema).

A bulk delete gives the space back (``digitpad.curation``).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from .errors import StoreError
from .schema import MIGRATE_HINT, SchemaStatus, migrate, schema_status

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 30_000
CHECK_URL_HINT = "check --database-url / DIGITPAD_DATABASE_URL"


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


def is_memory(u: URL) -> bool:
    return u.get_backend_name() == "sqlite" and u.database in (None, "", ":memory:")


def reason(e: SQLAlchemyError) -> str:
    """One line from a driver error (no SQL, no parameters: they can hold image bytes)."""
    orig = getattr(e, "orig", None)
    msg = str(orig if orig is not None else e).strip().splitlines()
    return msg[0] if msg else type(e).__name__


# ---------------------------------------------------------------- the SQLite file


@dataclass(frozen=True)
class DatabaseFile:
    """An SQLite database file: whether it went missing, and its identity while it is open."""

    path: Path

    @classmethod
    def of(cls, u: URL) -> DatabaseFile | None:
        if u.get_backend_name() != "sqlite" or is_memory(u):
            return None
        return cls(Path(u.database).expanduser().resolve())

    @property
    def marker(self) -> Path:
        return self.path.with_name(self.path.name + ".id")

    def check_not_lost(self) -> None:
        """``StoreError`` when the file is gone but its marker says a database was there."""
        if self.path.exists() or not self.marker.exists():
            return
        try:
            created = json.loads(self.marker.read_text()).get("created", "?")
        except (OSError, ValueError):
            created = "?"
        raise StoreError(f"the feedback database {self.path} is gone: a database was opened there before "
                         f"(created {created}; {self.marker.name} remembers it), and an empty one is not made in its place",
                         hint=f"restore the file (and its -wal), or delete {self.marker} to start an empty database",
                         code="database_lost")

    def remember(self) -> None:
        """Write the marker once the database exists (a read-only folder only loses the check)."""
        if self.marker.exists() or not self.path.exists():
            return
        info = {"database": str(self.path), "created": datetime.now(UTC).isoformat(timespec="seconds")}
        try:  # O_EXCL: of several workers opening a new database at once, one writes it
            fd = os.open(self.marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            with os.fdopen(fd, "w") as f:
                f.write(json.dumps(info) + "\n")
        except FileExistsError:
            pass
        except OSError as e:
            log.warning("cannot write %s (%s): a deleted database would not be noticed at start-up", self.marker, e)

    def identity(self) -> tuple[int, int] | None:
        """(device, inode) of the file now; None when there is no file."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return st.st_dev, st.st_ino

    def check_same(self, identity: tuple[int, int] | None) -> None:
        """``StoreError`` (logged) unless the file at the path is still the one opened."""
        now = self.identity()
        if now == identity:
            return
        what = "was deleted" if now is None else "was replaced by another file"
        log.error("feedback database %s %s while the server ran: refusing to read or write it", self.path, what)
        raise StoreError(f"the feedback database file {what} while the server ran; nothing was stored",
                         hint="restore the file, or restart the server", code="database_lost")

    def probe(self) -> str | None:
        """The schema revision, read on a fresh connection (a pooled one would answer from its page
        cache, blind to a file overwritten in place): ``StoreError`` when the file cannot be
        opened for writing or is not a database."""
        try:
            conn = sqlite3.connect(f"file:{self.path}?mode=rw", uri=True, timeout=2.0)
            try:
                row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
            finally:
                conn.close()
        except sqlite3.Error as e:
            raise StoreError(f"the feedback database {self.path} cannot be read: {e}") from e
        return row[0] if row else None


# ---------------------------------------------------------------- engines


def make_engine(url: str | None) -> Engine:
    """An Engine with digitpad's connection settings (SQLite: WAL, FULL sync, busy timeout)."""
    u = resolve_url(url)
    backend = u.get_backend_name()
    kwargs: dict[str, Any] = {}
    if backend == "sqlite":
        if is_memory(u):
            # One shared connection, else every pooled connection sees its own empty database.
            kwargs.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
        else:
            file = DatabaseFile.of(u)
            assert file is not None
            if not file.path.parent.is_dir():
                raise StoreError(f"folder for the feedback database does not exist: {file.path.parent}",
                                 hint="create it, or pass another --database-url")
            file.check_not_lost()
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
        _wal(cur)  # readers never block the writer
        cur.execute("PRAGMA synchronous=FULL")  # a commit is fsynced before it returns
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:  # noqa: ANN001
        # Writers queue for the lock at BEGIN (honouring busy_timeout); readers stay deferred.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("digitpad_write") else "BEGIN")


def _wal(cur: sqlite3.Cursor) -> None:
    """``PRAGMA journal_mode=WAL``, retried while the file is locked (for up to the busy timeout).

    Turning a fresh file to WAL upgrades a read lock to a write lock, and SQLite answers
    "database is locked" at once there instead of calling the busy handler (waiting could
    deadlock): server workers opening a new database together hit it. Once the file is in WAL
    mode (a setting stored in the file), the pragma changes nothing and never waits.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    pause = 0.002
    while True:
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
        time.sleep(pause)
        pause = min(0.1, pause * 2)


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
        result = migrate(engine)
    except SQLAlchemyError as e:
        raise StoreError(f"cannot migrate the feedback database {describe_url(url)}: {reason(e)}",
                         hint=CHECK_URL_HINT) from e
    finally:
        engine.dispose()
    file = DatabaseFile.of(resolve_url(url))
    if file is not None:
        file.remember()
    return result


def database_schema_status(url: str | None) -> SchemaStatus:
    """``digitpad db check``: the schema's status at ``url``; ``StoreError`` when unreachable."""
    engine = make_engine(url)
    try:
        return schema_status(engine)
    except SQLAlchemyError as e:
        raise StoreError(f"cannot read the feedback database {describe_url(url)}: {reason(e)}",
                         hint=CHECK_URL_HINT) from e
    finally:
        engine.dispose()


__all__ = ["CHECK_URL_HINT", "SQLITE_BUSY_TIMEOUT_MS", "DatabaseFile", "database_schema_status",
           "default_database_url", "describe_url", "is_memory", "make_engine", "reason", "require_current_schema",
           "resolve_url", "upgrade_database"]

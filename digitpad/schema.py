"""The feedback database's schema: Alembic migrations (``digitpad/migrations``) and where a
database stands against them.

    migrate(engine)          # alembic upgrade head, in one transaction, under a cross-process lock
    schema_status(engine)    # SchemaStatus(current, head, state): "current", "empty", "behind", "unknown"

Two ways to run them. On a laptop, opening the store migrates (``FeedbackStore.open``; several
workers may start at once: the lock lets one migrate and the rest find it done). In a deployment,
one step runs ``digitpad db upgrade`` before the replicas start, and the replicas, started with
``DIGITPAD_MIGRATE=false``, only check that the schema is at head (``store.require_current_schema``):
no replica changes the schema, so none races another or an older replica still serving.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, text

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
# Any constant works: it names the advisory lock PostgreSQL holds while one process migrates.
_PG_MIGRATION_LOCK = 0x64696769  # "digi"
MIGRATE_HINT = "run `digitpad db upgrade` once (a deployment's migration step), or start with DIGITPAD_MIGRATE=true"


def alembic_config(connection=None):  # noqa: ANN001, ANN201 (alembic is imported lazily)
    """Programmatic Alembic config for ``digitpad/migrations`` (no alembic.ini needed)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def migrate(engine: Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """``alembic upgrade head`` in one transaction, serialized across processes.

    Returns the schema's revision before and after (``None``: an empty database).
    """
    backend = engine.dialect.name
    alembic_log = logging.getLogger("alembic")
    level = alembic_log.level
    alembic_log.setLevel(max(logging.WARNING, level))  # its INFO chatter would flood every CLI command
    try:
        from alembic import command

        with engine.connect() as conn:
            # digitpad's SQLite engines start this transaction with BEGIN IMMEDIATE: the write lock
            # is the migration lock there (store.make_engine).
            conn = conn.execution_options(digitpad_write=True)
            with conn.begin():
                if backend == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
                before = _revision(conn)
                command.upgrade(alembic_config(conn), revision)
                after = _revision(conn)
    finally:
        alembic_log.setLevel(level)
    if before != after:
        log.info("feedback database schema: %s -> %s", before or "empty", after)
    return before, after


def _revision(conn) -> str | None:  # noqa: ANN001
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return _revision(conn)


def head_revision() -> str:
    """The newest migration this digitpad ships."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


@dataclass(frozen=True)
class SchemaStatus:
    """Where a database's schema stands against this digitpad's migrations."""

    current: str | None  # the database's revision (None: no schema yet)
    head: str  # the newest revision this digitpad ships
    state: str  # "current", "empty", "behind" (one of our older revisions) or "unknown" (not ours: newer code)

    @property
    def ok(self) -> bool:
        return self.state == "current"

    def describe(self) -> str:
        return {
            "current": f"schema at {self.head} (head)",
            "empty": f"no schema yet (head is {self.head})",
            "behind": f"schema at {self.current}, older than this digitpad's head {self.head}",
            "unknown": f"schema at {self.current}, a revision this digitpad does not know "
                       f"(a newer digitpad migrated it; this one's head is {self.head})",
        }[self.state]


def schema_status(engine: Engine) -> SchemaStatus:
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    script = ScriptDirectory.from_config(alembic_config())
    head = script.get_current_head()
    current = current_revision(engine)
    if current == head:
        state = "current"
    elif current is None:
        state = "empty"
    else:
        try:
            script.get_revision(current)
            state = "behind"
        except CommandError:  # alembic: "Can't locate revision"
            state = "unknown"
    return SchemaStatus(current=current, head=head, state=state)


__all__ = ["MIGRATE_HINT", "MIGRATIONS", "SchemaStatus", "alembic_config", "current_revision", "head_revision",
           "migrate", "schema_status"]

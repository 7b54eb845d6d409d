"""Alembic environment for the feedback store.

The store runs ``upgrade head`` itself when it opens (``digitpad.store.migrate``), handing us
its connection in ``config.attributes["connection"]`` inside a transaction it holds the
migration lock for. For development, the alembic CLI works too:

    alembic -c digitpad/alembic.ini revision --autogenerate -m "what changed"
    alembic -c digitpad/alembic.ini upgrade head     # DIGITPAD_DATABASE_URL or the default SQLite
"""

from __future__ import annotations

from alembic import context

from digitpad.database import make_engine
from digitpad.rows import Base

config = context.config
target_metadata = Base.metadata


def _configure(connection) -> None:  # noqa: ANN001
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        # SQLite cannot ALTER most things: batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )


def run_offline() -> None:
    from digitpad.database import resolve_url
    from digitpad.settings import Settings

    url = config.get_main_option("sqlalchemy.url") or str(resolve_url(Settings().database_url))
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    # Run from the alembic CLI: same URL resolution and connection settings as the app.
    from digitpad.settings import Settings

    engine = make_engine(config.get_main_option("sqlalchemy.url") or Settings().database_url)
    try:
        with engine.connect() as connection:
            _configure(connection)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()

"""Helpers shared by the feedback tests (store, API, reliability, finetune).

``database(backend, tmp_path)`` yields a fresh, empty database URL: an SQLite file in
``tmp_path``, or a throwaway schema in the PostgreSQL that ``DIGITPAD_TEST_POSTGRES_URL`` names
(``.ci/run`` starts one; without it the PostgreSQL cases skip and say why).
``drawings(n)`` renders real pen-drawn digits (pendigits) as the page's canvas would.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

import pytest

PG_ENV = "DIGITPAD_TEST_POSTGRES_URL"
PG_SKIP = (f"PostgreSQL tests need {PG_ENV}=postgresql+psycopg://USER:PASSWORD@HOST/DB "
           "(.ci/run installs and starts one)")
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def database(backend: str, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'feedback.db'}"
        return
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(PG_SKIP)
    from sqlalchemy import create_engine

    from digitpad.store import resolve_url

    # One schema per test: isolated, and dropped afterwards with everything in it.
    schema = f"digitpad_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(resolve_url(base))
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = resolve_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@lru_cache(maxsize=4)
def _records(path: str) -> list[dict]:
    from digitpad import pendigits

    return pendigits.load(path)


def drawings(n: int, *, style: str = "canvas-280", offset: int = 0) -> list[tuple[bytes, int]]:
    """``n`` real handwritten digits as PNG bytes, with their labels, spread over the file (and so
    over writers and digits). Needs DIGITPAD_PENDIGITS (skips otherwise)."""
    from digitpad import pendigits

    path = os.environ.get("DIGITPAD_PENDIGITS")
    if not path or not Path(path).is_file():
        pytest.skip("set DIGITPAD_PENDIGITS to trajectories-dev.jsonl.gz (make test sets it)")
    records = _records(path)
    step = max(1, len(records) // (n + offset))
    chosen = records[offset * step:: step][:n]
    return [(pendigits.render(r, pendigits.STYLES[style]), int(r["label"])) for r in chosen]

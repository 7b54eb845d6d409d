"""Migrations as a deployment step: ``digitpad db upgrade`` / ``db check`` and replicas started
with ``DIGITPAD_MIGRATE=false``, which change nothing and refuse a schema that is not at head.

Real subprocesses of the CLI, on a real SQLite file and, where DIGITPAD_TEST_POSTGRES_URL is set,
a real PostgreSQL (every test here runs on both).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from conftest import REPO
from feedback_support import BACKENDS, database
from sqlalchemy import inspect, text

from digitpad.errors import StoreError
from digitpad.harness import free_port
from digitpad.schema import head_revision, schema_status
from digitpad.store import FeedbackStore, make_engine


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path):
    yield from database(request.param, tmp_path)


def digitpad(*args: str, url: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "digitpad.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO, env={**os.environ, "DIGITPAD_DATABASE_URL": url, **env})


def tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_db_upgrade_then_check(db_url):
    head = head_revision()
    r = digitpad("db", "check", url=db_url)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "no schema yet" in r.stdout and "digitpad db upgrade" in r.stdout
    assert tables(db_url) == set()  # checking changed nothing

    r = digitpad("db", "upgrade", url=db_url)
    assert r.returncode == 0, r.stderr
    assert f"empty -> {head}" in r.stdout
    assert {"feedback", "alembic_version"} <= tables(db_url)
    r = digitpad("db", "upgrade", url=db_url)
    assert r.returncode == 0 and f"already at {head} (head)" in r.stdout, r.stdout + r.stderr
    r = digitpad("db", "check", url=db_url)
    assert r.returncode == 0 and f"schema at {head} (head)" in r.stdout, r.stdout + r.stderr


def test_no_migrate_store_refuses_an_empty_schema_and_creates_nothing(db_url):
    with pytest.raises(StoreError) as e:
        FeedbackStore.open(db_url, migrate_schema=False)
    assert e.value.code == "schema_out_of_date"
    assert "no schema yet" in e.value.message and "digitpad db upgrade" in e.value.hint
    assert tables(db_url) == set()
    # After the migration step, the same replica opens and works.
    assert digitpad("db", "upgrade", url=db_url).returncode == 0
    with FeedbackStore.open(db_url, migrate_schema=False) as store:
        assert store.count() == 0


def test_no_migrate_store_refuses_a_schema_from_newer_code(db_url):
    FeedbackStore.open(db_url).close()
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:  # what a newer digitpad's migration step would leave behind
            conn.execute(text("UPDATE alembic_version SET version_num = 'f00dfeed9999'"))
        status = schema_status(engine)
    finally:
        engine.dispose()
    assert (status.state, status.current, status.ok) == ("unknown", "f00dfeed9999", False)
    with pytest.raises(StoreError) as e:
        FeedbackStore.open(db_url, migrate_schema=False)
    assert "does not know" in e.value.message
    r = digitpad("db", "check", url=db_url)
    assert r.returncode == 1 and "f00dfeed9999" in r.stdout, r.stdout + r.stderr


def test_serve_without_migrating_is_a_clear_startup_error(db_url):
    """A replica started before the migration step: one line naming the command, no traceback, no tables."""
    r = digitpad("serve", "--host", "127.0.0.1", "--port", str(free_port()), url=db_url, DIGITPAD_MIGRATE="false")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "digitpad: error: the feedback database" in r.stderr and "not ready" in r.stderr, r.stderr
    assert "hint: run `digitpad db upgrade`" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert tables(db_url) == set()
    # The feedback commands honour the setting too (a shell in a replica's container has it set).
    r = digitpad("feedback", "stats", url=db_url, DIGITPAD_MIGRATE="false")
    assert r.returncode == 1 and "not ready" in r.stderr, r.stdout + r.stderr
    assert tables(db_url) == set()


def test_db_check_wait_returns_once_the_migration_step_has_run(db_url):
    """The init step of a replica: ``db check --wait`` blocks until another process migrates."""
    waiter = subprocess.Popen([sys.executable, "-m", "digitpad.cli", "db", "check", "--wait", "90"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                              env={**os.environ, "DIGITPAD_DATABASE_URL": db_url})
    try:
        time.sleep(3)
        assert waiter.poll() is None, waiter.communicate()  # still waiting: nothing migrated yet
        assert digitpad("db", "upgrade", url=db_url).returncode == 0
        out, err = waiter.communicate(timeout=60)
    finally:
        if waiter.poll() is None:
            waiter.kill()
            waiter.wait()
    assert waiter.returncode == 0, out + err
    assert "(head)" in out


def test_db_check_gives_up_after_wait(db_url):
    t0 = time.monotonic()
    r = digitpad("db", "check", "--wait", "3", url=db_url)
    assert r.returncode == 1 and "no schema yet" in r.stdout, r.stdout + r.stderr
    assert time.monotonic() - t0 >= 3


def test_db_upgrade_unreachable_database_is_one_line(tmp_path):
    r = digitpad("db", "upgrade", url=f"sqlite:///{tmp_path / 'missing-folder' / 'f.db'}")
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert "digitpad: error:" in r.stderr and "hint:" in r.stderr

"""Storage that cannot lie (issue 19, finding 4), on real servers and real SQLite files: a
database deleted or replaced under a running server makes writes fail loudly (503 and a log
line) and readiness fail, while liveness stays; a restart never makes a new empty database
where one was; a corrupt database or a schema not at head is not ready.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from conftest import REPO
from feedback_support import drawings
from sqlalchemy import text

from digitpad.errors import StoreError
from digitpad.schema import head_revision
from digitpad.store import FeedbackStore, make_engine


@pytest.fixture(scope="module")
def sample() -> tuple[bytes, int]:
    return drawings(1, offset=3)[0]


def post(url: str, sample: tuple[bytes, int]) -> httpx.Response:
    png, label = sample
    return httpx.post(url + "/api/feedback", files={"image": ("d.png", png, "image/png")},
                      data={"label": str(label)}, timeout=30)


def remove_database(db: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)


def test_a_database_deleted_under_the_server_fails_loudly_and_is_not_remade(tmp_path, server_process, sample):
    db = tmp_path / "feedback.db"
    env = {"DIGITPAD_DATABASE_URL": f"sqlite:///{db}"}
    with server_process(tmp_path, env=env) as server:
        assert post(server.url, sample).status_code == 201
        assert httpx.get(server.url + "/readyz").status_code == 200
        remove_database(db)
        answers = [post(server.url, sample) for _ in range(5)]
        assert [r.status_code for r in answers] == [503] * 5, [r.text for r in answers]
        assert answers[0].json()["error"]["code"] == "database_lost"
        ready = httpx.get(server.url + "/readyz")
        assert ready.status_code == 503 and ready.json()["error"]["code"] == "database_lost", ready.text
        assert httpx.get(server.url + "/healthz").status_code == 200  # alive: not ready
        assert "was deleted while the server ran" in server.log()
        assert "Traceback" not in server.log()
    assert not db.exists()
    # A restart does not quietly start an empty database in its place.
    r = subprocess.run([sys.executable, "-m", "digitpad.cli", "serve", "--port", "0"], capture_output=True, text=True,
                       timeout=120, cwd=REPO, env={**os.environ, **env})
    assert r.returncode == 1 and "is gone" in r.stderr and "feedback.db.id" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and not db.exists()
    r = subprocess.run([sys.executable, "-m", "digitpad.cli", "feedback", "stats"], capture_output=True, text=True,
                       timeout=120, cwd=REPO, env={**os.environ, **env})
    assert r.returncode == 1 and "is gone" in r.stderr and not db.exists(), r.stderr
    # Asked for explicitly (the marker removed, as the hint says), an empty one is made.
    (tmp_path / "feedback.db.id").unlink()
    with FeedbackStore.open(f"sqlite:///{db}") as store:
        assert store.count() == 0


def test_a_database_replaced_under_the_server_fails_loudly(tmp_path, server_process, sample):
    db = tmp_path / "feedback.db"
    other = tmp_path / "other" / "feedback.db"
    other.parent.mkdir()
    FeedbackStore.open(f"sqlite:///{other}").close()
    with server_process(tmp_path, env={"DIGITPAD_DATABASE_URL": f"sqlite:///{db}"}) as server:
        assert post(server.url, sample).status_code == 201
        os.replace(other, db)  # e.g. a restore copied over it while the server ran
        r = post(server.url, sample)
        assert r.status_code == 503 and r.json()["error"]["code"] == "database_lost", r.text
        assert httpx.get(server.url + "/readyz").status_code == 503
        assert "was replaced by another file" in server.log()


def test_readiness_reports_a_corrupt_database_and_a_schema_not_at_head(tmp_path, server_process):
    db = tmp_path / "feedback.db"
    with server_process(tmp_path, env={"DIGITPAD_DATABASE_URL": f"sqlite:///{db}"}) as server:
        assert httpx.get(server.url + "/readyz").json() == {"status": "ready", "model": httpx.get(
            server.url + "/healthz").json()["model"], "store": "ok"}
        engine = make_engine(f"sqlite:///{db}")
        with engine.begin() as conn:  # an older digitpad's schema (a rollback of the migration step)
            conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
        r = httpx.get(server.url + "/readyz")
        assert r.status_code == 503 and r.json()["error"]["code"] == "schema_out_of_date", r.text
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :head"), {"head": head_revision()})
        engine.dispose()
        assert httpx.get(server.url + "/readyz").status_code == 200
        with open(db, "r+b") as f:  # the file's header overwritten in place (same inode)
            f.write(b"\x00" * 100)
        r = httpx.get(server.url + "/readyz")
        assert r.status_code == 503, r.text
        assert httpx.get(server.url + "/healthz").status_code == 200
        assert "Traceback" not in server.log()


def test_the_store_refuses_a_lost_file_and_adopts_an_existing_one(tmp_path):
    db = tmp_path / "f.db"
    FeedbackStore.open(f"sqlite:///{db}").close()
    assert (tmp_path / "f.db.id").is_file()
    copy = tmp_path / "copy.db"
    shutil.copy(db, copy)  # a database made elsewhere (no marker): opened and remembered
    FeedbackStore.open(f"sqlite:///{copy}").close()
    assert (tmp_path / "copy.db.id").is_file()
    remove_database(db)
    with pytest.raises(StoreError) as e:
        FeedbackStore.open(f"sqlite:///{db}")
    assert e.value.code == "database_lost" and "f.db.id" in e.value.hint
    assert not db.exists()

"""Feedback reliability against real servers (uvicorn subprocesses on loopback), on SQLite and,
where DIGITPAD_TEST_POSTGRES_URL is set, on PostgreSQL:

- 32 concurrent clients x 50 posts to a 2-worker server: every 201 is exactly one row;
- a server SIGKILLed in the middle of a write load loses no acknowledged row, and starts
  again on the same database;
- bad input (label outside 0-9, missing image, oversized or chunked-oversized body) gets a 4xx
  in the error format and writes nothing.

(SIGKILL kills the process, not the machine: what it proves is that a 201 is only sent after
the commit. Surviving power loss is SQLite's ``synchronous=FULL`` / PostgreSQL's fsync.)
"""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import time

import httpx
import pytest
from feedback_support import BACKENDS, database, drawings

from digitpad.store import FeedbackStore

TOKEN = "reliability-token"


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path):
    yield from database(request.param, tmp_path)


@pytest.fixture(scope="module")
def bodies() -> list[dict]:
    """JSON bodies as the page sends them: real drawings as data URLs, with their labels."""
    return [{"image": "data:image/png;base64," + base64.b64encode(png).decode(), "label": label, "source": "draw"}
            for png, label in drawings(16)]


def server_env(db_url: str, **extra: str) -> dict[str, str]:
    return {"DIGITPAD_DATABASE_URL": db_url, "DIGITPAD_ADMIN_TOKEN": TOKEN, "DIGITPAD_LOG_LEVEL": "warning",
            "DIGITPAD_REQUEST_TIMEOUT": "60", **extra}


def stored_ids(db_url: str) -> list[int]:
    with FeedbackStore.open(db_url) as store:
        return store.ids()


async def _post_many(url: str, bodies: list[dict], n: int, k: int) -> list[tuple[int, int | None, str]]:
    """One client (its own connection) posting ``n`` bodies in turn: [(status, id, text)]."""
    out = []
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        for i in range(n):
            r = await client.post("/api/feedback", json=bodies[(k + i) % len(bodies)])
            out.append((r.status_code, r.json().get("id") if r.status_code == 201 else None, r.text[:200]))
    return out


def test_32_clients_x_50_posts_every_201_is_one_row(server_process, tmp_path, db_url, bodies):
    clients, per_client = 32, 50
    with server_process(tmp_path, "--workers", "2", env=server_env(db_url)) as server:

        async def load():
            return await asyncio.gather(*(_post_many(server.url, bodies, per_client, k) for k in range(clients)))

        t0 = time.perf_counter()
        results = [r for client in asyncio.run(load()) for r in client]
        elapsed = time.perf_counter() - t0
        server.assert_alive()
        listed = httpx.get(server.url + "/api/feedback?limit=1", headers={"Authorization": f"Bearer {TOKEN}"}).json()
    failures = [r for r in results if r[0] != 201]
    assert not failures, f"{len(failures)} of {len(results)} posts failed, e.g. {failures[:3]}; log:\n{server.log()[-3000:]}"
    ids = [r[1] for r in results]
    assert len(ids) == clients * per_client == len(set(ids)), "every 201 carries its own id"
    assert sorted(ids) == stored_ids(db_url), "ids answered == rows in the database"
    assert listed["total"] == clients * per_client
    print(f"{len(ids)} feedback posts from {clients} clients in {elapsed:.1f} s ({len(ids) / elapsed:.0f}/s)")


def test_sigkill_mid_load_loses_no_acknowledged_row(server_process, tmp_path, db_url, bodies):
    acked: list[int] = []
    errors: list[str] = []
    kill_after = 150

    with server_process(tmp_path, env=server_env(db_url)) as server:
        pid = server.proc.pid

        async def client(k: int) -> None:
            async with httpx.AsyncClient(base_url=server.url, timeout=30) as c:
                for i in range(10_000):  # bounded; ends when the server dies
                    try:
                        r = await c.post("/api/feedback", json=bodies[(k + i) % len(bodies)])
                    except httpx.HTTPError as e:
                        errors.append(type(e).__name__)
                        return
                    if r.status_code == 201:
                        acked.append(r.json()["id"])
                    else:
                        errors.append(f"{r.status_code} {r.text[:100]}")
                        return

        async def killer() -> None:
            deadline = time.monotonic() + 120
            while len(acked) < kill_after and time.monotonic() < deadline:
                await asyncio.sleep(0.005)
            os.kill(pid, signal.SIGKILL)  # mid-load: 8 requests are in flight

        async def run() -> None:
            await asyncio.gather(killer(), *(client(k) for k in range(8)))

        asyncio.run(run())
        server.proc.wait(10)
        assert server.proc.returncode == -signal.SIGKILL
    assert len(acked) >= kill_after, f"the load never got going: {errors[:5]}\n{server.log()[-3000:]}"
    assert len(errors) >= 1, "clients were still posting when the server died"

    rows = stored_ids(db_url)
    lost = sorted(set(acked) - set(rows))
    assert not lost, f"{len(lost)} acknowledged rows lost after SIGKILL: {lost[:10]}"
    # Rows committed but never answered (killed between commit and response) are allowed.
    assert len(rows) - len(acked) <= 8
    if db_url.startswith("sqlite"):
        with FeedbackStore.open(db_url) as store, store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"

    # The same database serves a new server at once.
    with server_process(tmp_path, env=server_env(db_url)) as again:
        r = httpx.post(again.url + "/api/feedback", json=bodies[0], timeout=30)
        assert r.status_code == 201, r.text
        assert r.json()["id"] > max(rows)
    assert stored_ids(db_url) == [*rows, r.json()["id"]]


def test_bad_input_to_a_real_server_gets_4xx_and_writes_nothing(server_process, tmp_path, bodies):
    db_url = f"sqlite:///{tmp_path / 'feedback.db'}"
    limit = 60_000
    with server_process(tmp_path, env=server_env(db_url, DIGITPAD_MAX_BODY_BYTES=str(limit))) as server:
        url = server.url + "/api/feedback"

        def chunks():  # no Content-Length: the server must count while reading
            for _ in range(20):
                yield b"A" * 10_000

        responses = [
            (httpx.post(url, json={**bodies[0], "label": 10}), 400),
            (httpx.post(url, json={**bodies[0], "label": -3}), 400),
            (httpx.post(url, json={"label": 3}), 422),
            (httpx.post(url, files={"image": ("d.png", b"\0" * (limit + 10), "image/png")}, data={"label": "3"}), 413),
            (httpx.post(url, content=chunks(), headers={"content-type": "application/json"}), 413),
        ]
        for r, status in responses:
            assert r.status_code == status, r.text
            assert set(r.json()["error"]) == {"code", "message"}, r.text
        server.assert_alive()
        assert httpx.post(url, json=bodies[0]).status_code == 201
    assert len(stored_ids(db_url)) == 1

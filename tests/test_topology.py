"""What deploy/ describes, as real processes: nginx (Debian's, from deploy/nginx/digitpad.conf.template)
in front of 3 ``digitpad serve`` replicas sharing one PostgreSQL, migrated by ``digitpad db upgrade``
and started with ``DIGITPAD_MIGRATE=false``, like the compose file and the Kubernetes manifests.

- load through the proxy spreads over all three replicas (nginx's log and each replica's agree);
- feedback posted through the proxy lands exactly once in the one database;
- one replica SIGKILLed under load costs at most a few requests and no acknowledged row;
- a rolling restart under load (take a replica out of the proxy, SIGTERM it, let it drain, start
  it again, put it back; then the next one) fails no request.

Client loads are bounded in count and time; everything binds 127.0.0.1 and is stopped by its own
PID. Needs nginx and PostgreSQL (``.ci/run`` installs both); without them it skips here and fails in CI.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from conftest import REPO, ServerProcess
from feedback_support import drawings
from sqlalchemy import select
from topology_support import nginx_proxy, postgres_url

from digitpad.harness import free_port
from digitpad.settings import Settings
from digitpad.store import Feedback, FeedbackStore

pytestmark = pytest.mark.slow

REPLICAS = 3
TOKEN = "topology-admin-token-0123456789"
MAX_BODY = Settings().max_body_bytes


# ------------------------------------------------------------------ client load


@dataclass(frozen=True)
class Outcome:
    kind: str  # "predict" or "feedback"
    sent: float  # time.monotonic() when sent
    status: int | None  # None: no HTTP answer at all (see error)
    error: str | None = None
    feedback_id: int | None = None
    label: int | None = None

    @property
    def ok(self) -> bool:
        return self.status == (201 if self.kind == "feedback" else 200)


class Load:
    """``clients`` threads posting real drawings through the proxy, each on its own keep-alive
    connection, every ``feedback_every``-th post a correction; until ``stop()``, or ``max_requests``
    or ``max_seconds`` (whichever comes first).

    Like a browser (and RFC 9112 9.3.1), a client sends a request once more, on a new connection,
    when its kept-alive connection is closed before any byte of an answer: that is what a
    reloading nginx does to a connection that was idle at that moment (the request never reached
    a replica). ``resent`` counts these; the row checks show that none stored a row twice.
    """

    def __init__(self, url: str, samples: list[tuple[bytes, int]], *, clients: int = 4, feedback_every: int = 4,
                 max_requests: int = 20_000, max_seconds: float = 90) -> None:
        self.url, self.samples, self.clients, self.feedback_every = url, samples, clients, feedback_every
        self.max_requests, self.max_seconds = max_requests, max_seconds
        self.outcomes: list[Outcome] = []
        self.resent = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._client, args=(k,), daemon=True) for k in range(clients)]

    def _post(self, client: httpx.Client, kind: str, png: bytes, label: int) -> httpx.Response:
        for attempt in (1, 2):
            try:
                if kind == "feedback":
                    return client.post("/api/feedback", files={"image": ("d.png", png, "image/png")},
                                       data={"label": str(label)})
                return client.post("/api/predict", files={"image": ("d.png", png, "image/png")})
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as e:
                closed_unanswered = ("without sending a response" in str(e) or "reset by peer" in str(e)
                                     or "Broken pipe" in str(e))
                if attempt == 2 or not closed_unanswered:
                    raise
                with self._lock:
                    self.resent += 1
        raise AssertionError("unreachable")

    def _client(self, k: int) -> None:
        deadline = time.monotonic() + self.max_seconds
        with httpx.Client(base_url=self.url, timeout=30) as client:
            i = 0
            while not self._stop.is_set() and time.monotonic() < deadline and len(self.outcomes) < self.max_requests:
                png, label = self.samples[(i * self.clients + k) % len(self.samples)]
                kind = "feedback" if i % self.feedback_every == self.feedback_every - 1 else "predict"
                sent = time.monotonic()
                try:
                    r = self._post(client, kind, png, label)
                    fid = r.json()["id"] if kind == "feedback" and r.status_code == 201 else None
                    out = Outcome(kind, sent, r.status_code, None if r.status_code < 400 else r.text[:200], fid, label)
                except httpx.HTTPError as e:
                    out = Outcome(kind, sent, None, f"{type(e).__name__}: {e}", None, label)
                with self._lock:
                    self.outcomes.append(out)
                i += 1

    def __enter__(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def wait_for(self, n: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while len(self.outcomes) < n:
            assert time.monotonic() < deadline, f"only {len(self.outcomes)} requests answered in {timeout:.0f} s"
            time.sleep(0.05)

    def stop(self) -> list[Outcome]:
        self._stop.set()
        for t in self._threads:
            t.join(60)
        return list(self.outcomes)

    def __exit__(self, *exc: object) -> None:
        self.stop()


def failures(outcomes: list[Outcome]) -> list[Outcome]:
    return [o for o in outcomes if not o.ok]


# ------------------------------------------------------------------ the topology


class Topology:
    """PostgreSQL, 3 replicas, nginx; replicas can be killed, drained, restarted."""

    def __init__(self, tmp: Path, db_url: str) -> None:
        self.tmp, self.db_url = tmp, db_url
        self.replicas: list[ServerProcess] = []
        self.proxy = None  # a started NginxProxy

    def start_replica(self) -> ServerProcess:
        # A restarted replica gets a new address, as a new pod does; the proxy is told (reload).
        return ServerProcess(self.tmp, env={"DIGITPAD_DATABASE_URL": self.db_url, "DIGITPAD_MIGRATE": "false",
                                            "DIGITPAD_ADMIN_TOKEN": TOKEN}).__enter__()

    @property
    def ports(self) -> list[int]:
        return [r.port for r in self.replicas]

    def rows(self) -> dict[int, int]:
        """Every feedback row in the one database: id -> label."""
        with FeedbackStore.open(self.db_url, migrate_schema=False) as store, store.engine.connect() as conn:
            return dict(conn.execute(select(Feedback.id, Feedback.label)).all())

    def served(self) -> Counter:
        """Requests per replica port, as nginx logged them (the replica that gave the answer)."""
        counts = Counter()
        for e in self.proxy.access_entries():
            last = e["upstream"].split(",")[-1].strip()
            if last.startswith("127.0.0.1:"):
                counts[int(last.rsplit(":", 1)[1])] += 1
        return counts


@pytest.fixture(scope="module")
def samples() -> list[tuple[bytes, int]]:
    return drawings(48)


@pytest.fixture(scope="module")
def topology(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("topology")
    with postgres_url(tmp) as db_url:
        # The migration step (the compose `migrate` service, the Kubernetes Job), once, before any replica.
        r = subprocess.run([sys.executable, "-m", "digitpad.cli", "db", "upgrade"], capture_output=True, text=True,
                           timeout=120, cwd=REPO, env={**os.environ, "DIGITPAD_DATABASE_URL": db_url})
        assert r.returncode == 0, r.stdout + r.stderr
        topo = Topology(tmp, db_url)
        try:
            for _ in range(REPLICAS):
                topo.replicas.append(topo.start_replica())
            topo.proxy = nginx_proxy(topo.ports, max_body_bytes=MAX_BODY).__enter__()
            yield topo
        finally:
            if topo.proxy is not None:
                topo.proxy.__exit__()
            for replica in topo.replicas:
                replica.__exit__()


# ------------------------------------------------------------------ the checks


def test_load_spreads_over_all_three_replicas(topology, samples):
    def answered_by_each() -> Counter:  # each replica's own access log: the posts it answered
        return Counter({r.port: len(re.findall(r'"POST /api/(?:predict|feedback) HTTP/1\.1" 20[01]', r.log()))
                        for r in topology.replicas})

    before, own_before = topology.served(), answered_by_each()
    with Load(topology.proxy.url, samples, max_requests=600, max_seconds=60) as load:
        load.wait_for(600)
    outcomes = load.stop()
    time.sleep(0.5)  # the last access lines
    assert failures(outcomes) == []
    served = topology.served() - before
    print(f"\nspread: {len(outcomes)} requests, per replica {dict(served)}")
    assert sum(served.values()) == len(outcomes)
    assert set(served) == set(topology.ports), served
    for port in topology.ports:
        # Round robin: a third each; at least a fifth leaves room for chance.
        assert served[port] >= len(outcomes) / 5, served
    assert answered_by_each() - own_before == served  # nginx's log and the replicas' own agree


def test_feedback_through_the_proxy_lands_exactly_once(topology, samples):
    before = topology.rows()
    with Load(topology.proxy.url, samples, feedback_every=2, max_requests=300, max_seconds=60) as load:
        load.wait_for(300)
    outcomes = load.stop()
    assert failures(outcomes) == []
    acknowledged = {o.feedback_id: o.label for o in outcomes if o.kind == "feedback"}
    assert len(acknowledged) >= 140 and None not in acknowledged
    new = {i: label for i, label in topology.rows().items() if i not in before}
    assert new == acknowledged  # every 201 is one row, with its label; nothing else was written
    # ...and any replica reads it back (the admin route, through the proxy).
    fid = max(acknowledged)
    r = httpx.get(f"{topology.proxy.url}/api/feedback?limit=1", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200 and r.json()["items"][0]["id"] == fid, r.text


def test_a_replica_killed_under_load_costs_a_few_requests_and_no_row(topology, samples):
    before = topology.rows()
    victim = topology.replicas[0]
    with Load(topology.proxy.url, samples, max_requests=5_000, max_seconds=60) as load:
        load.wait_for(200)
        killed_at = time.monotonic()
        victim.proc.kill()  # SIGKILL, by PID
        victim.proc.wait(10)
        load.wait_for(len(load.outcomes) + 400)
    outcomes = load.stop()
    victim.__exit__()
    # Back to three first (a new replica in the dead one's place), so that a failed assertion
    # below cannot leave the next test a dead replica to restart.
    topology.replicas[0] = topology.start_replica()
    topology.proxy.reload(topology.ports)
    after = topology.rows()
    failed = failures(outcomes)
    acknowledged = {o.feedback_id for o in outcomes if o.ok and o.kind == "feedback"}
    new = set(after) - set(before)
    print(f"\nSIGKILL: {len(outcomes)} requests, {len(failed)} failed {Counter(o.kind for o in failed)}, "
          f"{load.resent} resent; {len(acknowledged)} feedback rows acknowledged, {len(new)} stored")
    # What can fail: the posts in flight on the victim (one per client at most) and one post per
    # nginx worker sent on a kept-alive connection to it before nginx saw it close (then nginx
    # marks it failed). A correction is answered 503; a reading is resent to another replica
    # (non_idempotent), unless the kill fell between the victim's two writes of its answer (the
    # headers, then the body): nginx has passed the headers on and can only close the connection.
    assert len(failed) <= load.clients + 2, failed
    cut_short = [o for o in failed if o.status is None and "without sending complete message body" in (o.error or "")]
    assert all((o.kind == "feedback" and o.status == 503) or o in cut_short for o in failed), failed
    assert len(cut_short) <= load.clients, cut_short
    assert acknowledged <= new  # no acknowledged row lost
    # A row written just before the kill may be stored unacknowledged; never more than failed posts.
    assert len(new - acknowledged) <= sum(o.kind == "feedback" for o in failed)
    assert sum(o.ok and o.sent > killed_at for o in outcomes) >= 300  # the other two carried on


def test_a_rolling_restart_under_load_fails_no_request(topology, samples):
    """Each replica in turn: out of the proxy (reload: nginx's old workers finish what they hold),
    SIGTERM (uvicorn finishes anything in flight and exits 0), a new one started and put in."""
    before = topology.rows()
    restarted = []
    with Load(topology.proxy.url, samples, max_requests=20_000, max_seconds=240) as load:
        load.wait_for(100)
        for i in range(REPLICAS):
            old = topology.replicas[i]
            topology.proxy.reload(topology.ports, down=frozenset({old.port}))
            old.proc.terminate()  # SIGTERM, by PID
            # uvicorn drains, then exits by the signal it caught (returncode -SIGTERM).
            assert old.proc.wait(30) in (0, -signal.SIGTERM), old.log()
            assert "Application shutdown complete" in old.log(), old.log()
            old.__exit__()
            topology.replicas[i] = topology.start_replica()
            topology.proxy.reload(topology.ports)
            restarted.append((old.port, topology.replicas[i].port))
            load.wait_for(len(load.outcomes) + 150)
    outcomes = load.stop()
    failed = failures(outcomes)
    acknowledged = {o.feedback_id: o.label for o in outcomes if o.kind == "feedback" and o.ok}
    new = {i: label for i, label in topology.rows().items() if i not in before}
    served = topology.served()
    print(f"\nrolling restart: {len(outcomes)} requests, {len(failed)} failed, {load.resent} resent after a reload "
          f"closed an idle connection; {len(acknowledged)} feedback rows acknowledged, {len(new)} stored; "
          f"replicas (old port, new port) {restarted}")
    assert failed == [], failed[:10]
    assert new == acknowledged
    for _, port in restarted:
        assert served[port] > 0, (port, served)  # every new replica took traffic


def test_the_proxy_answers_its_own_errors_in_the_apps_shape(topology):
    big = b"\0" * (MAX_BODY + 1)
    r = httpx.post(f"{topology.proxy.url}/api/predict", content=big, headers={"content-type": "image/png"}, timeout=30)
    assert r.status_code == 413, r.text
    assert r.json()["error"]["code"] == "payload_too_large"
    # No replica can answer: a JSON 503 with Retry-After, not nginx's HTML 502.
    nowhere = nginx_proxy([free_port()], max_body_bytes=MAX_BODY)  # a port nothing listens on
    with nowhere:
        r = httpx.get(f"{nowhere.url}/healthz", timeout=30)
    assert r.status_code == 503 and r.headers["retry-after"] == "1", r.text
    assert r.json()["error"]["code"] == "unavailable"

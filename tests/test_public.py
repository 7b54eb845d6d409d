"""Feedback a stranger cannot abuse, and the rest of what changes in public (issue 19, findings 1
and 8 and its "Also"): what is stored is the server's bounded re-encoding, writes from another
site and unknown hosts are refused, rate limits and a total cap answer 429/507, many rows go in
one admin delete and give their space back, anonymous requests never cause a 500, the admin
token is long and throttled, ``HEAD /healthz``, no Host header in redirects, the real client
behind a trusted proxy. Real servers, a real SQLite file and real Chromium where they matter.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import httpx
import numpy as np
import pytest
from conftest import REPO
from fastapi.testclient import TestClient
from feedback_support import drawings
from PIL import Image

from digitpad.preprocess import preprocess_bytes
from digitpad.settings import Settings
from digitpad.store import FeedbackStore
from digitpad.web.app import create_app

TOKEN = "public-admin-token-0123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def samples() -> list[tuple[bytes, int]]:
    return drawings(8)


def make_client(tmp_path, **settings) -> TestClient:
    s = Settings(database_url=f"sqlite:///{tmp_path / 'f.db'}", admin_token=TOKEN, allowed_hosts="testserver")
    return TestClient(create_app(s.model_copy(update=settings)), raise_server_exceptions=False)


def post(c, png: bytes, label: int, **headers):  # noqa: ANN001, ANN201
    return c.post("/api/feedback", files={"image": ("d.png", png, "image/png")}, data={"label": str(label)},
                  headers=headers)


# ------------------------------------------------------------------ 1. what is stored


def test_the_store_keeps_a_bounded_re_encoding_never_the_bytes_sent(tmp_path, samples):
    """A 3 KB drawing with 9.9 MB of junk appended (Pillow ignores trailing bytes) is stored as a
    few KB; a noise photo as at most 256 KB; both read back as what the model saw."""
    png, label = samples[0]
    junk = png + np.random.default_rng(0).integers(0, 256, 9_900_000, dtype=np.uint8).tobytes()
    noise = np.random.default_rng(1).integers(0, 256, (1500, 1500), dtype=np.uint8)
    noise[600:900, 700:760] = 0  # a stroke on it
    buf = io.BytesIO()
    Image.fromarray(noise).save(buf, "PNG")
    with make_client(tmp_path, max_body_bytes=10_000_000) as c:
        ids = [post(c, junk, label).json()["id"], post(c, buf.getvalue(), 1).json()["id"]]
        stored = [c.get(f"/api/feedback/{i}/image", headers=AUTH) for i in ids]
        listed = {i["id"]: i for i in c.get("/api/feedback", headers=AUTH).json()["items"]}
    assert len(stored[0].content) < 20_000 and stored[0].content != junk[:len(stored[0].content)]
    assert len(stored[1].content) <= 256 * 1024
    assert all(listed[i]["image_bytes"] == len(s.content) and listed[i]["content_type"] == "image/png"
               for i, s in zip(ids, stored, strict=True))
    np.testing.assert_array_equal(preprocess_bytes(stored[0].content).image, preprocess_bytes(png).image)
    with FeedbackStore.open(f"sqlite:///{tmp_path / 'f.db'}") as store:
        assert store.usage()[1] < 300_000  # not 10 MB


# ------------------------------------------------------------------ 1. other sites, unknown hosts


ATTACK = """async ([target, b64]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const form = () => { const f = new FormData(); f.append('image', new Blob([bytes], {type: 'image/png'}), 'd.png');
                       f.append('label', '1'); return f; };
  const beacon = navigator.sendBeacon(target + '/api/feedback', form());
  let fetched = 'sent';
  try { await fetch(target + '/api/feedback', {method: 'POST', mode: 'no-cors', body: form()}); }
  catch (e) { fetched = String(e); }
  await new Promise((r) => setTimeout(r, 1500));   // the beacon goes in the background
  return {beacon, fetched};
}"""


@pytest.fixture
def elsewhere():
    """Another site: a plain page (no CSP of ours to stop its scripts) on localhost, another port."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            body = b"<!doctype html><title>elsewhere</title><p>a page on another site"
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://localhost:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.browser
def test_another_site_cannot_store_rows(browser, server_process, tmp_path, elsewhere, samples):
    """A page on another origin posts with a no-cors fetch and sendBeacon (both reach the server
    without CORS): no row is stored. The page's own origin still can."""
    import base64

    png, label = samples[1]
    with server_process(tmp_path, env={"DIGITPAD_ADMIN_TOKEN": TOKEN}) as target:
        context = browser.new_context()
        page = context.new_page()
        try:
            page.goto(elsewhere + "/")
            sent = page.evaluate(ATTACK, [target.url, base64.b64encode(png).decode()])
            assert sent["beacon"] is True and sent["fetched"] == "sent", sent
            rows = httpx.get(target.url + "/api/feedback", headers=AUTH).json()
            assert rows["total"] == 0, rows
            page.goto(target.url + "/")  # the page itself
            status = page.evaluate("""async ([b64, label]) => {
              const f = new FormData();
              f.append('image', new Blob([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], {type: 'image/png'}), 'd.png');
              f.append('label', String(label));
              return (await fetch('/api/feedback', {method: 'POST', body: f})).status;
            }""", [base64.b64encode(png).decode(), label])
            assert status == 201
        finally:
            context.close()
        assert httpx.get(target.url + "/api/feedback", headers=AUTH).json()["total"] == 1
        assert target.log().count('"POST /api/feedback HTTP/1.1" 403') == 2


@pytest.mark.parametrize(("headers", "status"), [
    ({"sec-fetch-site": "cross-site"}, 403), ({"sec-fetch-site": "same-site"}, 403),
    ({"origin": "http://evil.example"}, 403), ({"origin": "null"}, 403),
    ({"sec-fetch-site": "same-origin", "origin": "http://testserver"}, 201), ({"origin": "http://testserver"}, 201),
    ({"sec-fetch-site": "none"}, 201), ({}, 201),
])
def test_cross_site_writes_are_refused_before_anything_is_read(tmp_path, samples, headers, status):
    png, label = samples[2]
    with make_client(tmp_path) as c:
        r = post(c, png, label, **headers)
        assert r.status_code == status, r.text
        if status == 403:
            assert r.json()["error"]["code"] == "cross_site"
            assert c.get("/api/feedback", headers=AUTH).json()["total"] == 0
        # Reading changes nothing: no check there.
        assert c.get("/api/config", headers=headers).status_code == 200


def test_unknown_hosts_are_refused_and_never_echoed(tmp_path, server_process):
    with server_process(tmp_path) as server:
        def get(path: str, host: str) -> httpx.Response:
            return httpx.get(server.url + path, headers={"host": host}, follow_redirects=False)

        r = get("/", "evil.example")
        assert r.status_code == 400 and r.json()["error"]["code"] == "unknown_host", r.text
        assert get("/healthz", "10.1.2.3:8000").status_code == 200  # probes name the pod's address
        assert get("/readyz", "10.1.2.3:8000").status_code == 200
        assert get("/", "LOCALHOST:1234").status_code == 200
        # No redirect echoes the Host header it was asked with ("/api/model/" used to answer
        # 307 to http://<Host>/api/model).
        for path in ("/api/model/", "/api/config/", "/api/feedback/", "/vendor", "/healthz/"):
            r = get(path, "localhost:1234")
            assert "localhost:1234" not in r.headers.get("location", ""), (path, r.status_code, r.headers)
            assert "evil" not in get(path, "evil.example").headers.get("location", ""), path
        assert get("/api/model/", "localhost:1234").status_code == 404


def test_a_directory_redirect_names_the_path_only(tmp_path):
    """StaticFiles redirects /sub to /sub/ when sub/index.html exists: with the path alone."""
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from digitpad.web.static import PageFiles

    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "index.html").write_text("<!doctype html>")
    app = Starlette(routes=[Mount("/", app=PageFiles(directory=tmp_path, html=True))])
    with TestClient(app, follow_redirects=False) as c:
        r = c.get("/sub?x=1", headers={"host": "evil.example"})
    assert r.status_code in (301, 307) and r.headers["location"] == "/sub/?x=1", r.headers


# ------------------------------------------------------------------ 1. rate limits, the cap, bulk delete


def test_a_client_gets_its_share_and_the_real_client_is_seen_behind_a_proxy(tmp_path, server_process, samples):
    png, label = samples[3]
    files = {"image": ("d.png", png, "image/png")}
    env = {"DIGITPAD_FEEDBACK_PER_MINUTE": "3"}
    with server_process(tmp_path, env=env) as server:
        def send(**headers: str) -> httpx.Response:
            return httpx.post(server.url + "/api/feedback", files=files, data={"label": str(label)}, headers=headers)

        assert [send().status_code for _ in range(3)] == [201] * 3
        r = send()
        assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited", r.text
        assert 1 <= int(r.headers["retry-after"]) <= 20
        # Behind the proxy (127.0.0.1, trusted by default) each real client has its own share.
        assert send(**{"x-forwarded-for": "203.0.113.7"}).status_code == 201
        assert send(**{"x-forwarded-for": "203.0.113.8"}).status_code == 201
        assert [send(**{"x-forwarded-for": "203.0.113.7"}).status_code for _ in range(3)] == [201, 201, 429]
    with server_process(tmp_path, env={**env, "DIGITPAD_TRUSTED_PROXIES": "10.9.9.9"}) as server:
        codes = [httpx.post(server.url + "/api/feedback", files=files, data={"label": str(label)},
                            headers={"x-forwarded-for": f"203.0.113.{i}"}).status_code for i in range(4)]
        assert codes == [201, 201, 201, 429]  # a header from an untrusted peer changes nothing


@pytest.mark.parametrize("cap", [{"feedback_max_rows": 3}, {"feedback_max_mb": 0.008}])
def test_the_store_has_a_cap(tmp_path, samples, cap):
    with make_client(tmp_path, **cap) as c:
        codes = [post(c, png, label).status_code for png, label in samples[:6]]
        assert codes[:2] == [201, 201] and 507 in codes, codes
        full = codes.index(507)
        assert set(codes[full:]) == {507}
        r = post(c, *samples[6])
        assert r.json()["error"]["code"] == "store_full", r.text
        assert c.get("/api/feedback", headers=AUTH).json()["total"] == full
        # An admin makes room: one row deleted, one more accepted.
        assert c.delete("/api/feedback?max_id=1", headers=AUTH).json() == {"deleted": 1}
        assert post(c, *samples[7]).status_code == 201


def test_bulk_delete_gives_the_space_back(tmp_path):
    db = tmp_path / "f.db"
    noise = np.random.default_rng(2).integers(0, 256, (700, 700), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(noise).save(buf, "PNG")
    with FeedbackStore.open(f"sqlite:///{db}") as store:
        for i in range(120):  # ~250 KB images: ~30 MB
            store.add(label=i % 10, image_bytes=buf.getvalue()[:250_000] + bytes([i]), content_type="image/png",
                      image28=np.zeros((28, 28), np.uint8), model_version="old" if i < 100 else "new")
    with make_client(tmp_path) as c:
        size = os.path.getsize(db)
        assert c.delete("/api/feedback", headers=AUTH).status_code == 400  # no criterion: nothing deleted
        r = c.delete("/api/feedback?model=old&max_id=90", headers=AUTH)
        assert r.status_code == 200 and r.json() == {"deleted": 90}, r.text
        assert c.delete("/api/feedback?review=accepted", headers=AUTH).json() == {"deleted": 0}
        assert c.delete("/api/feedback?before=2000-01-01", headers=AUTH).json() == {"deleted": 0}
        assert c.get("/api/feedback", headers=AUTH).json()["total"] == 30
        assert os.path.getsize(db) < 0.35 * size, (os.path.getsize(db), size)
        assert c.delete("/api/feedback?min_id=91&max_id=95", headers=AUTH).json() == {"deleted": 5}
        assert c.delete("/api/feedback/1", headers=AUTH).status_code == 404


# ------------------------------------------------------------------ 8. anonymous 500s


def test_odd_fields_are_4xx_and_leave_no_traceback(tmp_path, server_process, samples):
    import base64

    png, label = samples[4]
    image = "data:image/png;base64," + base64.b64encode(png).decode()
    files = {"image": ("d.png", png, "image/png")}
    with server_process(tmp_path) as server:
        def form(**fields: str) -> httpx.Response:
            return httpx.post(server.url + "/api/feedback", files=files, data=fields)

        def as_json(body: bytes | str) -> httpx.Response:
            return httpx.post(server.url + "/api/feedback", content=body, headers={"content-type": "application/json"})

        answers = {
            'label="²"': form(label="²"),
            "a 5,000-digit label": form(label="7" * 5000),
            'predicted="²"': form(label=str(label), predicted="²"),
            "JSON label \"²\"": as_json(json.dumps({"image": image, "label": "²"})),
            "JSON 5,000-digit label": as_json(f'{{"image": "{image}", "label": {"7" * 5000}}}'),
            "JSON 5,000-digit label string": as_json(json.dumps({"image": image, "label": "7" * 5000})),
            "deeply nested JSON": as_json("[" * 100_000 + "]" * 100_000),
            "deeply nested label": as_json(f'{{"image": "{image}", "label": ' + "[" * 50_000 + "]" * 50_000 + "}"),
            "confidence 1e999": form(label=str(label), confidence="1e999"),
        }
        log = server.log()
    for what, r in answers.items():
        assert 400 <= r.status_code < 500, (what, r.status_code, r.text)
        assert set(r.json()) == {"error"} and len(r.text) < 400, (what, r.text)
    assert "Traceback" not in log, log[-3000:]


# ------------------------------------------------------------------ also


def test_a_short_admin_token_stops_the_server_in_one_line(tmp_path):
    r = subprocess.run([sys.executable, "-m", "digitpad.cli", "serve", "--port", "0"], capture_output=True, text=True,
                       timeout=120, cwd=REPO, env={**os.environ, "DIGITPAD_ADMIN_TOKEN": "hunter2",
                                                   "DIGITPAD_DATABASE_URL": f"sqlite:///{tmp_path / 'f.db'}"})
    assert r.returncode == 1, r.stdout + r.stderr
    assert "DIGITPAD_ADMIN_TOKEN is 7 characters" in r.stderr and "hint: make one:" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and "hunter2" not in r.stderr


def test_wrong_admin_tokens_are_throttled(tmp_path, server_process):
    with server_process(tmp_path, env={"DIGITPAD_ADMIN_TOKEN": TOKEN}) as server:
        def listing(token: str, **headers: str) -> int:
            return httpx.get(server.url + "/api/feedback", headers={"authorization": f"Bearer {token}", **headers},
                             ).status_code

        assert [listing(f"guess-{i}") for i in range(10)] == [401] * 10
        assert listing("guess-10") == 429
        assert listing(TOKEN) == 429  # this address waits, whatever it sends now
        assert listing(TOKEN, **{"x-forwarded-for": "198.51.100.4"}) == 200  # another client does not


def test_head_healthz_and_readyz(live_server):
    for path in ("/healthz", "/readyz"):
        r = httpx.head(live_server + path)
        assert r.status_code == 200 and r.content == b"", (path, r.status_code)
    assert httpx.get(live_server + "/readyz").json()["store"] == "ok"


def test_admin_answers_are_never_cached(tmp_path, samples):
    with make_client(tmp_path) as c:
        fid = post(c, *samples[5]).json()["id"]
        for r in (c.get("/api/feedback", headers=AUTH), c.get(f"/api/feedback/{fid}/image", headers=AUTH),
                  c.post("/api/feedback/review", json={"decision": "accepted"}, headers=AUTH)):
            assert r.status_code == 200 and r.headers["cache-control"] == "no-store", (r.status_code, r.headers)

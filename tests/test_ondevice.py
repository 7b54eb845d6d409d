"""On-device mode in a real Chromium against a real server: the browser's preprocessing
(``static/preprocess.js``) and onnxruntime-web give the server's answers on hundreds of
pendigits drawings; the page reads digits with the server stopped (service worker); it falls
back to the server when the runtime cannot load; static files are compressed and cached.

    DIGITPAD_PENDIGITS=... .venv/bin/python -m pytest tests/test_ondevice.py -q
    (or: pytest -k "ondevice or offline")
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import httpx
import numpy as np
import pytest
from page_support import PIXELS_OF, draw_mouse

pytestmark = pytest.mark.browser

PARITY_DRAWINGS = 320  # drawings in the parity test, each in one of the PNG styles in turn
ADMIN_TOKEN = "ondevice-admin-token"
BATCH = 40  # PNGs per page.evaluate call

# Runs in the page: PNGs (base64) -> decoded RGBA -> preprocess.js -> onnxruntime-web.
PAGE_READ = """async (pngs) => {""" + PIXELS_OF + """
  const { loadDevice } = await import('/ondevice.js');
  const { toMnist } = await import('/preprocess.js');
  const device = await loadDevice();
  const out = [];
  for (const b64 of pngs) {
    const pre = toMnist(await pixelsOf(b64));
    const probs = pre.empty ? null : await device.probabilities(pre.image);
    out.push({ image: Array.from(pre.image), empty: pre.empty, probs });
  }
  return out;
}"""


# Runs in the page: true once the outbox of corrections (IndexedDB) is empty.
WAITING_IS_EMPTY = """() => new Promise((resolve) => {
  const open = indexedDB.open('digitpad');
  open.onsuccess = () => {
    const count = open.result.transaction('feedback-outbox').objectStore('feedback-outbox').count();
    count.onsuccess = () => { open.result.close(); resolve(count.result === 0); };
  };
})"""


@pytest.fixture(scope="module")
def records(pendigits_path: Path) -> list[dict]:
    from digitpad.pendigits import load

    return load(pendigits_path)


def _new_page(browser, url: str | None = None):
    context = browser.new_context(**({"base_url": url} if url else {}), viewport={"width": 1000, "height": 720})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    page.on("console", lambda m: errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
    return context, page, errors


def _draw_mouse(page, record: dict) -> None:
    draw_mouse(page, record)


def _reading(page) -> tuple[str, str]:
    page.wait_for_selector("#result[aria-busy='false']", timeout=30_000)
    page.wait_for_function("() => document.getElementById('where').dataset.where", timeout=30_000)
    return page.get_by_test_id("prediction").text_content(), page.get_by_test_id("where").text_content()


def test_ondevice_parity_with_server(browser, live_server: str, records: list[dict]) -> None:
    """Same PNG -> same 28x28 and same digit in the browser as on the server, for 320 drawings."""
    from digitpad.pendigits import STYLES, render
    from digitpad.predict import Predictor
    from digitpad.preprocess import preprocess_bytes
    from digitpad.reading import digit_view

    styles = [name for name, st in STYLES.items() if st.format == "PNG"]
    step = max(1, len(records) // PARITY_DRAWINGS)
    chosen = records[::step][:PARITY_DRAWINGS]
    cases = [(rec["id"], styles[i % len(styles)], render(rec, STYLES[styles[i % len(styles)]]))
             for i, rec in enumerate(chosen)]
    predictor = Predictor()  # the server's own code path: decode + to_mnist + the same .onnx
    assert httpx.get(live_server + "/api/model").json()["version"] == predictor.version

    context, page, errors = _new_page(browser, live_server)
    try:
        page.goto("/")
        got = []
        for i in range(0, len(cases), BATCH):
            got += page.evaluate(PAGE_READ, [base64.b64encode(png).decode() for _, _, png in cases[i:i + BATCH]])
    finally:
        context.close()

    mismatches, max_pixel, max_prob, compared = [], 0, 0.0, 0
    for (rid, style, png), js in zip(cases, got, strict=True):
        pre = preprocess_bytes(png)
        img_js = np.array(js["image"], np.int16).reshape(28, 28)
        diff = int(np.abs(img_js - pre.image.astype(np.int16)).max())
        max_pixel = max(max_pixel, diff)
        if js["empty"] != pre.empty:
            mismatches.append(f"{rid} [{style}]: empty in JS={js['empty']}, in Python={pre.empty}")
            continue
        if pre.empty:
            continue
        py = predictor.predict_batch(pre.image[None])[0]
        pj = np.array(js["probs"])
        dp = float(np.abs(pj - py).max())
        max_prob = max(max_prob, dp)
        compared += 1
        if int(pj.argmax()) != int(py.argmax()) or dp > 1e-3:
            mismatches.append(f"{rid} [{style}]: digit JS={int(pj.argmax())} Python={int(py.argmax())}, "
                              f"max prob diff {dp:.2e}, max pixel diff {diff}")
    print(f"\nparity: {len(cases)} drawings ({compared} with ink), styles {styles}; "
          f"max 28x28 pixel difference {max_pixel}, max probability difference {max_prob:.2e}")
    assert compared >= 300, f"only {compared} drawings had ink"
    assert not mismatches, "\n".join(mismatches)
    assert errors == [], errors

    # And one through the real HTTP API, so the comparison is with what the server answers.
    rid, style, png = cases[0]
    r = httpx.post(live_server + "/api/predict", files={"image": ("d.png", png, "image/png")})
    assert r.status_code == 200, r.text
    digits_js, _ = digit_view(np.array(got[0]["probs"], np.float32))  # the model's (21,) -> the API's (10,)
    assert abs(np.array(r.json()["probabilities"]) - digits_js).max() <= 1e-3, (rid, style)


def test_ondevice_reads_offline_with_the_server_stopped(browser, server_process, tmp_path: Path,
                                                         records: list[dict]) -> None:
    """One visit in on-device mode, then the server stops: the page still loads (service worker),
    remembers the mode, and reads a mouse-drawn digit on the device."""
    from digitpad.pendigits import STYLES, render
    from digitpad.predict import Predictor
    from digitpad.preprocess import preprocess_bytes

    # A drawing the model reads with confidence, so the check is about offline, not accuracy.
    predictor = Predictor()
    rec = next(r for r in records[:200]
               if (p := predictor.predict(preprocess_bytes(render(r, STYLES["transparent-280"])).image)).digit
               == r["label"] and p.confidence > 0.95)

    context, page, errors = _new_page(browser)
    try:
        with server_process(tmp_path) as server:
            page.goto(server.url + "/")
            page.get_by_test_id("mode-device").check()
            page.wait_for_function("() => document.getElementById('where').textContent.includes('ready')",
                                   timeout=60_000)
            # The service worker controls the page and holds the versioned model.
            page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=60_000)
            model_url = httpx.get(server.url + "/api/config").json()["model_url"]
            assert "?v=" in model_url, model_url
            page.wait_for_function("(u) => caches.match(u).then((r) => !!r)", arg=model_url, timeout=60_000)
        # the server is stopped now; and no network at all
        context.set_offline(True)
        page.reload()
        assert page.get_by_test_id("mode-device").is_checked(), "the mode was not remembered"
        _draw_mouse(page, rec)
        digit, where = _reading(page)
        assert digit == str(rec["label"]), (digit, where, rec["id"])
        assert "this device" in where, where
        assert page.locator("#offline").is_hidden()
        assert [e for e in errors if "ERR_INTERNET_DISCONNECTED" not in e and "Failed to load" not in e] == []
    finally:
        context.close()


def test_server_down_offers_the_device_and_keeps_corrections_until_it_is_back(
        browser, server_process, tmp_path: Path, records: list[dict]) -> None:
    """Reading on the server, with the model kept from an earlier on-device visit: the server
    stops, and "Can't reach the server" offers to read on this device (no stale "computed on the
    server" line under it); a correction made then waits in the browser (IndexedDB) and reaches
    the server when it is back, on the same database."""
    env = {"DIGITPAD_ADMIN_TOKEN": ADMIN_TOKEN}
    context, page, errors = _new_page(browser)
    try:
        with server_process(tmp_path, env=env) as server:
            page.goto(server.url + "/")
            page.get_by_test_id("mode-device").check()
            page.wait_for_function("() => document.getElementById('where').textContent.includes('ready')",
                                   timeout=60_000)
            page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=60_000)
            model_url = httpx.get(server.url + "/api/config").json()["model_url"]
            page.wait_for_function("(u) => caches.match(u).then((r) => !!r)", arg=model_url, timeout=60_000)
            page.reload()   # a later visit, reading on the server; the model is only in the cache now
            page.get_by_test_id("mode-server").check()
            _draw_mouse(page, records[0])
            assert "the server" in _reading(page)[1]
        # The server is stopped.
        page.keyboard.press("Escape")
        _draw_mouse(page, records[1])
        offer = page.get_by_test_id("use-device")
        offer.wait_for(state="visible", timeout=30_000)
        assert page.locator("#offline").is_visible()
        assert page.get_by_test_id("where").text_content() == ""
        offer.click()
        digit, where = _reading(page)
        assert digit.isdigit() and "this device" in where, (digit, where)
        assert page.locator("#offline").is_hidden()

        label = (int(digit) + 1) % 10   # "no, it's a ...": a correction
        page.get_by_test_id(f"feedback-digit-{label}").click()
        thanks = page.get_by_test_id("feedback-thanks")
        thanks.wait_for(state="visible")
        assert "sent when the server answers" in thanks.text_content(), thanks.text_content()
        outbox = page.get_by_test_id("outbox")
        assert outbox.is_visible() and outbox.text_content().startswith("1 correction saved on this device")

        with server_process(tmp_path, env=env, port=server.port) as again:   # same port, same database
            with page.expect_response(lambda r: r.url.endswith("/api/feedback"), timeout=30_000) as sent:
                page.reload()   # the page starts: what waits is sent
            assert sent.value.status == 201, sent.value.text()
            page.wait_for_function(WAITING_IS_EMPTY, timeout=30_000)   # and then no longer kept
            outbox.wait_for(state="hidden", timeout=10_000)   # (shown after the store empties: raises if it stays)
            rows = httpx.get(again.url + "/api/feedback", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).json()
        assert rows["total"] == 1 and rows["items"][0]["label"] == label, rows
        assert [e for e in errors if "ERR_CONNECTION_REFUSED" not in e and "Failed to load" not in e
                and "Failed to fetch" not in e] == []
    finally:
        context.close()


def test_ondevice_falls_back_to_the_server_when_the_runtime_cannot_load(browser, live_server: str,
                                                                        records: list[dict]) -> None:
    context, page, _ = _new_page(browser, live_server)
    try:
        context.route("**/vendor/**", lambda route: route.abort("failed"))
        page.goto("/")
        # click, not check(): the blocked runtime fails at once, so the page may already have
        # switched back to the server by the time Playwright would verify the radio's state.
        page.get_by_test_id("mode-device").click()
        note = page.get_by_test_id("mode-note")
        note.wait_for(state="visible", timeout=30_000)
        assert "on the server instead" in note.text_content()
        assert page.get_by_test_id("mode-server").is_checked()
        _draw_mouse(page, records[0])
        digit, where = _reading(page)
        assert digit.isdigit(), digit
        assert "the server" in where, where
    finally:
        context.close()


def test_ondevice_assets_compressed_and_cached(live_server: str) -> None:
    gz = {"accept-encoding": "gzip"}
    with httpx.Client(base_url=live_server) as c:
        page = c.get("/", headers=gz)
        assert page.status_code == 200
        assert page.headers.get("content-encoding") == "gzip", page.headers
        assert page.headers["cache-control"] == "no-cache"
        csp = page.headers["content-security-policy"]
        assert "'wasm-unsafe-eval'" in csp and "'unsafe-eval'" not in csp.replace("'wasm-unsafe-eval'", ""), csp
        sw = c.get("/sw.js", headers=gz)
        assert sw.status_code == 200 and "javascript" in sw.headers["content-type"], sw.headers
        assert sw.headers["cache-control"] == "no-cache"
        wasm = c.get("/vendor/onnxruntime-web-1.30.0/ort-wasm-simd-threaded.wasm", headers=gz)
        assert wasm.status_code == 200
        assert wasm.headers["content-type"] == "application/wasm"
        assert wasm.headers.get("content-encoding") == "gzip", wasm.headers
        assert "max-age=31536000" in wasm.headers["cache-control"]
        assert wasm.content[:4] == b"\0asm"  # httpx decompressed it
        url = c.get("/api/config").json()["model_url"]
        model = c.get("/" + url, headers=gz)
        assert model.status_code == 200 and model.headers.get("content-encoding") == "gzip", model.headers
        assert "immutable" in model.headers["cache-control"]
        # (the gzip variant's ETag is the file's with -gz: a validator of its own)
        assert (hashlib.sha256(model.content).hexdigest()[:16] == model.headers["etag"].strip('"').removesuffix("-gz")
                == url.split("v=")[1])
        again = c.get("/" + url, headers={"if-none-match": model.headers["etag"]})
        assert again.status_code == 304, again.status_code
        unversioned = c.get("/api/model.onnx")
        assert unversioned.headers["cache-control"] == "no-cache"
        predict_answer = c.post("/api/predict", files={"image": ("d.png", b"x", "image/png")}, headers=gz)
        assert "content-encoding" not in predict_answer.headers  # latency-bound answers stay plain


def test_step_3c_sheet_edges_parity(browser, live_server: str, records: list[dict], monkeypatch) -> None:
    """preprocess.js's step 3c (sheet edges and the desk) against inkmap.border_regions on random
    masks, and the whole toMnist on phone photos of a sheet on a desk, at its corners or all round
    it, and with a shadow's edge across it (step 3d's two levels; PNG: one decoding both ways)."""
    from photo_support import desk_photo

    from digitpad import inkmap
    from digitpad.paper import in_shadow
    from digitpad.preprocess import preprocess_bytes

    rng = np.random.default_rng(3)
    masks = []
    for _ in range(40):
        h, w = (int(v) for v in rng.integers(3, 60, 2))
        m = rng.random((h, w)) < rng.uniform(0.2, 0.8)
        m[: int(rng.integers(0, 3)), :] = True  # often a band along an edge
        masks.append(m)
    photos = [desk_photo(r, desk=desk, size=(750, 1000), frac=0.1, seed=i, fmt="PNG", grow=grow)
              for i, r in enumerate(records[::1000][:3]) for desk in ((60, 55, 50), (235, 235, 240))
              for grow in (1.02, 0.8)]  # (0.8: the desk all round the sheet, step 3b's ring is no paper)
    photos += [in_shadow(desk_photo(r, desk=None, size=(750, 1000), frac=0.15, seed=i, fmt="PNG"), 0.5, "PNG")
               for i, r in enumerate(records[500::1000][:3])]
    context, page, errors = _new_page(browser, live_server)
    try:
        page.goto("/")
        got = page.evaluate("""async (masks) => {
          const { borderRegions } = await import('/preprocess.js');
          return masks.map(([h, w, bits]) => Array.from(borderRegions(Uint8Array.from(bits), h, w)));
        }""", [[m.shape[0], m.shape[1], m.ravel().astype(int).tolist()] for m in masks])
        images = page.evaluate(PAGE_READ, [base64.b64encode(p).decode() for p in photos])
    finally:
        context.close()
    for m, js in zip(masks, got, strict=True):
        assert np.array_equal(np.array(js, bool).reshape(m.shape), inkmap.border_regions(m)), m.shape
    assert any(inkmap.border_regions(m).any() for m in masks)
    levels = []  # whether step 3d found two levels, each time the Python side asked
    two_levels = inkmap.two_levels
    monkeypatch.setattr(inkmap, "two_levels", lambda *a: levels.append(two_levels(*a) is not None) or two_levels(*a))
    for png, js in zip(photos, images, strict=True):
        pre = preprocess_bytes(png)
        assert js["empty"] == pre.empty is False
        assert np.array_equal(np.array(js["image"], np.uint8).reshape(28, 28), pre.image)
    assert sum(levels) >= 3, levels  # (the shadows: both twins ran step 3d)
    assert errors == [], errors


def test_js_constants_are_the_python_ones(live_server: str) -> None:
    """preprocess.js declares the preprocessing constants again: they must be the Python ones."""
    import re

    from digitpad import fit28, inkmap, preprocess

    js = httpx.get(live_server + "/preprocess.js").text
    declared = dict(re.findall(r"^export const ([A-Z_]+) = ([0-9.]+);", js, flags=re.M))
    python = {**fit28.CONSTANTS, "WORK_SIDE": preprocess.WORK_SIDE, "MIN_INK_PIXELS": preprocess.MIN_INK_PIXELS,
              "MIN_INK_SHARE": preprocess.MIN_INK_SHARE, "EDGE_RUN": inkmap.EDGE_RUN,
              "RING_NOT_PAPER": inkmap.RING_NOT_PAPER, "SHADOW_OPEN": inkmap.SHADOW_OPEN,
              "SHADOW_SHARE": inkmap.SHADOW_SHARE, "SHADOW_LIT": inkmap.SHADOW_LIT, "SHADOW_STEP": inkmap.SHADOW_STEP,
              "SHADOW_KEEPS": inkmap.SHADOW_KEEPS, "SHADOW_FALLS": inkmap.SHADOW_FALLS}
    assert {k: float(v) for k, v in declared.items()} == {k: float(v) for k, v in python.items()}


# ------------------------------------------------------------------ what the service worker keeps (issue 19)


def _device_visit(page, url: str) -> str:
    """One visit in on-device mode: the service worker controls the page and holds the model."""
    page.goto(url + "/")
    page.get_by_test_id("mode-device").check()
    page.wait_for_function("() => document.getElementById('where').textContent.includes('ready')", timeout=60_000)
    page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=60_000)
    model_url = httpx.get(url + "/api/config").json()["model_url"]
    page.wait_for_function("(u) => caches.match(u).then((r) => !!r)", arg=model_url, timeout=60_000)
    return model_url


# Runs in the page: every URL held in Cache Storage.
CACHED_URLS = """async () => {
  const urls = [];
  for (const name of await caches.keys()) {
    for (const r of await (await caches.open(name)).keys()) urls.push(new URL(r.url).pathname + new URL(r.url).search);
  }
  return urls;
}"""

# Runs in the page: (path, headers) -> status, or "failed" when the fetch rejects (offline).
FETCH_STATUS = """async ([path, headers]) => {
  try { return (await fetch(path, { headers })).status; } catch (e) { return 'failed'; }
}"""


def test_service_worker_keeps_no_admin_answer_and_no_upload(browser, server_process, tmp_path: Path,
                                                              records: list[dict]) -> None:
    """The admin listing and a user's upload, fetched with the token while the service worker
    controls the page, are not in its cache and do not come back offline (nor /docs or the spec)."""
    from digitpad.pendigits import STYLES, render

    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    context, page, errors = _new_page(browser)
    try:
        with server_process(tmp_path, env={"DIGITPAD_ADMIN_TOKEN": ADMIN_TOKEN}) as server:
            png = render(records[0], STYLES["canvas-280"])
            fid = httpx.post(server.url + "/api/feedback", files={"image": ("d.png", png, "image/png")},
                             data={"label": str(records[0]["label"])}).json()["id"]
            _device_visit(page, server.url)
            private = ["/api/feedback", f"/api/feedback/{fid}/image", f"/api/feedback/{fid}/image?size=28"]
            for path in private:
                assert page.evaluate(FETCH_STATUS, [path, auth]) == 200, path
            for path in ("/docs", "/openapi.json", "/healthz"):
                assert page.evaluate(FETCH_STATUS, [path, {}]) == 200, path
            cached = page.evaluate(CACHED_URLS)
        assert not [u for u in cached if u.startswith(("/api/feedback", "/docs", "/openapi.json", "/healthz"))], cached
        assert "/api/config" in cached and any(u.startswith("/api/model.onnx?v=") for u in cached), cached
        context.set_offline(True)  # (and the server is stopped)
        for path in [*private, "/docs", "/openapi.json"]:
            assert page.evaluate(FETCH_STATUS, [path, {}]) == "failed", f"{path} came back offline"
            assert page.evaluate(FETCH_STATUS, [path, auth]) == "failed", f"{path} came back offline"
        assert page.evaluate(FETCH_STATUS, ["/", {}]) == 200  # the page itself does
    finally:
        context.close()
    assert [e for e in errors if "ERR_INTERNET_DISCONNECTED" not in e and "Failed to" not in e] == [], errors


def test_the_device_reads_the_metadata_from_the_model_it_runs(browser, live_server: str) -> None:
    """Weights and description are one unit: even when /api/model answers another model's
    metadata (a replica mid-deploy, a stale cache), the device runs the served file under that
    file's own metadata."""
    import json

    from digitpad.artifact import float_model_path
    from digitpad.predict import Predictor

    served = httpx.get(live_server + "/api/model").json()
    other = Predictor(float_model_path()).metadata  # the float model's description
    assert other["version"] != served["version"]
    context, page, errors = _new_page(browser, live_server)
    try:
        context.route("**/api/model", lambda route: route.fulfill(
            status=200, content_type="application/json", body=json.dumps(other)))
        page.goto("/")
        got = page.evaluate("""async () => {
          const { loadDevice } = await import('/ondevice.js');
          const device = await loadDevice();
          return device.metadata;
        }""")
    finally:
        context.close()
    assert got == served, (got.get("version"), served["version"])
    assert errors == [], errors


def test_modelfile_js_reads_what_the_predictor_reads(browser, live_server: str) -> None:
    """modelfile.js (protobuf by hand) gives the metadata ONNX Runtime gives, for both shipped models."""
    from digitpad.artifact import default_model_path, float_model_path
    from digitpad.predict import Predictor

    context, page, errors = _new_page(browser, live_server)
    try:
        page.goto("/")
        for path in (default_model_path(), float_model_path()):
            got = page.evaluate("""async (b64) => {
              const { modelMetadata } = await import('/modelfile.js');
              return modelMetadata(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)));
            }""", base64.b64encode(path.read_bytes()).decode())
            assert got == Predictor(path).metadata, path.name
        bad = page.evaluate("""async () => {
          const { modelMetadata } = await import('/modelfile.js');
          try { modelMetadata(new Uint8Array([0x0a, 0xff, 0xff, 0x03])); return 'read'; } catch (e) { return e.message; }
        }""")
        assert "not an ONNX file" in bad, bad
    finally:
        context.close()
    assert errors == [], errors


def test_service_worker_allow_list_is_the_page() -> None:
    """Every file the page is made of is on sw.js's list (so it works offline), and nothing else
    of the package is: a new module must be added there on purpose."""
    import re

    from digitpad.web.static import STATIC_DIR

    sw = (STATIC_DIR / "sw.js").read_text()
    listed = set(re.findall(r'"([^"]+)"', sw.split("const PAGE = [", 1)[1].split("];", 1)[0]))
    files = {p.name for p in STATIC_DIR.iterdir() if p.is_file() and p.name != "sw.js"}
    assert listed - {"./", "api/config"} == files, (listed, files)

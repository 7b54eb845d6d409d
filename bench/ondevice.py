"""On-device mode, measured from a real Chromium against a real server (uvicorn subprocess).

Prints: the first visit's transfer size (compressed, as sent over the wire) and the time to the
first on-device reading, then per-reading latency on the device vs via the server, as the page
sees it (median and p90 over N pendigits drawings rendered like the page's canvas).

    DIGITPAD_PENDIGITS=/path/trajectories-dev.jsonl.gz .venv/bin/python bench/ondevice.py [--n 100]
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import sys
import time

from digitpad.harness import ServerProcess

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]

# In the page: each PNG read both ways, timed like app.js does (performance.now around the call).
# Device: decode -> preprocess.js -> onnxruntime-web. Server: POST the PNG to /api/predict.
READ_BOTH = """async (pngs) => {
  const { loadDevice } = await import('/ondevice.js');
  const device = await loadDevice();
  const out = [];
  for (const b64 of pngs) {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const blob = new Blob([bytes], { type: 'image/png' });
    let t = performance.now();
    const bitmap = await createImageBitmap(blob, { premultiplyAlpha: 'none', colorSpaceConversion: 'none' });
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const ctx = canvas.getContext('2d');
    ctx.drawImage(bitmap, 0, 0);
    const r = await device.predictImageData(ctx.getImageData(0, 0, bitmap.width, bitmap.height));
    const dev = performance.now() - t;
    const form = new FormData();
    form.append('image', blob, 'pad.png');
    t = performance.now();
    const s = await (await fetch('/api/predict', { method: 'POST', body: form })).json();
    const srv = performance.now() - t;
    out.push({ dev, srv, same: r.digit === s.digit, pre: r.timing_ms.preprocess, inf: r.timing_ms.inference });
  }
  return out;
}"""


def transfer_sizes(url: str) -> dict[str, int]:
    """Bytes on the wire (gzip, as a browser asks) for what a first on-device visit fetches:
    the files sw.js precaches plus the versioned model."""
    import re

    import httpx

    with httpx.Client(base_url=url, headers={"accept-encoding": "gzip"}) as c:
        sw = c.get("/sw.js").text
        ort_dir = re.search(r'ORT_DIR = "([^"]+)"', sw).group(1)
        def listed(name: str) -> list[str]:  # the strings of sw.js's `const NAME = [...]`
            block = sw[sw.index(f"const {name} = ["):]
            return re.findall(r'"([^"]+)"', block[:block.index("];")])

        names = [n for n in listed("PAGE") if not n.endswith("/")] + [n for n in listed("RUNTIME") if n != ort_dir]
        paths = ["/" + (ort_dir + n if n.startswith("ort") else n).lstrip("./") for n in names]
        paths += ["/sw.js", "/" + c.get("/api/config").json()["model_url"]]
        sizes: dict[str, int] = {}
        for path in paths:
            with c.stream("GET", path) as r:
                r.read()
                kind = ".wasm" if path.endswith(".wasm") else "model" if "model.onnx" in path else "other"
                sizes[kind] = sizes.get(kind, 0) + r.num_bytes_downloaded
    return sizes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100, help="drawings to time each way")
    ap.add_argument("--pendigits", default=os.environ.get("DIGITPAD_PENDIGITS"), help="trajectories .jsonl.gz")
    args = ap.parse_args()
    if not args.pendigits:
        sys.exit("set DIGITPAD_PENDIGITS or pass --pendigits")
    from playwright.sync_api import sync_playwright

    from digitpad.pendigits import STYLES, load, render

    records = load(args.pendigits)
    step = max(1, len(records) // args.n)
    pngs = [base64.b64encode(render(r, STYLES["transparent-280"])).decode() for r in records[::step][:args.n]]

    with ServerProcess() as server, sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        context = browser.new_context(base_url=server.url)
        page = context.new_page()
        # First visit: the page, then on-device mode is chosen; time until the first device reading.
        t0 = time.perf_counter()
        page.goto("/")
        page.get_by_test_id("mode-device").check()
        page.wait_for_function("() => document.getElementById('where').textContent.includes('ready')",
                               timeout=120_000)
        ready_s = time.perf_counter() - t0
        load_ms = page.evaluate("async () => (await (await import('/ondevice.js')).loadDevice()).loadMs")
        page.evaluate(READ_BOTH, pngs[:1])
        first_s = time.perf_counter() - t0
        page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=120_000)
        page.wait_for_timeout(1000)  # let the service worker's precache finish (counted apart)
        by_kind = transfer_sizes(server.url)
        total = sum(by_kind.values())
        page.evaluate(READ_BOTH, pngs[:5])  # warm-up
        res = []
        for i in range(0, len(pngs), 25):
            res += page.evaluate(READ_BOTH, pngs[i:i + 25])
        browser.close()

    def stats(xs: list[float]) -> str:
        xs = sorted(xs)
        return f"median {statistics.median(xs):6.2f} ms   p90 {xs[int(0.9 * (len(xs) - 1))]:6.2f} ms"

    cores = os.cpu_count()
    load1 = os.getloadavg()[0]
    print(f"machine: {cores} cores, load average {load1:.1f} (shared; figures are noisy when loaded)")
    print(f"first visit, bytes over the wire (gzip): {total / 1e6:.2f} MB "
          f"(wasm {by_kind.get('.wasm', 0) / 1e6:.2f} MB, model {by_kind.get('model', 0) / 1e6:.2f} MB, "
          f"page + runtime JS + API {by_kind.get('other', 0) / 1e6:.2f} MB)")
    print(f"first visit: runtime + model loaded in {load_ms:.0f} ms; first on-device reading "
          f"{first_s:.2f} s after navigation (model ready after {ready_s:.2f} s)")
    print(f"per reading, {len(res)} drawings (280x280 canvas PNGs), timed in the page:")
    print(f"  on this device: {stats([r['dev'] for r in res])}   "
          f"(preprocess {statistics.median(r['pre'] for r in res):.2f} ms, "
          f"model {statistics.median(r['inf'] for r in res):.2f} ms)")
    print(f"  via the server: {stats([r['srv'] for r in res])}   (POST /api/predict round trip, localhost)")
    print(f"  same digit both ways: {sum(r['same'] for r in res)}/{len(res)}")


if __name__ == "__main__":
    main()

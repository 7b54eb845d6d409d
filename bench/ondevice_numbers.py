"""Whole numbers read on the device, timed from a real Chromium against a real server.

Numbers composed from held-out writers (``compose.load_hands(..., split="test")``: integers,
years, prices, dates, phone numbers...) in each layout, drawn like the page's canvas, are read in
the page both ways: on this device (``numberreading.js`` -> ``numbers.js`` -> onnxruntime-web)
and via ``POST /api/read`` (a localhost round trip). Prints the per-number time each way by
layout (median and p90), the images the device's model read per number, and how often the two
strings agree.

    DIGITPAD_UNIPEN=... DIGITPAD_PENDIGITS=... .venv/bin/python bench/ondevice_numbers.py [--n 60]
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import statistics
import sys

from digitpad.harness import ServerProcess

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]

# In the page: each PNG read on the device and through /api/read, timed like app.js (performance.now).
READ_BOTH = """async (pngs) => {
  const { loadDevice } = await import('/ondevice.js');
  const { readNumberOnDevice } = await import('/numberreading.js');
  const device = await loadDevice();
  const config = await (await fetch('/api/config')).json();
  const out = [];
  for (const b64 of pngs) {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const blob = new Blob([bytes], { type: 'image/png' });
    let t = performance.now();
    const bitmap = await createImageBitmap(blob, { premultiplyAlpha: 'none', colorSpaceConversion: 'none' });
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const ctx = canvas.getContext('2d');
    ctx.drawImage(bitmap, 0, 0);
    const r = await readNumberOnDevice(device, ctx.getImageData(0, 0, bitmap.width, bitmap.height), config);
    const dev = performance.now() - t;
    const form = new FormData();
    form.append('image', blob, 'pad.png');
    t = performance.now();
    const s = await (await fetch('/api/read', { method: 'POST', body: form })).json();
    const srv = performance.now() - t;
    out.push({ dev, srv, same: r.text === s.text, images: r.candidates });
  }
  return out;
}"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=60, help="numbers per layout")
    ap.add_argument("--unipen", default=os.environ.get("DIGITPAD_UNIPEN"), help="the UNIPEN folder")
    ap.add_argument("--pendigits", default=os.environ.get("DIGITPAD_PENDIGITS"), help="trajectories .jsonl.gz")
    args = ap.parse_args()
    if not args.unipen or not args.pendigits:
        sys.exit("set DIGITPAD_UNIPEN and DIGITPAD_PENDIGITS (or pass --unipen and --pendigits)")
    from playwright.sync_api import sync_playwright

    from digitpad import compose

    hands = compose.load_hands(args.unipen, args.pendigits, split="test")
    r = random.Random(0)
    pngs: dict[str, list[str]] = {}
    for layout in compose.LAYOUTS:
        pngs[layout] = []
        for i in range(args.n):
            hand = hands[i % len(hands)]
            text = compose.random_text(r, hand, r.choice(list(compose.TEMPLATES))) or compose.random_text(r, hand, "year")
            png = compose.compose(hand, text, layout, "pad", seed=i).image
            pngs[layout].append(base64.b64encode(png).decode())

    res: dict[str, list[dict]] = {}
    with ServerProcess() as server, sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_context(base_url=server.url).new_page()
        page.goto("/")
        page.evaluate(READ_BOTH, pngs["spaced"][:3])  # warm-up: runtime, model and params loaded
        for layout, items in pngs.items():
            res[layout] = []
            for i in range(0, len(items), 20):
                res[layout] += page.evaluate(READ_BOTH, items[i:i + 20])
        browser.close()

    def stats(xs: list[float]) -> str:
        xs = sorted(xs)
        return f"median {statistics.median(xs):6.1f} ms  p90 {xs[int(0.9 * (len(xs) - 1))]:6.1f} ms"

    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} (shared; figures are noisy when loaded)")
    print("per number, timed in the page (composed numbers of held-out writers, canvas PNGs):")
    for layout, rows in res.items():
        print(f"  {layout:9s} on this device: {stats([x['dev'] for x in rows])}   "
              f"via /api/read: {stats([x['srv'] for x in rows])}   "
              f"images read {statistics.median(x['images'] for x in rows):.0f} (median)   "
              f"same text {sum(x['same'] for x in rows)}/{len(rows)}")


if __name__ == "__main__":
    main()

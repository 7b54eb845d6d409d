"""Held-out writers' real numbers replayed on the page in Chromium, against the API figure.

    .venv/bin/python bench/number_replay.py                  # the test writers' numbers, mouse
    .venv/bin/python bench/number_replay.py --how touch --split val

A real ``digitpad serve`` (the package's harness) and Debian's Chromium: each real UNIPEN number
(``numbers-dev``, vetted labels of ``bench/data/numbers-dev-vetted.json``) of the writers of one
split of ``handwriting.writer_splits`` is written on the page's pad as mouse (or touch) strokes,
its ink scaled to the pad as the browser tests do; the page's reading is taken from
``[data-testid=prediction]`` once it settles (spaces aside: the labels have none), and the pad
is cleared (Esc). The same numbers drawn as the page's canvas (``compose.render_record``,
scheme ``pad``: what ``bench/numbers_accuracy.py`` reports as "real pad") are posted to
``/api/read``: the "API figure". Prints both, their difference and how often they agree, and
one JSON line. The issue's target: the page within a point of the API.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import httpx

from digitpad import compose
from digitpad.harness import ServerProcess

sys.path.insert(0, str(Path(__file__).resolve().parent))
from page_replay import CHROMIUM_ARGS, page_reading, replay  # noqa: E402

VETTED = Path(__file__).resolve().parent / "data" / "numbers-dev-vetted.json"
VIEWPORT = {"width": 1000, "height": 720}  # a desktop's wide pad (tests/test_number_page.py's)


def vetted(records: list[dict]) -> list[tuple[dict, str]]:
    """(record, label) of the numbers whose labels stand after vetting."""
    vet = json.loads(VETTED.read_text())
    out = []
    for rec in records:
        if rec["id"] not in vet["exclude"]:
            out.append((rec, vet["correct"].get(rec["id"], {}).get("label", rec["label"]).replace(" ", "")))
    return out


def write(page, record: dict, how: str) -> None:  # noqa: ANN001 (a Playwright page)
    """The number's strokes (tablet units, y down), its ink box scaled into the pad and centred."""
    box = page.get_by_test_id("pad").bounding_box()
    pts = [p for s in record["strokes"] for p in s]
    x_lo, y_lo = min(p[0] for p in pts), min(p[1] for p in pts)
    w, h = max(p[0] for p in pts) - x_lo, max(p[1] for p in pts) - y_lo
    k = min(0.9 * box["width"] / max(w, 1e-6), 0.85 * box["height"] / max(h, 1e-6))
    x0, y0 = box["x"] + (box["width"] - k * w) / 2, box["y"] + (box["height"] - k * h) / 2
    replay(page, [[(x0 + k * (x - x_lo), y0 + k * (y - y_lo)) for x, y in stroke] for stroke in record["strokes"]],
           how)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--how", choices=["mouse", "touch"], default="mouse")
    ap.add_argument("--split", choices=["val", "test"], default="test", help="whose numbers")
    ap.add_argument("--pendigits", default=os.environ.get("DIGITPAD_PENDIGITS"), help="pendigits .jsonl.gz")
    ap.add_argument("--unipen", default=os.environ.get("DIGITPAD_UNIPEN"), help="the UNIPEN folder")
    ap.add_argument("--json", default=None, help="also write the JSON line here")
    args = ap.parse_args()
    if not args.pendigits or not args.unipen:
        sys.exit("pass --pendigits and --unipen (or set DIGITPAD_PENDIGITS and DIGITPAD_UNIPEN)")
    from playwright.sync_api import sync_playwright

    numbers = vetted(compose.load_records(args.unipen, args.pendigits, split=args.split)["numbers"])
    result: dict = {"date": time.strftime("%Y-%m-%d %H:%M"), "how": args.how, "split": args.split}
    page_right = api_right = agree = 0
    misses = []
    t0 = time.perf_counter()
    with ServerProcess(env={"DIGITPAD_FEEDBACK": "false"}) as server, sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        context = browser.new_context(base_url=server.url, viewport=VIEWPORT, has_touch=args.how == "touch")
        page = context.new_page()
        page.goto("/")
        page.wait_for_function("() => !document.getElementById('model-version').textContent.includes('loading')")
        result["model"] = httpx.get(server.url + "/api/model").json()["version"]
        for rec, label in numbers:
            write(page, rec, args.how)
            seen = page_reading(page).replace(" ", "")
            page.keyboard.press("Escape")
            page.wait_for_function("() => document.getElementById('result').dataset.state === 'empty'")
            api = httpx.post(server.url + "/api/read", files={
                "image": ("n.png", compose.render_record(rec, "pad"), "image/png")}).json()["text"].replace(" ", "")
            page_right += seen == label
            api_right += api == label
            agree += seen == api
            if seen != api:
                misses.append({"id": rec["id"], "label": label, "page": seen, "api": api})
        browser.close()
    n = len(numbers)
    result.update({"numbers": n, "writers": len({r["writer"] for r, _ in numbers}), "page_accuracy": page_right / n,
                   "api_accuracy": api_right / n, "difference_points": 100 * (page_right - api_right) / n,
                   "agreement": agree / n, "seconds": round(time.perf_counter() - t0, 1), "disagreements": misses})
    print(f"{n} real numbers by {result['writers']} {args.split} writers ({args.how}): page "
          f"{result['page_accuracy']:.2%}, API {result['api_accuracy']:.2%} ({result['difference_points']:+.2f} "
          f"points), same reading {result['agreement']:.2%} ({result['seconds']:.0f} s)")
    for m in misses:
        print(f"  {m['id']}: {m['label']!r} page {m['page']!r} API {m['api']!r}")
    line = json.dumps(result)
    print(line)
    if args.json:
        Path(args.json).write_text(line + "\n")


if __name__ == "__main__":
    main()

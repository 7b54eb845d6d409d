"""Held-out writers' real numbers replayed on the page in Chromium, against the API figure.

    .venv/bin/python bench/number_replay.py                  # the test writers' numbers, mouse
    .venv/bin/python bench/number_replay.py --how touch --split val

A real ``digitpad serve`` (the package's harness) and Debian's Chromium: each real UNIPEN number
(``numbers-dev``, vetted labels of ``bench/data/numbers-dev-vetted.json``) of the writers of one
split of ``handwriting.writer_splits`` is written on the page's pad as mouse (or touch) strokes,
its ink scaled to the pad as the browser tests do; the page's reading is taken from
``[data-testid=prediction]`` once it settles (spaces aside: the labels have none), and the pad
is cleared (Esc). The same numbers are posted to ``/api/read`` drawn as the page draws them
(``page_drawing``: the ink the size ``write`` makes it, the page's curve through the points,
its pen, margin and export resolution): the "API figure", so that the two differ only by what
the browser does (pointer events, its canvas, the export, the upload), not by the size or the
line the number is drawn with: a reading of a real number moves with those alone. Also
posted: the numbers drawn as ``compose.render_record`` draws them (scheme ``pad``, ink 100-170
px tall: what ``bench/numbers_accuracy.py`` reports as "real pad"), whose figure shows how
much a reading moves with the size alone (a real number's ink is written 200-240 px tall on
a desktop's pad). Prints the figures, the page's difference from the API and how often they
agree, and one JSON line. The issue's target: the page within a point of the API.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import httpx
import numpy as np

from digitpad import compose, paper, pendigits
from digitpad.harness import ServerProcess

sys.path.insert(0, str(Path(__file__).resolve().parent))
from page_replay import CHROMIUM_ARGS, page_reading, replay  # noqa: E402

VETTED = Path(__file__).resolve().parent / "data" / "numbers-dev-vetted.json"
VIEWPORT = {"width": 1000, "height": 720}  # a desktop's wide pad (tests/test_number_page.py's)
# The page's canvas export (static/pad.js): EXPORT_SIZE px per pad height, the pendigits 280
# canvas's pen (PEN_WIDTH = 16 / 280 pad heights), MARGIN pad heights kept around the ink.
EXPORT_SIZE = pendigits.STYLES["transparent-280"].canvas
PEN = pendigits.STYLES["transparent-280"].line_width
MARGIN = 0.15
FILL = (0.9, 0.85)  # write(): the ink's box fills this share of the pad's width or height


def vetted(records: list[dict]) -> list[tuple[dict, str]]:
    """(record, label) of the numbers whose labels stand after vetting."""
    vet = json.loads(VETTED.read_text())
    out = []
    for rec in records:
        if rec["id"] not in vet["exclude"]:
            out.append((rec, vet["correct"].get(rec["id"], {}).get("label", rec["label"]).replace(" ", "")))
    return out


def placed(record: dict, box: dict) -> list[np.ndarray]:
    """The number's strokes (tablet units, y down), its ink box scaled into the pad ``box``
    (CSS px: x, y, width, height) by FILL and centred: (n, 2) arrays of CSS px."""
    strokes = [np.asarray(s, np.float64).reshape(-1, 2) for s in record["strokes"] if len(s)]
    lo, hi = np.concatenate(strokes).min(axis=0), np.concatenate(strokes).max(axis=0)
    w, h = np.maximum(hi - lo, 1e-6)
    k = min(FILL[0] * box["width"] / w, FILL[1] * box["height"] / h)
    origin = np.array([box["x"] + (box["width"] - k * w) / 2, box["y"] + (box["height"] - k * h) / 2])
    return [origin + k * (s - lo) for s in strokes]


def write(page, record: dict, how: str) -> None:  # noqa: ANN001 (a Playwright page)
    """The number written on the page's pad as ``placed`` puts it."""
    replay(page, [[(float(x), float(y)) for x, y in s] for s in placed(record, page.get_by_test_id("pad").bounding_box())],
           how)


def page_curve(p: np.ndarray, per: int = 8) -> np.ndarray:
    """The line static/pad.js's ``drawStrokes`` draws through the points ``p`` (n, 2): quadratic
    curves through the midpoints (each point a control point), straight to the last one;
    ``per`` points on each curve. -> (m, 2)"""
    if len(p) < 3:
        return p
    t = np.linspace(0, 1, per + 1)[1:, None]  # (per, 1)
    out, start = [p[:1]], p[0]
    for c, nxt in zip(p[1:-1], p[2:]):
        end = (c + nxt) / 2
        out.append((1 - t) ** 2 * start + 2 * (1 - t) * t * c + t ** 2 * end)
        start = end
    out.append(p[-1:])
    return np.concatenate(out)


def page_drawing(record: dict, box: dict) -> bytes:
    """The PNG the page exports after ``write(record)`` on the pad ``box``, drawn here: the pad
    at EXPORT_SIZE px per pad height, the page's curve through the points, its pen and MARGIN
    around the ink, within the pad."""
    e = EXPORT_SIZE / box["height"]  # export px per CSS px
    strokes = [page_curve((s - [box["x"], box["y"]]) * e) for s in placed(record, box)]  # export px, pad's corner
    pts = np.concatenate(strokes)
    lo = np.maximum(0, np.floor(pts.min(axis=0) - PEN / 2 - MARGIN * EXPORT_SIZE))
    hi = np.minimum([box["width"] * e, EXPORT_SIZE], np.ceil(pts.max(axis=0) + PEN / 2 + MARGIN * EXPORT_SIZE))
    (W, H) = (hi - lo).astype(int)
    cov = pendigits.stroke_coverage([s - lo for s in strokes], int(W), int(H), PEN)
    return paper.encode(cov, paper.SCHEMES["pad"], 0, record["id"])


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
    page_right = api_right = ref_right = agree = 0
    misses = []
    t0 = time.perf_counter()
    with ServerProcess(env={"DIGITPAD_FEEDBACK": "false"}) as server, sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        context = browser.new_context(base_url=server.url, viewport=VIEWPORT, has_touch=args.how == "touch")
        page = context.new_page()
        page.goto("/")
        page.wait_for_function("() => !document.getElementById('model-version').textContent.includes('loading')")
        result["model"] = httpx.get(server.url + "/api/model").json()["version"]
        pad = page.get_by_test_id("pad").bounding_box()

        def api_reads(png: bytes) -> str:
            return httpx.post(server.url + "/api/read", files={"image": ("n.png", png, "image/png")}
                              ).json()["text"].replace(" ", "")

        for rec, label in numbers:
            write(page, rec, args.how)
            seen = page_reading(page).replace(" ", "")
            page.keyboard.press("Escape")
            page.wait_for_function("() => document.getElementById('result').dataset.state === 'empty'")
            api, ref = api_reads(page_drawing(rec, pad)), api_reads(compose.render_record(rec, "pad"))
            page_right += seen == label
            api_right += api == label
            ref_right += ref == label
            agree += seen == api
            if seen != api:
                misses.append({"id": rec["id"], "label": label, "page": seen, "api": api})
        browser.close()
    n = len(numbers)
    result.update({"numbers": n, "writers": len({r["writer"] for r, _ in numbers}), "page_accuracy": page_right / n,
                   "api_accuracy": api_right / n, "difference_points": 100 * (page_right - api_right) / n,
                   "api_accuracy_canvas_scheme": ref_right / n,
                   "agreement": agree / n, "seconds": round(time.perf_counter() - t0, 1), "disagreements": misses})
    print(f"{n} real numbers by {result['writers']} {args.split} writers ({args.how}): page "
          f"{result['page_accuracy']:.2%}, API {result['api_accuracy']:.2%} ({result['difference_points']:+.2f} "
          f"points), same reading {result['agreement']:.2%} ({result['seconds']:.0f} s); API on the same "
          f"numbers drawn smaller (render_record, scheme pad) {result['api_accuracy_canvas_scheme']:.2%}")
    for m in misses:
        print(f"  {m['id']}: {m['label']!r} page {m['page']!r} API {m['api']!r}")
    line = json.dumps(result)
    print(line)
    if args.json:
        Path(args.json).write_text(line + "\n")


if __name__ == "__main__":
    main()

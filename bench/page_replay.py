"""Held-out writers' real pen strokes replayed on the page in Chromium, against the API figure.

    .venv/bin/python bench/page_replay.py                    # 300 drawings of each source, mouse
    .venv/bin/python bench/page_replay.py --n 100 --how touch

A real ``digitpad serve`` (the package's harness) and Debian's Chromium: each drawing of the TEST
writers of ``handwriting.writer_splits`` (pendigits and UNIPEN digits, spread over writers and
digits) is drawn on the pad as mouse (or touch) strokes, the page's reading is taken from
``[data-testid=prediction]`` once it settles, and the pad is cleared (Esc). The same drawings,
rendered as the page's 280x280 transparent canvas, are posted to ``/api/read``, the endpoint the
page itself reads with (the whole number): the "API figure". Page and API then differ only where
the browser's canvas draws a stroke differently from ``pendigits.render`` (quadratic curves
through the points against straight segments). Prints accuracy both ways per source, their
difference, how often the two agree and the drawings where they do not, and one JSON line.

For reference it also posts the render to ``/api/predict`` (one digit, no number reader) and
prints that accuracy counting its ``digit`` whatever its status. That is not what the page shows:
where ``/api/predict`` answers ``not_digit`` the page shows ``?`` (or the number character the
reader saw, such as ``/`` for a bare stroke), and a digit drawn in two strokes can be read as two
characters (a 5 whose top bar stands apart: ``15``). The page against ``/api/predict`` mixes
those reader differences into the drawing's.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import httpx

from digitpad import handwriting, pendigits
from digitpad.harness import ServerProcess

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]


def held_out(source: str, n: int, data: dict) -> list[dict]:
    """``n`` drawings of the test writers of ``source``, spread evenly over the file."""
    records = handwriting.load_source(source, **data)
    split = handwriting.writer_splits(**data)
    test = [r for r in records if split.get(r["writer"]) == "test"]
    step = max(1, len(test) // n)
    return test[::step][:n]


def replay(page, strokes: list[list[tuple[float, float]]], how: str) -> None:  # noqa: ANN001 (a Playwright page)
    """Strokes in page coordinates written on the pad with the mouse or as touch events."""
    cdp = page.context.new_cdp_session(page) if how == "touch" else None
    for pts in strokes:
        if not pts:
            continue
        if cdp is None:
            page.mouse.move(*pts[0])
            page.mouse.down()
            for p in pts[1:]:
                page.mouse.move(*p)
            page.mouse.up()
            continue
        for i, (x, y) in enumerate(pts):
            cdp.send("Input.dispatchTouchEvent", {"type": "touchStart" if i == 0 else "touchMove",
                                                  "touchPoints": [{"x": x, "y": y, "id": 1}]})
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    if cdp is not None:
        cdp.detach()


def draw(page, record: dict, how: str) -> None:  # noqa: ANN001
    """The record's 280 canvas as a square as tall as the (wide) pad, in its middle."""
    box = page.get_by_test_id("pad").bounding_box()
    canvas = record.get("canvas", 280)
    side = min(box["width"], box["height"])
    x0, y0 = box["x"] + (box["width"] - side) / 2, box["y"] + (box["height"] - side) / 2
    replay(page, [[(x0 + x / canvas * side, y0 + y / canvas * side) for x, y in stroke]
                  for stroke in record["strokes"]], how)


def page_reading(page) -> str:
    page.wait_for_function("() => document.getElementById('where').dataset.where", timeout=20_000)
    page.wait_for_selector("#result[aria-busy='false']", timeout=20_000)
    return (page.get_by_test_id("prediction").text_content() or "").strip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=300, help="drawings per source")
    ap.add_argument("--how", choices=["mouse", "touch"], default="mouse")
    ap.add_argument("--sources", default="pendigits,unipen-digits")
    ap.add_argument("--pendigits", default=os.environ.get("DIGITPAD_PENDIGITS"), help="pendigits .jsonl.gz")
    ap.add_argument("--unipen", default=os.environ.get("DIGITPAD_UNIPEN"), help="the UNIPEN folder")
    ap.add_argument("--json", default=None, help="also write the JSON line here")
    args = ap.parse_args()
    if not args.pendigits or not args.unipen:
        sys.exit("pass --pendigits and --unipen (or set DIGITPAD_PENDIGITS and DIGITPAD_UNIPEN)")
    data = {"pendigits_path": args.pendigits, "unipen_dir": args.unipen}
    from playwright.sync_api import sync_playwright

    style = pendigits.STYLES["transparent-280"]
    result: dict = {"date": time.strftime("%Y-%m-%d %H:%M"), "how": args.how, "sources": {}}
    with ServerProcess(env={"DIGITPAD_FEEDBACK": "false"}) as server, sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        context = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 800},
                                      has_touch=args.how == "touch")
        page = context.new_page()
        page.goto("/")
        page.wait_for_function("() => !document.getElementById('model-version').textContent.includes('loading')")
        result["model"] = httpx.get(server.url + "/api/model").json()["version"]
        for source in args.sources.split(","):
            records = held_out(source, args.n, data)
            page_right = api_right = agree = single_right = single_not_digit = 0
            differ = []
            t0 = time.perf_counter()
            for r in records:
                draw(page, r, args.how)
                seen = page_reading(page)
                page.keyboard.press("Escape")
                png = pendigits.render(r, style)
                read = httpx.post(server.url + "/api/read", files={"image": ("d.png", png, "image/png")}).json()
                single = httpx.post(server.url + "/api/predict", files={"image": ("d.png", png, "image/png")}).json()
                label = str(r["label"])
                page_right += seen == label
                api_right += read["text"] == label
                agree += seen == read["text"]
                single_right += str(single["digit"]) == label
                single_not_digit += single["status"] == "not_digit"
                if seen != read["text"]:
                    differ.append({"id": r["id"], "label": label, "page": seen, "api": read["text"],
                                   "predict": f"{single['digit']} {single['status']}"})
            n = len(records)
            row = {"drawings": n, "writers": len({r["writer"] for r in records}), "page_accuracy": page_right / n,
                   "api_accuracy": api_right / n, "difference_points": 100 * (page_right - api_right) / n,
                   "agreement": agree / n, "predict_accuracy": single_right / n,
                   "predict_not_digit": single_not_digit, "differ": differ,
                   "seconds": round(time.perf_counter() - t0, 1)}
            result["sources"][source] = row
            print(f"{source:>15}: {n} drawings by {row['writers']} held-out writers; page {row['page_accuracy']:.2%}, "
                  f"API {row['api_accuracy']:.2%} ({row['difference_points']:+.2f} points), same reading "
                  f"{row['agreement']:.2%} ({row['seconds']:.0f} s); /api/predict's digit {row['predict_accuracy']:.2%} "
                  f"({single_not_digit} of them answered not_digit)")
            for d in differ:
                print(f"{'':>17}{d['id']} ({d['label']}): page {d['page']!r}, API {d['api']!r}, /api/predict {d['predict']}")
        browser.close()
    line = json.dumps(result)
    print(line)
    if args.json:
        with open(args.json, "w") as f:
            f.write(line + "\n")


if __name__ == "__main__":
    if not os.path.exists("/usr/bin/chromium"):
        sys.exit("needs Debian's Chromium at /usr/bin/chromium (apt-get install -y chromium)")
    main()

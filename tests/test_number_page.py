"""Whole numbers on the page in a real Chromium against a real server: numbers composed from the
TEST writers' own characters (``digitpad.compose``) replayed as mouse and touch strokes on the
wide pad, read live; the page shows the string the API reads from the page's own drawing, one
box per character over the ink, and a character's bars and 28x28 when it is tapped. Also the
README picture of the page reading a number.

    DIGITPAD_PENDIGITS=... DIGITPAD_UNIPEN=... .venv/bin/python -m pytest tests/test_number_page.py -q
"""

from __future__ import annotations

import base64
import io
import os
import random
import shutil
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from digitpad import compose

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
import number_replay  # noqa: E402 (bench/: the replay whose drawing of the page is checked here)

DESKTOP = {"width": 1000, "height": 720}
PHONE = {"width": 390, "height": 800}


@pytest.fixture(scope="module")
def written(unipen_dir: Path, pendigits_path: Path, live_server: str) -> list[compose.Sample]:
    """Spaced numbers of test writers (a year, a phone number, a price) that the API reads right
    from their composed image: what is checked here is the page's path from strokes to the
    shown string, not the reader's accuracy (bench/numbers_accuracy.py measures that)."""
    hands = compose.load_hands(unipen_dir, pendigits_path, split="test")
    out: list[compose.Sample] = []
    r = random.Random(5)
    for template in ["year", "phone", "price", "integer", "date"]:
        for attempt in range(30):
            hand = r.choice(hands)
            text = compose.random_text(r, hand, template)
            if not text:
                continue
            s = compose.compose(hand, text, "spaced", "pad", seed=attempt)
            api = httpx.post(live_server + "/api/read", files={"image": ("n.png", s.image, "image/png")}).json()
            if api["text"] == text:
                out.append(s)
                break
    assert len(out) >= 4, [s.text for s in out]
    return out


# Keeps the image of the page's last POST /api/read (Playwright's request record holds no
# multipart blob), as base64, for the test to send to the server itself.
KEEP_SENT = """
const fetch0 = window.fetch;
window.fetch = async (input, init) => {
  const url = typeof input === "string" ? input : input.url;
  if (url.endsWith("api/read") && init && init.body instanceof FormData) {
    const f = init.body.get("image");
    const bytes = new Uint8Array(await f.arrayBuffer());
    let s = "";
    for (const b of bytes) s += String.fromCharCode(b);
    window.__lastRead = { type: f.type, b64: btoa(s) };
  }
  return fetch0(input, init);
};
"""


class NumberTab:
    def __init__(self, browser, url: str, viewport: dict, touch: bool = False) -> None:
        self.context = browser.new_context(base_url=url, viewport=viewport, has_touch=touch)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.add_init_script(KEEP_SENT)
        self.page.goto("/")
        self.page.wait_for_function("() => !document.getElementById('model-version').textContent.includes('loading')")

    def close(self) -> None:
        self.context.close()

    def points(self, sample: compose.Sample) -> list[list[tuple[float, float]]]:
        """The sample's strokes (image pixels) scaled into the pad, centred, keeping the aspect."""
        box = self.page.get_by_test_id("pad").bounding_box()
        w, h = sample.size
        k = min(0.9 * box["width"] / w, 0.85 * box["height"] / h)
        x0, y0 = box["x"] + (box["width"] - k * w) / 2, box["y"] + (box["height"] - k * h) / 2
        return [[(x0 + k * x, y0 + k * y) for x, y in stroke] for char in sample.strokes for stroke in char]

    def write(self, sample: compose.Sample, how: str) -> None:
        strokes = self.points(sample)
        if how == "mouse":
            for pts in strokes:
                self.page.mouse.move(*pts[0])
                self.page.mouse.down()
                for p in pts[1:]:
                    self.page.mouse.move(*p)
                self.page.mouse.up()
            return
        cdp = self.context.new_cdp_session(self.page)
        for pts in strokes:
            for i, (x, y) in enumerate(pts):
                cdp.send("Input.dispatchTouchEvent", {"type": "touchStart" if i == 0 else "touchMove",
                                                      "touchPoints": [{"x": x, "y": y, "id": 1, "radiusX": 4,
                                                                       "radiusY": 4, "force": 0.5}]})
            cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        cdp.detach()

    def shown(self) -> str:
        self.page.wait_for_selector("#result[aria-busy='false']", timeout=20_000)
        return (self.page.get_by_test_id("prediction").text_content() or "").strip()

    def last_read(self, url: str) -> dict:
        """The server's answer to the image of the page's last POST /api/read, sent again (the
        drawing the page cropped to its ink, as the page encoded it)."""
        sent = self.page.evaluate("() => window.__lastRead")
        r = httpx.post(url + "/api/read", files={"image": ("pad.png", base64.b64decode(sent["b64"]), sent["type"])})
        assert r.status_code == 200, r.text
        return r.json()


@pytest.mark.parametrize("how", ["mouse", "touch"])
def test_a_written_number_is_read_live_with_a_box_per_character(browser, live_server: str, written, how: str):
    t = NumberTab(browser, live_server, DESKTOP, touch=how == "touch")
    # Every number with the mouse; every other one with a finger (a touch point costs the browser
    # two frames: the path from strokes to string is the same, the input events are not).
    samples = written if how == "mouse" else written[1::2]
    try:
        right = 0
        for sample in samples:
            t.write(sample, how)
            seen = t.shown()
            api = t.last_read(live_server)
            # The page shows exactly what the server reads from the page's own drawing ...
            assert seen.replace(" ", "") == api["text"].replace(" ", ""), (sample.text, seen, api["text"])
            chars = api["text"].replace(" ", "")
            boxes = t.page.locator("[data-testid^=box-]")
            assert boxes.count() == len(chars) == t.page.locator("#prediction .char").count()
            pad = t.page.get_by_test_id("pad").bounding_box()
            for i in range(boxes.count()):
                b = boxes.nth(i).bounding_box()
                assert pad["x"] - 2 <= b["x"] and b["x"] + b["width"] <= pad["x"] + pad["width"] + 2, (i, b, pad)
                assert pad["y"] - 2 <= b["y"] and b["y"] + b["height"] <= pad["y"] + pad["height"] + 2, (i, b, pad)
            xs = [boxes.nth(i).bounding_box()["x"] for i in range(boxes.count())]
            assert xs == sorted(xs), xs  # left to right, as the string reads
            right += seen.replace(" ", "") == sample.text.replace(" ", "")
            t.page.keyboard.press("Escape")
            t.page.wait_for_function("() => document.getElementById('result').dataset.state === 'empty'")
        # ... and, for these clearly spaced numbers, what was written (a redrawn stroke may still
        # tip one reading: at most one of them).
        assert right >= len(samples) - 1, right
        assert t.errors == []
    finally:
        t.close()


def test_tapping_a_character_shows_its_bars_and_28x28(browser, live_server: str, written):
    t = NumberTab(browser, live_server, PHONE, touch=True)
    try:
        sample = min(written, key=lambda s: abs(len(s.text) - 6))  # what fits a phone's pad
        t.write(sample, "touch")
        t.shown()
        n = t.page.locator("#prediction .char").count()
        assert n >= 4
        previews = set()
        for i in (0, n - 1):
            t.page.get_by_test_id(f"char-{i}").tap()
            assert "chosen" in (t.page.get_by_test_id(f"char-{i}").get_attribute("class") or "")
            assert "chosen" in (t.page.get_by_test_id(f"box-{i}").get_attribute("class") or "")
            previews.add(t.page.get_by_test_id("preview").get_attribute("src"))
            status = t.page.get_attribute("#result", "data-chosen")
            said = t.page.get_by_test_id("confidence").text_content().strip()
            assert said == "not a character of a number" if status == "other" else said.endswith("% sure"), said
        assert len(previews) == 2 and all(p.startswith("data:image/png;base64,") for p in previews)
        width = t.page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= PHONE["width"], width  # the number fits a phone's width
        assert t.errors == []
    finally:
        t.close()


def test_number_screenshot(browser, live_server: str, written, output_dir: Path):
    """The README picture of a number being read (refreshed with DIGITPAD_UPDATE_SCREENSHOT=1)."""
    t = NumberTab(browser, live_server, DESKTOP)
    try:
        sample = next((s for s in written if "-" in s.text), written[0])
        t.write(sample, "mouse")
        seen = t.shown()
        assert seen
        t.page.wait_for_timeout(250)
        shot = output_dir / "screenshot-number.png"
        t.page.screenshot(path=str(shot))
    finally:
        t.close()
    assert shot.stat().st_size < 300_000
    if os.environ.get("DIGITPAD_UPDATE_SCREENSHOT") == "1":
        shutil.copy(shot, REPO / "docs" / "screenshot-number.png")


def _ink(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))[..., 3] > 127  # (h, w) bool


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two ink masks, at the best shift of up to a pixel either way."""
    h, w = min(a.shape[0], b.shape[0]) - 2, min(a.shape[1], b.shape[1]) - 2
    inner = b[1:1 + h, 1:1 + w]
    best = 0.0
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            moved = a[1 + dy:1 + dy + h, 1 + dx:1 + dx + w]
            best = max(best, (moved & inner).sum() / max(1, (moved | inner).sum()))
    return best


def test_the_replay_bench_draws_what_the_page_sends(browser, live_server: str, unipen_dir: Path,
                                                     pendigits_path: Path):
    """bench/number_replay.py compares the page with /api/read on the page's own drawing, made
    in Python (``page_drawing``: the page's ink size, curve, pen, margin, export). Held to the
    PNG the page really sends for real numbers: the same size within a pixel or two and the
    same ink (a changed pen, margin, export size or a straight line in place of the page's
    curve lowers the overlap to 0.95 or less on these numbers)."""
    numbers = number_replay.vetted(compose.load_records(unipen_dir, pendigits_path, split="test")["numbers"])[:4]
    t = NumberTab(browser, live_server, DESKTOP)
    try:
        pad = t.page.get_by_test_id("pad").bounding_box()
        for rec, label in numbers:
            number_replay.write(t.page, rec, "mouse")
            t.shown()
            sent = _ink(base64.b64decode(t.page.evaluate("() => window.__lastRead")["b64"]))
            ours = _ink(number_replay.page_drawing(rec, pad))
            assert abs(sent.shape[0] - ours.shape[0]) <= 2 and abs(sent.shape[1] - ours.shape[1]) <= 2, \
                (label, sent.shape, ours.shape)
            overlap = _overlap(sent, ours)
            assert overlap >= 0.95, (label, overlap)
            t.page.keyboard.press("Escape")
            t.page.wait_for_function("() => document.getElementById('result').dataset.state === 'empty'")
        assert t.errors == []
    finally:
        t.close()

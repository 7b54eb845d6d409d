"""A monkey on the page (real Chromium, a real server): seeded random strokes on and off the pad,
clicks on every control, keys, typed corrections of any characters, viewport changes between a
phone and a desktop, and pauses, bounded in count and time. The page must never throw (no
``pageerror``), get a 5xx, nor log a console error other than a refused request, whose clear
message the page shows (a correction with a letter in it: ``invalid_text``). Afterwards it
still reads a 1.

    .venv/bin/python -m pytest tests/test_page_monkey.py -q
"""

from __future__ import annotations

import random
import time

import pytest

ACTIONS = 150  # at most this many actions ...
SECONDS = 30  # ... and this long, per run
CONTROLS = ["undo", "clear", "use-device", "mode-device", "mode-server", "feedback-confirm",
            "feedback-text-send"] + [f"feedback-digit-{d}" for d in range(10)]
KEYS = ["Escape", "Control+z", "Tab", "Enter", " ", "ArrowLeft", "ArrowRight", "1", "Backspace"]


def _scribble(page, r: random.Random) -> None:  # noqa: ANN001 (Page)
    box = page.get_by_test_id("pad").bounding_box()
    x, y = box["x"] + r.random() * box["width"], box["y"] + r.random() * box["height"]
    page.mouse.move(x, y)
    page.mouse.down()
    for _ in range(r.randint(1, 15)):  # wandering, sometimes off the pad
        x = min(max(x + r.gauss(0, 25), box["x"] - 30), box["x"] + box["width"] + 30)
        y = min(max(y + r.gauss(0, 25), box["y"] - 30), box["y"] + box["height"] + 30)
        page.mouse.move(x, y)
    page.mouse.up()


def _act(page, r: random.Random) -> None:  # noqa: ANN001 (Page)
    a = r.random()
    if a < 0.45:
        _scribble(page, r)
    elif a < 0.6:
        control = page.get_by_test_id(r.choice(CONTROLS))
        if control.is_visible() and control.is_enabled():
            control.click(timeout=2000)
    elif a < 0.7:
        page.keyboard.press(r.choice(KEYS))
    elif a < 0.8:
        field = page.get_by_test_id("feedback-text")
        if field.is_visible() and field.is_enabled():
            field.fill("".join(r.choice("0123456789-.,/:()+$% x") for _ in range(r.randint(0, 25))))
    elif a < 0.87:
        page.set_viewport_size({"width": r.choice([320, 390, 800, 1280]), "height": r.choice([568, 844, 800])})
    else:
        page.wait_for_timeout(r.choice([0, 50, 300, 800]))


@pytest.mark.browser
@pytest.mark.parametrize("seed,width,height", [(1, 1280, 800), (2, 390, 844)])
def test_the_page_survives_a_monkey(browser, live_server: str, seed: int, width: int, height: int) -> None:
    context = browser.new_context(base_url=live_server, viewport={"width": width, "height": height})
    page = context.new_page()
    problems: list[str] = []
    refused: list[str] = []
    page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
    page.on("console", lambda m: (refused if "Failed to load resource" in m.text else problems).append(m.text)
            if m.type == "error" else None)
    page.on("response", lambda resp: problems.append(f"{resp.status} {resp.url}") if resp.status >= 500 else None)
    try:
        page.goto("/")
        r = random.Random(seed)
        t0, n = time.monotonic(), 0
        while n < ACTIONS and time.monotonic() - t0 < SECONDS:
            _act(page, r)
            n += 1
        page.set_viewport_size({"width": width, "height": height})
        page.keyboard.press("Escape")
        page.get_by_test_id("mode-server").check()
        page.get_by_test_id("clear").click()
        box = page.get_by_test_id("pad").bounding_box()  # it still reads: a stroke straight down is a 1
        x = box["x"] + box["width"] / 2
        page.mouse.move(x, box["y"] + 0.2 * box["height"])
        page.mouse.down()
        for k in range(1, 11):
            page.mouse.move(x, box["y"] + (0.2 + 0.06 * k) * box["height"])
        page.mouse.up()
        page.wait_for_function("() => document.querySelector('[data-testid=prediction]').textContent.trim() === '1'",
                               timeout=20_000)
    finally:
        context.close()
    assert n >= 20, n
    assert not problems, problems

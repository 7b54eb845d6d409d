"""Correcting a number on the page, in Chromium against a real uvicorn server and SQLite file:
write a number, type the right string ("Not right? Type it:"), and the row is in the store with
the exact drawing the reading was made from; with the server unreachable it waits in the outbox
and is sent when the server answers again; the field fits a phone."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from page_support import draw_number_mouse

from digitpad.store import FeedbackStore

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def records(pendigits_path: Path) -> dict[int, dict]:
    from digitpad.pendigits import load

    out: dict[int, dict] = {}
    for r in load(pendigits_path):
        out.setdefault(int(r["label"]), r)
    return out


def test_a_typed_correction_of_a_number_is_stored(browser, server_process, tmp_path, records):
    url = f"sqlite:///{tmp_path / 'feedback.db'}"
    with server_process(tmp_path, env={"DIGITPAD_DATABASE_URL": url}) as server:
        page = browser.new_page(viewport={"width": 1000, "height": 720})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        try:
            page.goto(server.url + "/")
            draw_number_mouse(page, [records[4], records[7], records[1]])
            field = page.get_by_test_id("feedback-text")
            field.wait_for(state="visible", timeout=15_000)
            shown = page.get_by_test_id("prediction").text_content()
            assert field.input_value() == shown.replace("?", "").strip()  # the reading, to edit
            assert not page.get_by_test_id("feedback-confirm").is_visible()  # "Right?" is for one digit
            field.fill("")
            field.type("4 71")  # the keyboard: typed, sent with Enter
            with page.expect_response(lambda r: r.url.endswith("/api/read/feedback")) as info:
                field.press("Enter")
            assert info.value.status == 201, info.value.text()
            sent = info.value.request.post_data_json
            thanks = page.get_by_test_id("feedback-thanks")
            thanks.wait_for(state="visible")
            assert thanks.text_content().startswith("Thanks!"), thanks.text_content()
            fid = info.value.json()["id"]
        finally:
            page.close()
    assert not errors, errors
    with FeedbackStore.open(url) as store:
        row = store.numbers.get(fid)
        assert store.numbers.count() == 1 and store.count() == 0
    assert (row.text, row.source, row.review) == ("4 71", "draw", "pending")
    assert row.read_text == shown  # the server's reading of what it stored is what the page showed
    assert sent["text"] == "4 71" and len(sent["boxes"]) == len(shown.replace(" ", ""))
    # The input sent is a PNG of the drawing, which the server stored and reads as the page did.
    assert base64.b64decode(sent["image"].split(",", 1)[1]).startswith(b"\x89PNG")
    if row.boxes is not None:
        assert len(row.boxes) == 3 and row.boxes_from in ("server", "client")


def test_offline_it_waits_in_the_outbox_then_is_sent(browser, server_process, tmp_path, records):
    url = f"sqlite:///{tmp_path / 'feedback.db'}"
    with server_process(tmp_path, env={"DIGITPAD_DATABASE_URL": url}) as server:
        context = browser.new_context(viewport={"width": 412, "height": 915}, has_touch=True, is_mobile=True)
        page = context.new_page()
        try:
            page.goto(server.url + "/")
            draw_number_mouse(page, [records[2], records[0]])
            field = page.get_by_test_id("feedback-text")
            field.wait_for(state="visible", timeout=15_000)
            # It fits a phone: inside the screen, and big enough that the browser does not zoom.
            b = field.bounding_box()
            assert b["x"] >= 0 and b["x"] + b["width"] <= 412, b
            assert float(field.evaluate("e => getComputedStyle(e).fontSize").removesuffix("px")) >= 16
            send = page.get_by_test_id("feedback-text-send")
            assert send.bounding_box()["x"] + send.bounding_box()["width"] <= 412
            page.route("**/api/read/feedback", lambda route: route.abort())  # the server does not answer
            field.fill("20")
            send.click()
            page.get_by_test_id("feedback-thanks").wait_for(state="visible")
            assert "sent when the server answers" in page.get_by_test_id("feedback-thanks").text_content()
            page.get_by_test_id("outbox").wait_for(state="visible")
            page.unroute("**/api/read/feedback")
            with page.expect_response(lambda r: r.url.endswith("/api/read/feedback"), timeout=15_000) as info:
                page.evaluate("dispatchEvent(new Event('online'))")  # the browser is back online: flush
            assert info.value.status == 201, info.value.text()
            page.get_by_test_id("outbox").wait_for(state="hidden")
        finally:
            context.close()
    with FeedbackStore.open(url) as store:
        assert [store.numbers.get(i).text for i in store.numbers.ids()] == ["20"]

"""The feedback API in-process (httpx TestClient on the real app and a real SQLite file):
what a POST stores, the admin routes and their token, bad input (4xx, error format, no row),
collection switched off. The real-server checks (concurrency, SIGKILL) are in
test_feedback_reliability.py.
"""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
from fastapi.testclient import TestClient
from feedback_support import drawings
from page_support import draw_mouse
from PIL import Image

from digitpad.predict import Predictor
from digitpad.preprocess import preprocess_bytes
from digitpad.reading import digit_view
from digitpad.settings import Settings
from digitpad.store import FeedbackStore
from digitpad.web.app import create_app

TOKEN = "test-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
MAX_BODY = 200_000
MAX_PIXELS = 2_000_000


@pytest.fixture(scope="module")
def samples() -> list[tuple[bytes, int]]:
    return drawings(6)


@pytest.fixture
def db_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'feedback.db'}"


def make_client(db_url: str, **settings) -> TestClient:
    s = Settings(database_url=db_url, admin_token=TOKEN, max_body_bytes=MAX_BODY, max_pixels=MAX_PIXELS)
    return TestClient(create_app(s.model_copy(update=settings)), raise_server_exceptions=False)


@pytest.fixture
def client(db_url):
    with make_client(db_url) as c:
        yield c


def rows(db_url: str) -> int:
    with FeedbackStore.open(db_url) as store:
        return store.count()


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def assert_error(r, status: int, code: str | None = None) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert body["error"]["message"], body
    if code:
        assert body["error"]["code"] == code, body


# ------------------------------------------------------------------ what a POST stores


def test_json_post_stores_the_image_the_label_and_the_servers_reading(client, db_url, samples):
    png, label = samples[0]
    r = client.post("/api/feedback", json={"image": data_url(png), "label": (label + 1) % 10, "predicted": label,
                                           "confidence": 0.5, "model": "whatever-the-page-showed", "source": "draw"})
    assert r.status_code == 201, r.text
    fid = r.json()["id"]
    assert isinstance(fid, int) and set(r.json()) == {"id"}

    with FeedbackStore.open(db_url) as store:
        row = store.get(fid)
    expected28 = preprocess_bytes(png).image  # the one preprocessing path
    digits, _ = digit_view(Predictor().predict_batch(expected28[None])[0])  # (10,): the API's digit probabilities
    assert row.label == (label + 1) % 10 and row.source == "draw"
    # The image stored is the server's re-encoding (never the bytes as sent), which reads the same.
    assert row.image != png and row.content_type == "image/png"
    np.testing.assert_array_equal(preprocess_bytes(row.image).image, expected28)
    np.testing.assert_array_equal(row.image28, expected28)
    # The reading is the server's own, recomputed on the stored image, not what the client said.
    assert row.predicted == int(digits.argmax())
    assert row.confidence == pytest.approx(float(digits.max()), abs=1e-6)
    assert row.probabilities == pytest.approx(digits.tolist(), abs=1e-6)
    assert row.model_version == client.get("/api/model").json()["version"]


def test_multipart_post_and_bare_base64_are_accepted(client, db_url, samples):
    png, label = samples[1]
    jpeg = io.BytesIO()
    Image.open(io.BytesIO(png)).convert("RGB").save(jpeg, "JPEG", quality=90)
    r1 = client.post("/api/feedback", files={"image": ("d.jpg", jpeg.getvalue(), "image/jpeg")},
                     data={"label": str(label)})
    r2 = client.post("/api/feedback", json={"image": base64.b64encode(png).decode(), "label": label})
    r3 = client.post("/api/feedback", files={"image": ("d.png", png, "image/png")},
                     data={"label": str(label), "source": "draw", "predicted": "3", "confidence": "0.7"})
    for r in (r1, r2, r3):
        assert r.status_code == 201, r.text
    with FeedbackStore.open(db_url) as store:
        a, b, c = (store.get(r.json()["id"]) for r in (r1, r2, r3))
    assert (a.source, a.content_type) == ("upload", "image/png")  # a JPEG too: stored as the server re-encodes it
    np.testing.assert_array_equal(preprocess_bytes(a.image).image, preprocess_bytes(jpeg.getvalue()).image)
    assert (b.source, b.content_type) == ("draw", "image/png")  # JSON comes from the canvas by default
    assert c.source == "draw"
    assert {a.label, b.label, c.label} == {label}


# ------------------------------------------------------------------ bad input: 4xx, error format, no row


def big_png(side: int) -> bytes:
    buf = io.BytesIO()
    Image.new("L", (side, side), 255).save(buf, "PNG")
    return buf.getvalue()


BAD_JSON = [
    ({"label": 10}, 400, "invalid_label"),
    ({"label": -1}, 400, "invalid_label"),
    ({"label": "seven"}, 400, "invalid_label"),
    ({"label": 7.5}, 400, "invalid_label"),
    ({"label": True}, 400, "invalid_label"),
    ({"label": "-1"}, 400, "invalid_label"),
    ({"label": [7]}, 400, "invalid_label"),
    ({"predicted": "x"}, 400, "invalid_predicted"),
    ({"label": None}, 422, "missing_field"),
    ({"drop": "label"}, 422, "missing_field"),
    ({"drop": "image"}, 422, "missing_field"),
    ({"image": ""}, 422, "missing_field"),
    ({"image": 12}, 422, "missing_field"),
    ({"image": "not base64 at all!"}, 400, "invalid_base64"),
    ({"image": base64.b64encode(b"plain text, not an image").decode()}, 400, "invalid_image"),
    ({"image": "data:text/plain;base64,aGVsbG8="}, 415, None),
    ({"predicted": 11}, 400, "invalid_predicted"),
    ({"confidence": 2}, 400, "invalid_confidence"),
    ({"confidence": "high"}, 422, "missing_field"),
    ({"source": "camera"}, 400, "invalid_source"),
]


@pytest.mark.parametrize(("change", "status", "code"), BAD_JSON, ids=[str(c[0]) for c in BAD_JSON])
def test_bad_json_is_refused_and_writes_nothing(client, db_url, samples, change, status, code):
    body = {"image": data_url(samples[2][0]), "label": samples[2][1]}
    body.pop(change.get("drop", ""), None)
    body.update({k: v for k, v in change.items() if k != "drop"})
    assert_error(client.post("/api/feedback", json=body), status, code)
    assert rows(db_url) == 0


def test_other_bad_bodies_are_refused_and_write_nothing(client, db_url, samples):
    png, label = samples[3]
    blank = io.BytesIO()
    Image.new("RGBA", (280, 280), (0, 0, 0, 0)).save(blank, "PNG")  # an empty canvas: nothing to learn
    cases = [
        (client.post("/api/feedback", json={"image": data_url(blank.getvalue()), "label": 3}), 400, "empty_image"),
        (client.post("/api/feedback", files={"image": ("d.png", png, "image/png")}), 422, "missing_field"),
        (client.post("/api/feedback", data={"label": "3"}, files={"other": ("d.png", png, "image/png")}),
         422, "missing_field"),
        (client.post("/api/feedback", files={"image": ("d.png", png, "image/png")}, data={"label": "12"}),
         400, "invalid_label"),
        (client.post("/api/feedback", files={"image": ("d.png", png, "image/png")}, data={"label": "seven"}),
         400, "invalid_label"),
        (client.post("/api/feedback", files={"image": ("d.png", b"", "image/png")}, data={"label": "1"}),
         400, "invalid_image"),
        (client.post("/api/feedback", content=b"{not json", headers={"content-type": "application/json"}),
         400, "invalid_json"),
        (client.post("/api/feedback", content=b"[1, 2]", headers={"content-type": "application/json"}),
         422, "missing_field"),
        (client.post("/api/feedback", content=b"label=3", headers={"content-type": "text/plain"}),
         415, "unsupported_content_type"),
        # Over the body limit (declared Content-Length), and an image over the pixel limit.
        (client.post("/api/feedback", files={"image": ("d.png", b"\0" * (MAX_BODY + 1), "image/png")},
                     data={"label": "1"}), 413, "payload_too_large"),
        (client.post("/api/feedback", files={"image": ("d.png", big_png(1500), "image/png")}, data={"label": "1"}),
         413, "payload_too_large"),
    ]
    for r, status, code in cases:
        assert_error(r, status, code)
    assert rows(db_url) == 0
    assert client.post("/api/feedback", json={"image": data_url(png), "label": label}).status_code == 201
    assert rows(db_url) == 1


# ------------------------------------------------------------------ admin routes


def test_admin_routes_list_show_and_delete(client, samples):
    ids = []
    for png, label in samples[:4]:
        r = client.post("/api/feedback", json={"image": data_url(png), "label": label})
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])

    r = client.get("/api/feedback", headers=AUTH)
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["total"] == 4 and (page["limit"], page["offset"]) == (50, 0)
    assert [i["id"] for i in page["items"]] == ids[::-1]
    assert [i["label"] for i in page["items"]] == [lab for _, lab in samples[:4]][::-1]
    assert "image" not in page["items"][0]

    r = client.get("/api/feedback?limit=2&offset=1", headers=AUTH)
    assert [i["id"] for i in r.json()["items"]] == [ids[2], ids[1]], r.text

    r = client.get(f"/api/feedback/{ids[0]}/image", headers=AUTH)
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    np.testing.assert_array_equal(preprocess_bytes(r.content).image, preprocess_bytes(samples[0][0]).image)
    r = client.get(f"/api/feedback/{ids[0]}/image?size=28", headers=AUTH)
    assert r.status_code == 200, r.text
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(r.content))), preprocess_bytes(samples[0][0]).image)

    assert client.delete(f"/api/feedback/{ids[1]}", headers=AUTH).status_code == 204
    assert_error(client.delete(f"/api/feedback/{ids[1]}", headers=AUTH), 404, "not_found")
    assert_error(client.get(f"/api/feedback/{ids[1]}/image", headers=AUTH), 404, "not_found")
    assert client.get("/api/feedback", headers=AUTH).json()["total"] == 3
    assert_error(client.get("/api/feedback?limit=0", headers=AUTH), 422)
    assert_error(client.get("/api/feedback?limit=501", headers=AUTH), 422)
    assert_error(client.get("/api/feedback/abc/image", headers=AUTH), 422)
    # An id past the databases' 64-bit keys names no row: a 4xx, not the driver's overflow (a 500).
    for bad in (2**63, -(2**63) - 1, 0):
        assert_error(client.delete(f"/api/feedback/{bad}", headers=AUTH), 422)
        assert_error(client.get(f"/api/feedback/{bad}/image", headers=AUTH), 422)


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN},
                                     {"Authorization": f"Basic {TOKEN}"}])
def test_admin_routes_need_the_right_token(client, headers):
    assert_error(client.get("/api/feedback", headers=headers), 401, "unauthorized")
    assert_error(client.get("/api/feedback/1/image", headers=headers), 401, "unauthorized")
    assert_error(client.delete("/api/feedback/1", headers=headers), 401, "unauthorized")


def test_admin_api_is_off_without_a_token(db_url, samples):
    with make_client(db_url, admin_token=None) as c:
        assert c.post("/api/feedback", json={"image": data_url(samples[0][0]), "label": 1}).status_code == 201
        for r in (c.get("/api/feedback", headers=AUTH), c.get("/api/feedback/1/image", headers=AUTH),
                  c.delete("/api/feedback/1", headers=AUTH)):
            assert_error(r, 403, "admin_disabled")
    assert rows(db_url) == 1


# ------------------------------------------------------------------ collection off


def test_no_feedback_refuses_posts_and_opens_no_database(tmp_path, samples):
    url = f"sqlite:///{tmp_path / 'never.db'}"
    with make_client(url, feedback=False) as c:
        assert c.get("/api/config").json()["feedback"] is False
        assert_error(c.post("/api/feedback", json={"image": data_url(samples[0][0]), "label": 1}),
                     403, "feedback_disabled")
        assert_error(c.get("/api/feedback", headers=AUTH), 403, "feedback_disabled")
        assert c.post("/api/predict", json={"image": data_url(samples[0][0])}).status_code == 200
    assert not (tmp_path / "never.db").exists()


def test_serve_flags_reach_the_settings():
    from digitpad.cli import build_parser
    from digitpad.cli.common import settings_from

    args = build_parser().parse_args(["serve", "--no-feedback", "--database-url", "sqlite:///x.db"])
    s = settings_from(args)
    assert (s.feedback, s.database_url) == (False, "sqlite:///x.db")
    assert settings_from(build_parser().parse_args(["serve"])).feedback is True


def test_serve_with_an_unusable_database_says_so_in_one_line(capsys):
    from digitpad.cli import main

    assert main(["serve", "--port", "1", "--database-url", "postgresql://someone:s3cret@127.0.0.1:9/db"]) == 1
    err = capsys.readouterr().err
    assert "cannot open the feedback database" in err and "hint:" in err, err
    assert "s3cret" not in err and "Traceback" not in err, err


def test_feedback_side_of_serving_never_imports_torch():
    import subprocess
    import sys

    code = ("import sys, digitpad.web.app, digitpad.web.feedback, digitpad.feedback, digitpad.store; "
            "sys.exit('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0, "torch was imported"


def test_feedback_routes_are_in_the_openapi_spec(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert {"post"} <= set(paths["/api/feedback"]) and {"get"} <= set(paths["/api/feedback"])
    assert "delete" in paths["/api/feedback/{feedback_id}"]
    body = paths["/api/feedback"]["post"]["requestBody"]["content"]
    assert {"multipart/form-data", "application/json"} <= set(body)


# ------------------------------------------------------------------ the whole loop, in a real browser


@pytest.mark.browser
def test_a_correction_on_the_page_is_counted_by_feedback_stats(browser, server_process, tmp_path, pendigits_path,
                                                               capsys):
    """Draw on the page in Chromium, pick the right digit, and `digitpad feedback stats` counts it."""
    from digitpad.cli import main
    from digitpad.pendigits import load

    record = next(r for r in load(pendigits_path) if r["label"] == 4)
    url = f"sqlite:///{tmp_path / 'feedback.db'}"
    with server_process(tmp_path, env={"DIGITPAD_DATABASE_URL": url}) as server:
        page = browser.new_page(viewport={"width": 1000, "height": 720})
        try:
            page.goto(server.url + "/")
            draw_mouse(page, record)
            page.get_by_test_id("feedback-digit-4").wait_for(state="visible", timeout=15_000)
            with page.expect_response(lambda r: r.url.endswith("/api/feedback")) as info:
                page.get_by_test_id("feedback-digit-4").click()
            assert info.value.status == 201, info.value.text()
            page.get_by_test_id("feedback-thanks").wait_for(state="visible")
        finally:
            page.close()
    capsys.readouterr()
    assert main(["feedback", "stats", "--json", "--database-url", url]) == 0
    st = json.loads(capsys.readouterr().out)
    assert st["total"] == 1 and st["per_label"][4] == 1 and st["by_source"] == {"draw": 1}, st

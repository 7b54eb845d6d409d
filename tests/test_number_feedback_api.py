"""``POST /api/read/feedback`` in-process (httpx TestClient on the real app, a real SQLite file):
a corrected number is stored with its string, the server's reading and a box per character;
bad input is a 4xx in the error format and writes nothing; the same guards as digit feedback.
Numbers are composed from held-out writers' own characters (``digitpad.compose``)."""

from __future__ import annotations

import base64
import io
import json
import random
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from digitpad.settings import Settings
from digitpad.store import FeedbackStore
from digitpad.web.app import create_app

MAX_BODY = 300_000


@pytest.fixture(scope="module")
def numbers(unipen_dir: Path, pendigits_path: Path) -> list:
    """Spaced strings by held-out writers: (image bytes, text, true boxes, (width, height))."""
    from digitpad import compose

    hands = compose.load_hands(unipen_dir, pendigits_path, split="test")
    r = random.Random(15)
    out = []
    for i in range(6):
        text = "".join(r.choice("0123456789") for _ in range(r.randint(2, 5)))
        s = compose.compose(hands[i % len(hands)], text, "spaced", "pad", seed=i)
        out.append((s.image, s.text, [list(b) for b in s.boxes], s.size))
    return out


@pytest.fixture
def db_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'feedback.db'}"


def make_client(db_url: str, **settings) -> TestClient:
    s = Settings(database_url=db_url, max_body_bytes=MAX_BODY, max_pixels=2_000_000)
    return TestClient(create_app(s.model_copy(update=settings)), raise_server_exceptions=False)


@pytest.fixture
def client(db_url):
    with make_client(db_url) as c:
        yield c


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def count(db_url: str) -> tuple[int, int]:
    """(number rows, digit rows)."""
    with FeedbackStore.open(db_url) as store:
        return store.numbers.count(), store.count()


def assert_error(r, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and body["error"]["code"] == code and body["error"]["message"], body


def test_a_corrected_number_is_stored_with_its_string_the_servers_reading_and_its_boxes(client, db_url, numbers):
    png, text, _, _ = numbers[0]
    reading = client.post("/api/read", json={"image": data_url(png)}).json()
    # The correction of a reading whose characters the server found (the same count): its boxes.
    wrong = ("1" if text[0] != "1" else "7") + text[1:]
    r = client.post("/api/read/feedback", json={"image": data_url(png), "text": wrong, "source": "draw",
                                                "boxes": [c["box"] for c in reading["characters"]]})
    assert r.status_code == 201, r.text
    assert r.headers["cache-control"] == "no-store"
    with FeedbackStore.open(db_url) as store:
        row = store.numbers.get(r.json()["id"])
        assert store.count() == 0  # not a digit row
    assert (row.text, row.read_text, row.source, row.review) == (wrong, reading["text"], "draw", "pending")
    # The row's reading is the server's own, of the image it stored (its gray re-encoding).
    again = client.post("/api/read", files={"image": ("n.png", row.image, "image/png")}).json()
    assert Image.open(io.BytesIO(row.image)).format == "PNG" and again["text"] == reading["text"]
    assert row.model_version == again["model"] and row.confidence == pytest.approx(again["confidence"])
    assert len(reading["characters"]) == len(text), reading["text"]  # (spaced: the server finds each one)
    assert row.boxes_from == "server" and row.boxes == [c["box"] for c in again["characters"]]
    assert [max(s, key=s.get) for s in row.read_scores] == list(reading["text"].replace(" ", ""))


def test_multipart_and_the_clients_boxes_when_the_counts_differ(client, db_url, numbers):
    png, text, _, _ = numbers[1]
    w, h = Image.open(io.BytesIO(png)).size
    sent = client.post("/api/read", files={"image": ("n.png", png, "image/png")}).json()
    longer = sent["text"] + "0"  # one character more than the server reads: its boxes cannot be used
    boxes = [c["box"] for c in sent["characters"]] + [[w - 40, h // 2, 30, 30]]
    r = client.post("/api/read/feedback", files={"image": ("n.png", png, "image/png")},
                    data={"text": longer, "boxes": json.dumps(boxes)})
    assert r.status_code == 201, r.text
    r2 = client.post("/api/read/feedback", files={"image": ("n.png", png, "image/png")}, data={"text": longer})
    with FeedbackStore.open(db_url) as store:
        row, bare = store.numbers.get(r.json()["id"]), store.numbers.get(r2.json()["id"])
    assert (row.source, row.boxes_from) == ("upload", "client")
    stored = client.post("/api/read", files={"image": ("n.png", row.image, "image/png")}).json()
    # The client's boxes, moved into the stored image's pixels (a wide image is stored cropped and
    # shrunk), land on the boxes the server finds there (within the resampling's pixel or two).
    for mine, theirs in zip(row.boxes, [c["box"] for c in stored["characters"]]):
        assert max(abs(a - b) for a, b in zip(mine, theirs)) <= 3, (row.boxes, stored["characters"])
    assert len(row.boxes) == len(longer)
    assert (bare.boxes, bare.boxes_from) == (None, None)  # no boxes that fit: kept, never cut


def test_bad_input_is_a_4xx_and_writes_nothing(client, db_url, numbers):
    png, text, _, _ = numbers[2]
    w, h = Image.open(io.BytesIO(png)).size
    blank = io.BytesIO()
    Image.new("RGBA", (600, 200), (0, 0, 0, 0)).save(blank, "PNG")
    big = io.BytesIO()
    Image.new("L", (1500, 1500), 255).save(big, "PNG")
    ok = {"image": data_url(png), "text": text}
    post = client.post
    cases = [
        (post("/api/read/feedback", json={"image": data_url(png)}), 422, "missing_field"),
        (post("/api/read/feedback", json={"text": text}), 422, "missing_field"),
        (post("/api/read/feedback", json={**ok, "text": "12a"}), 400, "invalid_text"),
        (post("/api/read/feedback", json={**ok, "text": "1" * 21}), 400, "invalid_text"),
        (post("/api/read/feedback", json={**ok, "text": "1  2"}), 400, "invalid_text"),
        (post("/api/read/feedback", json={**ok, "text": 1234}), 400, "invalid_text"),
        (post("/api/read/feedback", json={**ok, "boxes": [[0, 0, w + 1, 5]] * len(text)}), 400, "invalid_boxes"),
        (post("/api/read/feedback", json={**ok, "boxes": [[0, 0, 5]]}), 400, "invalid_boxes"),
        (post("/api/read/feedback", json={**ok, "boxes": "[[0, 0, 5, 5]]"}), 400, "invalid_boxes"),
        (post("/api/read/feedback", json={**ok, "boxes": [[0, 0, 1, 1]] * 21}), 400, "invalid_boxes"),
        (post("/api/read/feedback", json={**ok, "boxes": [["0", 0, 1, 1]]}), 400, "invalid_boxes"),
        (post("/api/read/feedback", json={**ok, "source": "fax"}), 400, "invalid_source"),
        (post("/api/read/feedback", files={"image": ("n.png", png, "image/png")},
              data={"text": text, "boxes": "[[0,0"}), 400, "invalid_boxes"),
        (post("/api/read/feedback", files={"image": ("n.png", png, "image/png")}), 422, "missing_field"),
        (post("/api/read/feedback", files={"image": ("n.png", b"", "image/png")}, data={"text": "1"}),
         400, "invalid_image"),
        (post("/api/read/feedback", json={"image": data_url(blank.getvalue()), "text": "1"}), 400, "empty_image"),
        (post("/api/read/feedback", json={"image": "not base64!", "text": "1"}), 400, "invalid_base64"),
        (post("/api/read/feedback", files={"image": ("r.md", b"# hello", "text/plain")}, data={"text": "1"}),
         400, "invalid_image"),
        (post("/api/read/feedback", content=b"{not json", headers={"content-type": "application/json"}),
         400, "invalid_json"),
        (post("/api/read/feedback", content=b"text=1", headers={"content-type": "text/plain"}),
         415, "unsupported_content_type"),
        (post("/api/read/feedback", files={"image": ("n.png", b"\0" * (MAX_BODY + 1), "image/png")},
              data={"text": "1"}), 413, "payload_too_large"),
        (post("/api/read/feedback", files={"image": ("n.png", big.getvalue(), "image/png")}, data={"text": "1"}),
         413, "payload_too_large"),
    ]
    for r, status, code in cases:
        assert_error(r, status, code)
    assert count(db_url) == (0, 0)
    assert post("/api/read/feedback", json=ok).status_code == 201
    assert count(db_url) == (1, 0)


def test_one_throttle_for_both_feedback_routes_and_collection_off(tmp_path, numbers):
    png, text, _, _ = numbers[3]
    with make_client(f"sqlite:///{tmp_path / 'a.db'}", feedback_per_minute=2) as c:
        assert c.post("/api/read/feedback", json={"image": data_url(png), "text": text}).status_code == 201
        assert c.post("/api/feedback", json={"image": data_url(png), "label": 1}).status_code == 201
        r = c.post("/api/read/feedback", json={"image": data_url(png), "text": text})
        assert_error(r, 429, "rate_limited")
        assert int(r.headers["retry-after"]) >= 1
    with make_client(f"sqlite:///{tmp_path / 'never.db'}", feedback=False) as c:
        assert_error(c.post("/api/read/feedback", json={"image": data_url(png), "text": text}),
                     403, "feedback_disabled")
    assert not (tmp_path / "never.db").exists()


def test_in_the_openapi_spec_and_serving_it_never_imports_torch(client):
    import subprocess
    import sys

    post = client.get("/openapi.json").json()["paths"]["/api/read/feedback"]["post"]
    assert {"multipart/form-data", "application/json"} <= set(post["requestBody"]["content"])
    assert {"201", "400", "413", "422", "429", "507"} <= set(post["responses"])
    code = "import sys, digitpad.web.app, digitpad.numberfeedback; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0, "torch was imported"


def test_admin_routes_list_show_review_and_delete_numbers(tmp_path, numbers):
    token = "test-admin-token-numbers"
    auth = {"Authorization": f"Bearer {token}"}
    url = f"sqlite:///{tmp_path / 'admin.db'}"
    with make_client(url, admin_token=token) as c:
        ids = [c.post("/api/read/feedback", json={"image": data_url(png), "text": text}).json()["id"]
               for png, text, _, _ in numbers[:3]]
        assert c.post("/api/feedback", json={"image": data_url(numbers[0][0]), "label": 1}).status_code == 201
        assert c.get("/api/read/feedback").status_code == 401  # no token
        assert_error(c.get("/api/read/feedback", headers={"Authorization": "Bearer wrong-token-000000"}),
                     401, "unauthorized")
        page = c.get("/api/read/feedback?limit=2", headers=auth)
        assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
        assert page.json()["total"] == 3 and [i["id"] for i in page.json()["items"]] == ids[::-1][:2]
        item = page.json()["items"][0]
        assert item["text"] == numbers[2][1] and item["review"] == "pending" and "image" not in item
        img = c.get(f"/api/read/feedback/{ids[0]}/image", headers=auth)
        assert img.status_code == 200 and img.headers["content-type"] == "image/png"
        with FeedbackStore.open(url) as store:
            assert img.content == store.numbers.get(ids[0]).image
        r = c.post("/api/read/feedback/review", json={"decision": "accepted", "ids": [ids[0]]}, headers=auth)
        assert r.json() == {"updated": 1}
        assert c.post("/api/read/feedback/review", json={"decision": "rejected"}, headers=auth).json() == {"updated": 2}
        assert c.post("/api/read/feedback/review", json={"decision": "maybe"}, headers=auth).status_code == 422
        assert c.delete(f"/api/read/feedback/{ids[1]}", headers=auth).status_code == 204
        assert c.delete(f"/api/read/feedback/{ids[1]}", headers=auth).status_code == 404
        assert c.delete("/api/read/feedback?review=rejected", headers=auth).json() == {"deleted": 1}
        assert c.delete("/api/read/feedback", headers=auth).status_code == 400  # no criterion
        assert c.get("/api/read/feedback", headers=auth).json()["total"] == 1
        assert c.get("/api/feedback", headers=auth).json()["total"] == 1  # the digit row is untouched

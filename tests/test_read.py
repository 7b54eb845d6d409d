"""POST /api/read and `digitpad read`: whole numbers, with each character's box, alternatives and
28x28; the same inputs, limits and errors as /api/predict. Numbers are composed from held-out
writers' own characters (``digitpad.compose``), never from hard-coded answers.

    DIGITPAD_UNIPEN=... DIGITPAD_PENDIGITS=... .venv/bin/python -m pytest tests/test_read.py -q
"""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from digitpad.settings import Settings
from digitpad.web.app import create_app
from digitpad.web.schemas import ErrorResponse, ReadResponse


@pytest.fixture(scope="module")
def hands(unipen_dir: Path, pendigits_path: Path):
    from digitpad import compose

    return compose.load_hands(unipen_dir, pendigits_path, split="test")


@pytest.fixture(scope="module")
def numbers(hands) -> list:
    """Spaced digit strings by held-out writers: (image bytes, text, boxes)."""
    import random

    from digitpad import compose

    out = []
    r = random.Random(5)
    for i in range(24):
        hand = hands[i % len(hands)]
        text = "".join(r.choice("0123456789") for _ in range(r.randint(2, 6)))
        s = compose.compose(hand, text, "spaced", "pad", seed=i)
        out.append((s.image, s.text, s.boxes))
    return out


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    db = tmp_path_factory.mktemp("read") / "feedback.db"
    with TestClient(create_app(Settings(database_url=f"sqlite:///{db}", max_body_bytes=300_000))) as c:
        yield c


def read(client: TestClient, data: bytes):
    return client.post("/api/read", files={"image": ("n.png", data, "image/png")})


def test_numbers_are_read_with_a_box_per_character(client: TestClient, numbers) -> None:
    from digitpad.sequence import SequenceModel

    exact, seq_version = 0, SequenceModel().version  # the shipped file's own metadata
    for data, text, boxes in numbers:
        r = read(client, data)
        assert r.status_code == 200, r.text
        body = ReadResponse.model_validate(r.json())
        assert body.sequence_model == seq_version  # both models that read are named
        assert body.text.replace(" ", "") == "".join(c.char for c in body.characters)
        w, h = Image.open(io.BytesIO(data)).size
        for c in body.characters:
            x, y, bw, bh = c.box
            assert 0 <= x and 0 <= y and bw > 0 and bh > 0 and x + bw <= w + 1 and y + bh <= h + 1, (c.box, w, h)
            preview = np.asarray(Image.open(io.BytesIO(base64.b64decode(c.preview.split(",", 1)[1]))))
            assert preview.shape == (28, 28) and preview.max() > 0
            assert len(c.probabilities) == 10
        exact += body.text == text
        if body.text == text:  # each character's box lies on the ink of the character it names
            for c, (x0, y0, x1, y1) in zip(body.characters, boxes, strict=True):
                cx, cy = c.box[0] + c.box[2] / 2, c.box[1] + c.box[3] / 2
                assert x0 - 5 <= cx <= x1 + 5 and y0 - 5 <= cy <= y1 + 5, (c.char, c.box, (x0, y0, x1, y1))
    assert exact >= 0.75 * len(numbers), f"{exact} of {len(numbers)} spaced numbers read exactly"


def test_same_inputs_and_errors_as_predict(client: TestClient, numbers) -> None:
    data, text, _ = numbers[0]
    by_file = read(client, data).json()
    by_json = client.post("/api/read", json={"image": "data:image/png;base64," + base64.b64encode(data).decode()}).json()
    assert by_json["text"] == by_file["text"]
    blank = io.BytesIO()
    Image.new("RGBA", (600, 200), (0, 0, 0, 0)).save(blank, "PNG")
    empty = read(client, blank.getvalue()).json()
    assert (empty["text"], empty["status"], empty["characters"]) == ("", "empty", [])
    cases = [
        (read(client, b"not an image"), 400, "invalid_image"),
        (client.post("/api/read", json={"image": 42}), 422, "missing_field"),
        (client.post("/api/read", content=b"{", headers={"content-type": "application/json"}), 400, "invalid_json"),
        (client.post("/api/read", content=b"x", headers={"content-type": "text/plain"}), 415, "unsupported_content_type"),
        (client.post("/api/read", files={"other": ("n.png", data, "image/png")}), 422, "missing_field"),
        (read(client, b"\x00" * 400_000), 413, "payload_too_large"),
    ]
    for r, status, code in cases:
        assert r.status_code == status, (status, r.text)
        assert ErrorResponse.model_validate(r.json()).error.code == code
        assert "Traceback" not in r.text
    assert client.get("/api/read").status_code == 405
    spec = client.get("/openapi.json").json()
    assert "post" in spec["paths"]["/api/read"]
    assert set(spec["paths"]["/api/read"]["post"]["requestBody"]["content"]) == {"multipart/form-data", "application/json"}


def test_a_lone_digit_reads_as_predict_reads_it(client: TestClient, pendigits_path: Path) -> None:
    """One digit through /api/read is the digit /api/predict reads (never split in two)."""
    from digitpad.pendigits import STYLES, load, render, split_by_writer

    _, held = split_by_writer(load(pendigits_path), seed=0)
    same = 0
    chosen = held[:: len(held) // 40][:40]
    for rec in chosen:
        png = render(rec, STYLES["transparent-280"])
        digit = client.post("/api/predict", files={"image": ("d.png", png, "image/png")}).json()["digit"]
        got = read(client, png).json()
        assert len(got["characters"]) == 1, (rec["id"], got["text"])
        same += got["text"] == str(digit)
    assert same >= 0.95 * len(chosen), f"{same} of {len(chosen)}"


def test_digitpad_read_cli(numbers, tmp_path: Path) -> None:
    for i, (data, _, _) in enumerate(numbers[:3]):
        (tmp_path / f"n{i}.png").write_bytes(data)
    (tmp_path / "bad.png").write_bytes(b"nope")
    out = subprocess.run([sys.executable, "-m", "digitpad.cli", "read", str(tmp_path), "--json"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1, out.stderr  # one file could not be read
    rows = json.loads(out.stdout)
    assert [Path(r["file"]).name for r in rows] == ["bad.png", "n0.png", "n1.png", "n2.png"]
    assert rows[0]["status"] == "error" and rows[0]["error"]
    assert all(r["text"] and r["characters"] for r in rows[1:])
    table = subprocess.run([sys.executable, "-m", "digitpad.cli", "read", str(tmp_path / "n0.png")],
                           capture_output=True, text=True, timeout=120)
    assert table.returncode == 0 and rows[1]["text"] in table.stdout, table.stdout + table.stderr


def test_a_character_among_digits_is_other_only_when_clearly_no_character():
    """``?`` in a number: the isolated digits' not-digit threshold makes 1.2% of the characters
    cut out of real numbers ``?``; among a number's characters the bar is IN_NUMBER_NOT_DIGIT,
    small marks are never ``?`` (the model's 28x28 of a dot is a disk), and a reading with no
    character of a number at all is still refused whole."""
    from digitpad import numbers as nb
    from digitpad.numberreading import IN_NUMBER_NOT_DIGIT, NumberReader
    from digitpad.predict import Predictor
    from digitpad.reading import reader_for

    reader = NumberReader(reader_for(Settings(), Predictor()))
    cutoff = reader.reader.thresholds.not_digit
    assert IN_NUMBER_NOT_DIGIT < cutoff

    def chars(spec):  # (char, P(other)) -> a Reading's characters
        return nb.Reading("".join(c for c, _ in spec), [nb.Character(c, 0.5, (0, 0, 1, 1), [], np.zeros((28, 28), np.uint8),
                                                                     {}, p) for c, p in spec])

    odd = 1 - cutoff / 2  # past the isolated digits' threshold, not past the number's
    assert reader._others(chars([("7", 0.01), ("8", 0.0), ("0", odd)]), None) == [False, False, False]
    clear = 1 - IN_NUMBER_NOT_DIGIT / 2
    assert reader._others(chars([("7", 0.01), ("8", 0.0), ("0", clear)]), None) == [False, False, True]
    assert reader._others(chars([("3", 0.0), (".", clear), ("5", 0.0)]), None) == [False, False, False]
    assert reader._others(chars([("1", odd), ("-", odd)]), None) == [True, True]  # nothing of a number
    answer = reader.answer(chars([("7", 0.0), ("0", odd)]), [False, False], None, timing={}, t_start=0.0)
    assert answer["text"] == "70" and answer["characters"][1]["status"] == "uncertain"

"""Corrections are quarantined (issue 19, finding 2): strangers' rows wait for a review, training
uses reviewed rows (or rows that pass the agreement check), and a fine-tune is judged on data
feedback cannot write to. The poisoning of the issue, replayed: 400 MNIST 7s labelled "1".
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from feedback_support import drawings
from PIL import Image

from digitpad.cli import main
from digitpad.curation import agrees
from digitpad.feedback import load_feedback, record
from digitpad.predict import Predictor
from digitpad.reading import Reader
from digitpad.store import FeedbackStore

POISON = 400
GENUINE = 30


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def png_of(img28: np.ndarray) -> bytes:
    """An MNIST digit as a stranger would post it: 280x280, white on black."""
    buf = io.BytesIO()
    Image.fromarray(np.kron(img28, np.ones((10, 10), np.uint8))).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def reader() -> Reader:
    return Reader(Predictor(), max_pixels=16_000_000)


@pytest.fixture(scope="module")
def poisoned(tmp_path_factory, mnist_dir, reader) -> tuple[str, list[int], list[int]]:
    """A store as the issue left it: 400 MNIST training 7s posted as "1", and 30 genuine drawings."""
    from digitpad.data import load_split

    url = f"sqlite:///{tmp_path_factory.mktemp('poisoned') / 'feedback.db'}"
    x, y = load_split("train", mnist_dir)
    with FeedbackStore.open(url) as store:
        poison = [record(store, reader, data=png_of(img), label=1, source="upload") for img in x[y == 7][-POISON:]]
        genuine = [record(store, reader, data=png, label=label, source="draw") for png, label in drawings(GENUINE)]
    return url, poison, genuine


def test_rows_wait_for_review_and_only_accepted_ones_are_training_data(poisoned, capsys, tmp_path):
    url, poison, genuine = poisoned
    copy = f"sqlite:///{tmp_path / 'f.db'}"
    with FeedbackStore.open(url) as src, FeedbackStore.open(copy) as store:
        for row in src.iter_for_export():
            rec = src.get(row.id)
            store.add(label=rec.label, image_bytes=rec.image, content_type=rec.content_type, image28=rec.image28,
                      predicted=rec.predicted, confidence=rec.confidence, probabilities=rec.probabilities,
                      source=rec.source)
        assert store.count(review="pending") == POISON + GENUINE
        assert len(load_feedback(store)) == 0  # nothing reviewed: nothing to train on

    code, out, err = run(capsys, "feedback", "review", "--database-url", copy, "--limit", "5")
    assert code == 0 and f"{POISON + GENUINE} pending rows" in out, err
    assert len([line for line in out.splitlines() if line.startswith(" ") and line.split()[0].isdigit()]) == 5, out
    first, last = POISON + 1, POISON + GENUINE  # the genuine ones, as the reviewer picks them
    code, out, err = run(capsys, "feedback", "review", "accept", f"{first}-{last}", "--database-url", copy)
    assert code == 0 and f"{GENUINE} rows accepted" in out, err
    code, out, err = run(capsys, "feedback", "review", "reject", "--all-pending", "--database-url", copy)
    assert code == 0 and f"{POISON} rows rejected" in out, err
    code, out, err = run(capsys, "feedback", "review", "accept", "--database-url", copy)
    assert code == 1 and "say which rows" in err, err
    code, out, err = run(capsys, "feedback", "stats", "--json", "--database-url", copy)
    assert json.loads(out)["by_review"] == {"accepted": GENUINE, "rejected": POISON}
    with FeedbackStore.open(copy) as store:
        fs = load_feedback(store)
        assert len(fs) == GENUINE and set(fs.labels.tolist()) != {1}
        assert store.count(review="pending") == 0


def test_the_agreement_check_lets_no_poison_through(poisoned):
    url, poison, genuine = poisoned
    with FeedbackStore.open(url) as store:
        rows = {r.id: r for r in store.iter_for_export()}
        fs = load_feedback(store, which="agreeing")
    # 7s labelled 1: the model gave "1" about 0.01. At most 1% pass (7s the model reads as a 1).
    passed = [i for i in poison if agrees(rows[i].label, rows[i].probabilities)]
    assert len(passed) <= POISON // 100, [(i, rows[i].probabilities) for i in passed]
    assert set(fs.ids.tolist()) & set(poison) == set(passed)
    # Genuine corrections the model found plausible pass (most of a real drawing set).
    assert len(set(fs.ids.tolist()) & set(genuine)) >= 0.8 * GENUINE, len(fs)


def test_poisoned_store_cannot_move_mnist(poisoned, capsys, tmp_path, mnist_dir):
    """The issue's attack: 400 posts, then one fine-tuning epoch (cheap mode). Before quarantine,
    MNIST test fell 99.70% -> 95.16% here (and the held-out feedback 'improved' 6% -> 47%).
    Now the poison waits for a review: fine-tuning on what was accepted (or what agrees) keeps
    MNIST test within 0.3 points, and its report judges on MNIST validation, which feedback
    cannot reach."""
    pytest.importorskip("torch")
    url, poison, genuine = poisoned
    with FeedbackStore.open(url) as store:
        code, _, err = run(capsys, "finetune", "--database-url", url, "--data-dir", str(mnist_dir), "--epochs", "1",
                           "--limit", "2048", "--out", str(tmp_path / "none"), "--no-progress")
        assert code == 1 and "reviewed feedback rows" in err and "digitpad feedback review" in err, err
        store.review(genuine[: GENUINE // 2], "accepted")  # a reviewer accepted half of the genuine ones
    code, out, err = run(capsys, "finetune", "--database-url", url, "--data-dir", str(mnist_dir), "--epochs", "1",
                         "--limit", "2048", "--out", str(tmp_path / "ft"), "--no-progress", "--json",
                         "--feedback", "agreeing")
    assert code == 0, err
    r = json.loads(out)
    # What it trained on: the accepted half, the genuine rows that agree, at most 1% of the poison.
    assert GENUINE // 2 <= r["feedback"]["rows"] <= GENUINE + POISON // 100, r["feedback"]
    before, after = r["before"]["mnist_test_accuracy"], r["after"]["mnist_test_accuracy"]
    assert abs(after - before) <= 0.003, (before, after)
    # The report's judge is MNIST validation (512 images in cheap mode: a point is 5 images).
    assert r["heldout_images"]["mnist_val"] >= 500
    assert abs(r["after"]["mnist_val_accuracy"] - r["before"]["mnist_val_accuracy"]) <= 0.01, r

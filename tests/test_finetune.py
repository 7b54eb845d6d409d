"""Feedback as training data, end to end on real handwriting (pendigits drawings recorded the way
the API records them): ``digitpad feedback stats|export|add`` and ``digitpad finetune`` in its
cheap mode (``--epochs 1 --limit 2048``)."""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from feedback_support import drawings
from PIL import Image

from digitpad.artifact import float_model_path
from digitpad.cli import main
from digitpad.data import parse_idx
from digitpad.errors import ModelError
from digitpad.feedback import record
from digitpad.predict import Predictor
from digitpad.preprocess import preprocess_bytes
from digitpad.reading import Reader
from digitpad.store import FeedbackStore

N = 60


@pytest.fixture(scope="module")
def collected(tmp_path_factory) -> tuple[str, list[tuple[bytes, int]]]:
    """A store holding N real drawings, each recorded with its true label by the API's own path."""
    url = f"sqlite:///{tmp_path_factory.mktemp('feedback') / 'feedback.db'}"
    samples = drawings(N)
    reader = Reader(Predictor(), max_pixels=10_000_000)
    with FeedbackStore.open(url) as store:
        for png, label in samples:
            record(store, reader, data=png, label=label, source="draw")
        store.review(None, "accepted")  # a person looked at them: training data (tests/test_quarantine.py)
    return url, samples


def shown_defaults(command: str) -> dict[str, str]:
    """`digitpad COMMAND --help` as {flag: the default its help shows} (e.g. {"--lr": "0.001"})."""
    r = subprocess.run([sys.executable, "-m", "digitpad.cli", command, "--help"], capture_output=True, text=True,
                       env={**os.environ, "COLUMNS": "400"})  # one line per flag
    assert r.returncode == 0, r.stderr
    text = re.sub(r"\n {20,}(?=\S)", " ", r.stdout)  # a long flag's help starts on the next line
    return dict(re.findall(r"^\s+(--[\w-]+).*\(default:? ([^)]*)\)\s*$", text, flags=re.M))


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def expected_arrays(samples) -> tuple[np.ndarray, np.ndarray]:
    return (np.stack([preprocess_bytes(png).image for png, _ in samples]),  # (N, 28, 28)
            np.array([label for _, label in samples], np.uint8))


# ------------------------------------------------------------------ stats


def test_stats_counts_what_was_posted(collected, capsys):
    url, samples = collected
    code, out, err = run(capsys, "feedback", "stats", "--json", "--database-url", url)
    assert code == 0, err
    st = json.loads(out)
    images, labels = expected_arrays(samples)
    assert st["total"] == N
    assert st["per_label"] == np.bincount(labels, minlength=10).tolist()
    # Live-model accuracy, computed independently from the same model and preprocessing.
    read = Predictor().predict_batch(images)[:, :10].argmax(1)  # the digit read (a 21-class model: digits first)
    assert st["accuracy"] == pytest.approx(float((read == labels).mean()))
    assert np.trace(np.array(st["confusion"])) == int((read == labels).sum())

    code, out, _ = run(capsys, "feedback", "stats", "--database-url", url)
    assert code == 0 and f"feedback: {N} rows" in out and "live model accuracy on feedback" in out, out


# ------------------------------------------------------------------ export


def test_export_npz(collected, capsys, tmp_path):
    url, samples = collected
    code, out, err = run(capsys, "feedback", "export", "--format", "npz", str(tmp_path / "fb.npz"),
                         "--database-url", url)
    assert code == 0, err
    images, labels = expected_arrays(samples)
    with np.load(tmp_path / "fb.npz") as z:
        assert z["images"].shape == (N, 28, 28) and z["images"].dtype == np.uint8
        np.testing.assert_array_equal(z["images"], images)  # the training preprocessing, exactly
        np.testing.assert_array_equal(z["labels"], labels)
        assert z["ids"].tolist() == sorted(z["ids"].tolist()) and len(set(z["ids"].tolist())) == N


@pytest.mark.parametrize("gz", [True, False])
def test_export_idx_is_standard_idx(collected, capsys, tmp_path, gz):
    url, samples = collected
    code, _, err = run(capsys, "feedback", "export", "--format", "idx", str(tmp_path / "idx"),
                       "--database-url", url, "--gzip" if gz else "--no-gzip")
    assert code == 0, err
    suffix = ".gz" if gz else ""
    raw = {}
    for kind, name in (("images", "feedback-images-idx3-ubyte"), ("labels", "feedback-labels-idx1-ubyte")):
        data = (tmp_path / "idx" / (name + suffix)).read_bytes()
        raw[kind] = parse_idx(gzip.decompress(data) if gz else data, kind=kind, expected_count=N)
    images, labels = expected_arrays(samples)
    np.testing.assert_array_equal(raw["images"], images)
    np.testing.assert_array_equal(raw["labels"], labels)


def test_export_png_dir(collected, capsys, tmp_path):
    url, samples = collected
    out = tmp_path / "pngs"
    code, _, err = run(capsys, "feedback", "export", "--format", "png-dir", str(out), "--database-url", url)
    assert code == 0, err
    with FeedbackStore.open(url) as store:
        ids = store.ids()
    files = sorted(out.glob("*/*.png"))
    assert len(files) == N
    images, labels = expected_arrays(samples)
    for fid, img, label in zip(ids, images, labels, strict=True):
        path = out / str(label) / f"{fid}.png"
        assert path.is_file(), path
        np.testing.assert_array_equal(np.asarray(Image.open(path)), img)


def test_export_stored_gives_what_the_model_saw(collected, capsys, tmp_path):
    url, _ = collected
    code, _, err = run(capsys, "feedback", "export", "--stored", str(tmp_path / "s.npz"), "--database-url", url)
    assert code == 0, err
    with FeedbackStore.open(url) as store:
        stored = np.stack([r.image28 for r in store.iter_for_export()])
    with np.load(tmp_path / "s.npz") as z:
        np.testing.assert_array_equal(z["images"], stored)


def test_export_refuses_a_folder_for_npz(collected, capsys, tmp_path):
    code, _, err = run(capsys, "feedback", "export", "--format", "npz", str(tmp_path), "--database-url", collected[0])
    assert code == 1 and "folder" in err and "hint:" in err, err


# ------------------------------------------------------------------ add


def test_feedback_add_records_files(capsys, tmp_path):
    url = f"sqlite:///{tmp_path / 'f.db'}"
    png, label = drawings(1, offset=7)[0]
    (tmp_path / "d.png").write_bytes(png)
    code, out, err = run(capsys, "feedback", "add", "--label", str(label), str(tmp_path / "d.png"), "--database-url", url)
    assert code == 0 and "stored as feedback 1" in out, err
    code, _, err = run(capsys, "feedback", "add", "--label", "12", str(tmp_path / "d.png"), "--database-url", url)
    assert code == 1 and "0-9" in err, err
    with FeedbackStore.open(url) as store:
        row = store.get(1)
        assert store.count() == 1
    assert (row.label, row.source, row.review) == (label, "upload", "pending")
    np.testing.assert_array_equal(preprocess_bytes(row.image).image, preprocess_bytes(png).image)


# ------------------------------------------------------------------ finetune


def test_onnx_weights_rebuild_in_torch_exactly(shipped_float_model, mnist_dir):
    pytest.importorskip("torch")
    from digitpad.data import load_split
    from digitpad.finetune import load_onnx_weights, parity

    images, _ = load_split("test", mnist_dir, download=False)
    model, meta = load_onnx_weights(shipped_float_model)
    assert meta["version"] == Predictor(shipped_float_model).version
    assert parity(model, Predictor(shipped_float_model), images[:300]) < 1e-4


def test_finetune_refuses_an_int8_model(shipped_model, collected, tmp_path, mnist_dir):
    """The served int8 model has no float weights to train: one clear error naming the float model."""
    pytest.importorskip("torch")
    from digitpad.feedback import load_feedback
    from digitpad.finetune import FinetuneConfig, finetune

    with FeedbackStore.open(collected[0]) as store:
        fs = load_feedback(store)
    with pytest.raises(ModelError, match="int8 serving model") as e:
        finetune(fs, FinetuneConfig(epochs=1, limit=256), model_path=shipped_model, data_dir=mnist_dir,
                 out_dir=tmp_path / "ft", progress=False)
    assert "digitnet" in e.value.hint


def test_feedback_split_is_seeded_and_disjoint(collected):
    from digitpad.feedback import load_feedback
    from digitpad.finetune import split_feedback

    with FeedbackStore.open(collected[0]) as store:
        fs = load_feedback(store)
    tr, ho = split_feedback(fs, 0.2, seed=0)
    assert len(ho) == 12 and len(tr) == N - 12 and not set(tr) & set(ho)
    assert [a.tolist() for a in split_feedback(fs, 0.2, seed=0)] == [tr.tolist(), ho.tolist()]
    assert split_feedback(fs, 0.2, seed=1)[1].tolist() != ho.tolist()


def test_finetune_cheap_mode_end_to_end(collected, capsys, tmp_path, mnist_dir):
    pytest.importorskip("torch")
    url, _ = collected
    out = tmp_path / "ft"
    code, stdout, err = run(capsys, "finetune", "--database-url", url, "--data-dir", str(mnist_dir),
                            "--epochs", "1", "--limit", "2048", "--out", str(out), "--no-progress", "--json",
                            "--rotate-deg", "5")
    assert code == 0, err
    r = json.loads(stdout)
    assert (r["feedback"]["rows"], r["feedback"]["train"], r["feedback"]["holdout"]) == (N, N - 12, 12)
    base = Predictor(float_model_path())  # fine-tuning starts from the shipped float model
    assert r["base_model"]["version"] == base.version

    new = Predictor(out / "model.onnx")
    assert new.version == r["model"]["version"] and new.version.startswith(base.version + "-ft")
    m = new.metadata
    assert m["parent"]["version"] == base.version and m["data"]["extra_images"] == N - 12
    # The recipe it ran: the flag given, and for every other knob the default its --help shows.
    recipe = m["recipe"]["finetune"]
    assert recipe["rotate_deg"] == 5 and (recipe["epochs"], recipe["limit"]) == (1, 2048), recipe
    shown = shown_defaults("finetune")
    for name, value in recipe.items():
        if name not in ("rotate_deg", "epochs", "limit"):
            assert shown.get("--" + name.replace("_", "-")) == str(value), (name, value, shown)
    # Its stored figures are the file's own, read by ONNX Runtime as served.
    from digitpad.data import load_split

    x, y = load_split("test", mnist_dir)
    assert m["metrics"]["test_accuracy"] == pytest.approx(float((new.predict_batch(x)[:, :10].argmax(1) == y).mean()))
    assert m["metrics"]["test_accuracy"] == pytest.approx(r["after"]["mnist_test_accuracy"])
    assert m["metrics"]["feedback_holdout_images"] == 12
    # Nothing forgotten: MNIST test accuracy stays where it was (cheap mode: within a point).
    assert r["after"]["mnist_test_accuracy"] >= r["before"]["mnist_test_accuracy"] - 0.01, r
    # Something learned: the model reads the corrections it was trained on at least as well.
    assert r["after"]["train_feedback_accuracy"] >= r["before"]["train_feedback_accuracy"], r
    for key in ("holdout_accuracy", "mnist_test_accuracy"):
        assert 0 <= r["before"][key] <= 1 and 0 <= r["after"][key] <= 1
    card = (out / "MODEL_CARD.md").read_text()
    assert "## Fine-tuning" in card and new.version in card
    assert json.loads((out / "finetune.json").read_text())["after"] == r["after"]
    # ... and its int8 twin, measured against it.
    q = Predictor(out / "model.int8.onnx")
    assert r["int8_model"]["version"] == q.version == new.version + "-int8"
    assert q.metadata["quantization"]["float_model"]["version"] == new.version
    assert q.metadata["quantization"]["argmax_agreement"] >= 0.99

    # The server can be pointed at it.
    from fastapi.testclient import TestClient

    from digitpad.settings import Settings
    from digitpad.web.app import create_app

    with TestClient(create_app(Settings(model=out / "model.onnx", feedback=False))) as c:
        assert c.get("/api/model").json()["version"] == new.version
        png = io.BytesIO()
        Image.fromarray(255 - np.kron(expected_arrays(drawings(1))[0][0], np.ones((8, 8), np.uint8))).save(png, "PNG")
        assert c.post("/api/predict", files={"image": ("d.png", png.getvalue(), "image/png")}).status_code == 200


@pytest.mark.parametrize("command, config", [("train", "TrainConfig"), ("finetune", "FinetuneConfig")])
def test_recipe_flags_are_the_config(command, config):
    """Each knob of the run's config is a flag whose help shows the default the code uses, and
    there is no other recipe flag (a flag the run ignores is refused)."""
    from dataclasses import fields

    from digitpad import recipe

    cls = getattr(recipe, config)
    knobs = {f"--{f.name.replace('_', '-')}": f.default for f in fields(cls) if "help" in f.metadata}
    shown = shown_defaults(command)
    assert {flag: shown.get(flag) for flag in knobs} == {
        flag: (None if value is None else str(value)) for flag, value in knobs.items()}
    assert shown["--lr"] == str(cls().lr)


@pytest.mark.parametrize("flag", ["--split-seed", "--val-size", "--ema-decay", "--frobnicate"])
def test_finetune_refuses_flags_it_would_ignore(flag, tmp_path):
    """Training's validation split and EMA are not fine-tuning knobs (it uses the base model's
    split and keeps no EMA): an argparse error, nothing run."""
    r = subprocess.run([sys.executable, "-m", "digitpad.cli", "finetune", flag, "3", "--out", str(tmp_path / "ft")],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "unrecognized arguments" in r.stderr, r.stderr
    assert not (tmp_path / "ft").exists()


def test_finetune_needs_feedback(capsys, tmp_path, mnist_dir):
    pytest.importorskip("torch")
    code, _, err = run(capsys, "finetune", "--database-url", f"sqlite:///{tmp_path / 'empty.db'}",
                       "--data-dir", str(mnist_dir), "--out", str(tmp_path / "ft"), "--no-progress")
    assert code == 1 and "at least 2 reviewed feedback rows" in err and "hint:" in err, err
    assert not (Path(tmp_path) / "ft" / "model.onnx").exists()

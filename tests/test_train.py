"""Training (cheap mode), resumability, the self-describing artifact and ONNX export parity."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="training tests need the train extra (torch)")

from digitpad.charset import CLASSES  # noqa: E402
from digitpad.data import load_split  # noqa: E402
from digitpad.predict import Predictor  # noqa: E402


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, mnist_dir: Path) -> Path:
    """`digitpad train` in its cheap mode, run once for the session as a real subprocess."""
    out = tmp_path_factory.mktemp("tiny-run")
    r = subprocess.run(
        [sys.executable, "-m", "digitpad.cli", "train", "--data-dir", str(mnist_dir), "--epochs", "1",
         "--limit", "2048", "--batch-size", "64", "--out", str(out), "--no-progress", "--version", "tiny-test"],
        capture_output=True, text=True, timeout=600,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "model tiny-test" in r.stdout
    return out


def test_tiny_run_learns(tiny_run: Path, mnist_dir: Path):
    """2,048 images, one epoch: far above chance (10%) on MNIST test images it never saw."""
    pred = Predictor(tiny_run / "model.onnx")
    x, y = load_split("test", mnist_dir)
    acc = float((pred.predict_batch(x[:2000])[:, :10].argmax(1) == y[:2000]).mean())  # read as digits
    assert acc > 0.5, acc
    assert pred.metadata["metrics"]["test_accuracy"] > 0.5


def test_artifact_describes_itself(tiny_run: Path):
    meta = Predictor(tiny_run / "model.onnx").metadata
    assert meta["version"] == "tiny-test"
    for key in ("architecture", "input", "normalization", "labels", "recipe", "data", "metrics", "created", "parity",
                "calibration", "thresholds"):
        assert key in meta, key
    assert meta["recipe"]["epochs"] == 1 and meta["recipe"]["limit"] == 2048
    assert meta["labels"] == list(CLASSES) and meta["output"]["shape"] == ["N", 21]
    t = meta["thresholds"]
    assert 0 <= t["not_digit"] <= t["doubtful_digit"] < 1 and 0 < t["uncertain"] < 1, t
    assert meta["calibration"]["temperature"] > 0 and meta["data"]["trained_on"].startswith("MNIST (2,048")
    assert len(meta["data"]["checksums_sha256"]) == 4
    assert 0 < meta["metrics"]["val_accuracy"] <= 1
    card = (tiny_run / "MODEL_CARD.md").read_text()
    assert "tiny-test" in card and "Per-class" in card
    rows = [json.loads(line) for line in (tiny_run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1]


def test_run_writes_an_int8_twin(tiny_run: Path, mnist_dir: Path):
    """model.int8.onnx: derived from model.onnx (named by sha256), reads like it, and its
    recorded test accuracy is real."""
    import hashlib

    f, q = Predictor(tiny_run / "model.onnx"), Predictor(tiny_run / "model.int8.onnx")
    meta = q.metadata["quantization"]
    assert q.version == "tiny-test-int8"
    assert meta["float_model"]["sha256"] == hashlib.sha256((tiny_run / "model.onnx").read_bytes()).hexdigest()
    x, y = load_split("test", mnist_dir)
    pf, pq = f.predict_batch(x)[:, :10].argmax(1), q.predict_batch(x)[:, :10].argmax(1)  # MNIST: read as digits
    assert (pf == pq).mean() >= 0.98 and (pf == pq).mean() == pytest.approx(meta["argmax_agreement"])
    assert (pq == y).mean() == pytest.approx(q.metadata["metrics"]["test_accuracy"])
    assert "int8 serving model (`tiny-test-int8`)" in (tiny_run / "MODEL_CARD.md").read_text()


def test_quantize_cli(tiny_run: Path, mnist_dir: Path, tmp_path: Path):
    out = tmp_path / "q.onnx"
    cmd = [sys.executable, "-m", "digitpad.cli", "quantize", "--data-dir", str(mnist_dir)]
    # The whole command, run in a fresh interpreter, never imports torch (onnx + ONNX Runtime only).
    argv = ["quantize", "--data-dir", str(mnist_dir), str(tiny_run / "model.onnx"), "--out", str(out)]
    code = (f"import sys; from digitpad.cli import main; rc = main({argv!r}); "
            "assert 'torch' not in sys.modules, 'torch imported'; sys.exit(rc)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0 and "model tiny-test-int8" in r.stdout, r.stderr
    assert Predictor(out).metadata["quantization"]["calibration"]["source"] == "MNIST training images"
    r = subprocess.run([*cmd, str(out)], capture_output=True, text=True)  # int8 again: one line + hint
    assert r.returncode == 1 and "already quantized" in r.stderr and "hint:" in r.stderr, r.stderr
    # --ship only installs the twin of the shipped float model (checked before any work).
    from digitpad.artifact import default_model_path

    served = default_model_path().read_bytes()
    r = subprocess.run([*cmd, str(tiny_run / "model.onnx"), "--out", str(tmp_path / "x.onnx"), "--ship"],
                       capture_output=True, text=True)
    assert r.returncode == 1 and "not the shipped float model" in r.stderr, r.stderr
    assert not (tmp_path / "x.onnx").exists() and default_model_path().read_bytes() == served


def test_thresholds_cli_rechooses_on_validation_and_rewrites_both_files(tiny_run: Path, mnist_dir: Path, tmp_path: Path):
    """`digitpad thresholds --write` (torch-free): the float model's thresholds.choose on MNIST's
    validation split under today's budgets, stored in model.onnx, its int8 twin and the card."""
    import hashlib
    import shutil

    from digitpad import rethreshold, thresholds
    from digitpad.data import split_train_val
    from digitpad.recipe import TrainConfig

    for name in ("model.onnx", "model.int8.onnx", "MODEL_CARD.md"):
        shutil.copy(tiny_run / name, tmp_path / name)
    model = tmp_path / "model.onnx"
    stale = {"not_digit": 0.01, "doubtful_digit": 0.01, "uncertain": 0.123, "rule": thresholds.RULE}
    for f in (model, tmp_path / "model.int8.onnx"):
        rethreshold.write(f, stale)
    argv = ["thresholds", "--data-dir", str(mnist_dir), str(model), "--write"]
    code = (f"import sys; from digitpad.cli import main; rc = main({argv!r}); "
            "assert 'torch' not in sys.modules, 'torch imported'; sys.exit(rc)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0 and "uncertain 0.123" in r.stdout, r.stdout + r.stderr

    _, (vx, vy) = split_train_val(*load_split("train", mnist_dir), TrainConfig(limit=2048))  # tiny_run's split
    want = thresholds.choose(Predictor(model).predict_batch(vx), vy)  # the float model, MNIST validation
    for f in (model, tmp_path / "model.int8.onnx"):
        got = Predictor(f).metadata["thresholds"]
        assert {k: got[k] for k in want} == want and got["budgets"] == thresholds.BUDGETS, (f, got)
    assert want["uncertain"] != stale["uncertain"]
    q = Predictor(tmp_path / "model.int8.onnx").metadata["quantization"]  # the twin still names its float model
    assert q["float_model"]["sha256"] == hashlib.sha256(model.read_bytes()).hexdigest()
    card = (tmp_path / "MODEL_CARD.md").read_text()
    assert f"uncertain below confidence **{want['uncertain']}**" in card and "**0.123**" not in card
    r = subprocess.run([sys.executable, "-m", "digitpad.cli", "thresholds", "--data-dir", str(mnist_dir),
                        str(tmp_path / "model.int8.onnx")], capture_output=True, text=True)
    assert r.returncode == 1 and "int8 model" in r.stderr and "hint:" in r.stderr, r.stderr


def test_export_parity_1000_test_images(tiny_run: Path, mnist_dir: Path):
    """PyTorch (rebuilt from best.pt: the exported weights, temperature baked in) and ONNX
    Runtime logits agree within 1e-4."""
    from digitpad.model import build_model
    from digitpad.preprocess import normalize

    ck = torch.load(tiny_run / "best.pt", weights_only=True)
    assert ck["temperature"] == Predictor(tiny_run / "model.onnx").metadata["calibration"]["temperature"]
    model = build_model(ck["config"])
    model.load_state_dict(ck["model"])
    model.eval()
    x, _ = load_split("test", mnist_dir)
    with torch.no_grad():
        ref = model(torch.from_numpy(normalize(x[:1000]))).numpy()
    got = Predictor(tiny_run / "model.onnx").logits(x[:1000])
    assert np.abs(ref - got).max() < 1e-4
    assert Predictor(tiny_run / "model.onnx").metadata["parity"]["max_abs_logit_diff"] < 1e-4


def test_resume_gives_the_same_model(tmp_path: Path, mnist_dir: Path):
    """Stopping after epoch 1 and resuming equals an uninterrupted 2-epoch run (seeded). An
    extra validation set (here: test images, as a stand-in) is logged and changes nothing."""
    from digitpad.recipe import TrainConfig
    from digitpad.train import train

    cfg = TrainConfig(epochs=2, limit=512, batch_size=64, val_size=256)
    x, y = load_split("test", mnist_dir)
    full = train(cfg, data_dir=mnist_dir, out_dir=tmp_path / "a", progress=False, export=False,
                 extra_val={"other": (x[:300], y[:300])})
    rows = [json.loads(line) for line in (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()]
    assert [0 <= r["val_acc_other"] <= 1 for r in rows] == [True, True], rows
    assert full["data"]["extra_val_images"] == {"other": 300}
    assert train(cfg, data_dir=mnist_dir, out_dir=tmp_path / "b", progress=False, export=False,
                 stop_after_epoch=1) is None
    resumed = train(cfg, data_dir=mnist_dir, out_dir=tmp_path / "b", progress=False, export=False, resume=True)
    a = torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=False)["model"]
    b = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=False)["model"]
    for k in a:
        assert torch.allclose(a[k].float(), b[k].float(), atol=1e-6), k
    assert full["metrics"]["val_accuracy"] == resumed["metrics"]["val_accuracy"]


def test_augment_keeps_shape_and_range():
    from digitpad.augment import augment
    from digitpad.recipe import TrainConfig

    x = torch.zeros(8, 1, 28, 28)
    x[:, :, 8:20, 12:16] = 1.0
    out = augment(x, TrainConfig(), torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    assert out.min() >= 0 and out.max() <= 1.0 + 1e-6
    assert not torch.allclose(out, x)  # it did something
    assert (out.sum(dim=(1, 2, 3)) > 0).all()  # and never erased the digit


def test_closing_fills_a_heavy_pens_loops_and_keeps_the_stroke():
    """closing_p: a ring's hole narrower than the window fills (a 5x5 fills 4 px, a 3x3 does
    not); the ink outside stays where it was (no thickening)."""
    from dataclasses import replace

    from digitpad.augment import augment
    from digitpad.recipe import TrainConfig

    x = torch.zeros(64, 1, 28, 28)
    x[:, :, 8:20, 8:20] = 1.0
    x[:, :, 12:16, 12:16] = 0.0  # a square ring with a 4x4 hole
    still = TrainConfig(rotate_deg=0, scale=0, aspect=0, shear=0, shift_px=0, elastic_p=0, thickness_p=0)
    out = augment(x, replace(still, closing_p=1.0), torch.Generator().manual_seed(0))
    hole = out[:, 0, 12:16, 12:16].mean(dim=(1, 2))
    filled = hole > 0.99
    assert 10 < int(filled.sum()) < 54  # about half: the 5x5 closings
    assert torch.allclose(hole[~filled], torch.zeros(int((~filled).sum())), atol=1e-6)  # the 3x3 ones
    ring = x[0, 0] > 0
    assert torch.allclose(out[:, 0][:, ring], torch.ones(64, int(ring.sum())), atol=1e-6)
    outside = torch.ones(28, 28, dtype=torch.bool)
    outside[8:20, 8:20] = False
    assert out[:, 0][:, outside].abs().max() < 1e-6  # the stroke's weight is kept


def test_int8_row_of_a_shipped_card(tiny_run: Path):
    """`quantize --ship` rewrites the shipped card's int8 row, or adds one to an older card."""
    from digitpad.card import int8_row, with_int8_row

    card = (tiny_run / "MODEL_CARD.md").read_text()
    q = Predictor(tiny_run / "model.int8.onnx").metadata
    other = {**q, "version": "other-int8"}
    new = with_int8_row(card, other)
    assert int8_row(other) in new and int8_row(q) not in new
    assert new.replace(int8_row(other), int8_row(q)) == card  # nothing else changed
    old = card.replace(int8_row(q) + "\n", "")
    assert int8_row(q) not in old and int8_row(q) in with_int8_row(old, q)
    assert with_int8_row(old, q).index(int8_row(q)) < with_int8_row(old, q).index("## ")


def test_ensemble_artifact(tiny_run: Path, tmp_path: Path, mnist_dir: Path):
    """`digitpad ensemble` combines runs into one ONNX graph with its own metadata and parity."""
    out = tmp_path / "ens"
    r = subprocess.run([sys.executable, "-m", "digitpad.cli", "ensemble", "--data-dir", str(mnist_dir),
                        str(tiny_run), str(tiny_run), "--out", str(out), "--version", "tiny-ens"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    ens, single = Predictor(out / "model.onnx"), Predictor(tiny_run / "model.onnx")
    meta = ens.metadata
    assert meta["version"] == "tiny-ens" and len(meta["architecture"]["members"]) == 2
    assert [m["version"] for m in meta["metrics"]["members"]] == ["tiny-test", "tiny-test"]
    assert meta["parity"]["max_abs_logit_diff"] < 1e-4
    # Two copies of one member read exactly as that member does.
    x, _ = load_split("test", mnist_dir)
    assert np.abs(ens.predict_batch(x[:200]) - single.predict_batch(x[:200])).max() < 1e-4
    assert "## Members" in (out / "MODEL_CARD.md").read_text()


def test_training_on_the_handwriting_corpus(tmp_path: Path, mnist_dir: Path, pendigits_path: Path, unipen_dir: Path):
    """--pendigits with --unipen trains on the corpus's train writers only, chooses on its val
    writers, measures its test writers at the end, and the artifact says all of it."""
    from digitpad import charset, handwriting, trainset

    r = subprocess.run(
        [sys.executable, "-m", "digitpad.cli", "train", "--data-dir", str(mnist_dir), "--epochs", "1",
         "--limit", "256", "--out", str(tmp_path / "run"), "--no-progress", "--pendigits", str(pendigits_path),
         "--unipen", str(unipen_dir), "--handwriting-limit", "12", "--reader-numbers", "6",
         "--corpus-cache", str(tmp_path / "cache")],
        capture_output=True, text=True, timeout=600,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "held-out writers: unipen" in r.stdout, r.stdout
    meta = Predictor(tmp_path / "run" / "model.onnx").metadata
    hw, splits = meta["data"]["handwriting"], handwriting.writer_splits(pendigits_path=pendigits_path, unipen_dir=unipen_dir)
    for source in ("pendigits", "unipen"):  # the one writer split, written down whole
        assert {w for ws in hw["writer_split"][source].values() for w in ws} == \
            {w for w in splits if (":" in w) == (source == "unipen")}
    assert "UNIPEN consortium, Guyon et al. 1994" in hw["sources"]["unipen"]["credit"]
    assert "UNIPEN consortium, Guyon et al. 1994" in meta["data"]["trained_on"]
    crops = hw["reader_crops"]  # the reader's candidates of 6 composed numbers: a share of the epoch
    assert crops["numbers"] == 6 and crops["images"] > crops["other"] > 0
    assert meta["data"]["epoch"]["reader"] == round(sum(meta["data"]["epoch"].values()) * 0.15)
    assert meta["labels"] == list(charset.CLASSES)
    assert meta["calibration"]["fit_on"].startswith("validation: mnist (256 digits) + pen (")
    assert meta["thresholds"]["chosen_on"] == meta["calibration"]["fit_on"]
    held = meta["metrics"]["heldout"]
    assert held["writers"] == "test" and held["unipen"]["n"] > 0 and held["not_digits"]["letter"]["n"] > 0
    int8 = Predictor(tmp_path / "run" / "model.int8.onnx").metadata
    assert int8["metrics"]["heldout"]["unipen"]["n"] == held["unipen"]["n"]  # measured again, on the int8 file
    assert int8["thresholds"] == meta["thresholds"]
    card = (tmp_path / "run" / "MODEL_CARD.md").read_text()
    assert "**Trained on:** MNIST" in card and "## Held-out writers" in card
    # What the run read: train writers for training, val writers for validation, nothing else.
    data = trainset.load_handwriting(pendigits_path=pendigits_path, unipen_dir=unipen_dir,
                                     cache_dir=tmp_path / "cache", limit=12)
    assert {splits[w] for w in set(data.train.writer.tolist()) if w in splits} == {"train"}
    assert {splits[w] for w in set(data.val.writer.tolist()) if w in splits} == {"val"}
    assert (data.train.labels >= 0).all() and not set(data.train.char.tolist()) & set(charset.DIGIT_LIKE)


@pytest.mark.parametrize("flags, message", [
    (["--pendigits", "no/such.jsonl.gz", "--unipen", "."], "no pendigits file"),
    (["--pendigits", "PENDIGITS"], "--pendigits and --unipen go together"),
    (["--pendigits", "PENDIGITS", "--unipen", "no/such/folder"], "no UNIPEN files"),
])
def test_training_on_handwriting_bad_flags(tmp_path: Path, mnist_dir: Path, pendigits_path: Path, flags, message):
    args = [str(pendigits_path) if a == "PENDIGITS" else a for a in flags]
    r = subprocess.run([sys.executable, "-m", "digitpad.cli", "train", "--data-dir", str(mnist_dir), "--epochs", "1",
                        "--limit", "256", "--out", str(tmp_path), "--no-progress", *args],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 1 and message in r.stderr and "hint:" in r.stderr, r.stderr


def test_train_sequence_cheap_run(tmp_path: Path, pendigits_path: Path, unipen_dir: Path, mnist_dir: Path):
    """`digitpad train-sequence` in a cheap configuration: a file that loads as served, saying its
    recipe (pen writers' and MNIST strings), its epochs' figures on val writers' strings and
    torch/ONNX Runtime parity."""
    from digitpad.recipe import SequenceConfig
    from digitpad.sequence import SequenceModel

    out = tmp_path / "seq.onnx"
    r = subprocess.run(
        [sys.executable, "-m", "digitpad.cli", "train-sequence", "--pendigits", str(pendigits_path), "--unipen",
         str(unipen_dir), "--data-dir", str(mnist_dir), "--strings", "64", "--mnist", "16", "--epochs", "2",
         "--val-strings", "8", "--out", str(out)],
        capture_output=True, text=True, timeout=600,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "epoch 2/2" in r.stdout and f"wrote {out}" in r.stdout
    meta = SequenceModel(out).metadata
    assert meta["recipe"]["strings"] == 64 and meta["recipe"]["val_strings"] == 8 and meta["recipe"]["mnist"] == 16
    # the defaults train the shipped recipe: a share of the strings with a number's separators
    assert meta["recipe"]["separators"] == SequenceConfig().separators > 0
    assert meta["trained_on"].startswith("64 strings") and "with a number's separators" in meta["trained_on"]
    assert "and 16 of MNIST training digits" in meta["trained_on"]
    assert [h["epoch"] for h in meta["history"]] == [1, 2] and all(h["loss"] > 0 for h in meta["history"])
    assert meta["parity"]["max_abs_logp_diff"] <= 1e-4 and meta["parity"]["views"] == 8
    card = (tmp_path / "SEQ_CARD.md").read_text()
    assert f"`{meta['version']}`" in card and "| 2 |" in card and f"{meta['parameters']:,} parameters" in card
    bad = subprocess.run([sys.executable, "-m", "digitpad.cli", "train-sequence", "--pendigits", str(tmp_path / "no"),
                          "--unipen", str(unipen_dir)], capture_output=True, text=True)
    assert bad.returncode != 0 and "no pendigits file" in bad.stderr and "Traceback" not in bad.stderr


def test_sequence_distort_draws_a_view_again_without_losing_its_ink():
    """``seqtrain.distort``: the same height, every column of the ink kept (none at the edges),
    about the same ink, in [0, 1]; the same seed gives the same drawing, another seed another."""
    import random

    from digitpad.seqtrain import distort

    x = np.zeros((32, 80), np.float32)
    x[4:28, 10:13] = 1.0  # a "1"
    x[4:7, 30:60] = x[4:28, 57:60] = 0.8  # a "7"
    drawn = []
    for seed in range(40):
        y = distort(x, random.Random(seed))
        assert y.shape[0] == 32 and 0.75 * 80 <= y.shape[1] <= 1.25 * (80 + 0.35 * 32) + 2 + 4  # + a 5x5 max's sides
        assert y.min() >= 0 and y.max() <= 1
        assert y[:, 0].max() < 0.05 and y[:, -1].max() < 0.05, seed  # nothing cut off at the sides
        assert 0.4 < y.sum() / x.sum() < 3.5, (seed, y.sum() / x.sum())  # 3-column strokes: up to 7 when heavier
        drawn.append(y)
    np.testing.assert_array_equal(distort(x, random.Random(7)), drawn[7])
    assert len({y.tobytes() for y in drawn}) == 40


def test_sequence_strings_with_separators(tmp_path: Path, pendigits_path: Path, unipen_dir: Path):
    """``SequenceConfig.separators``: a hand that never wrote a simple separator gets drawn ones
    (its own drawings kept, no '$' or '%' made up); that share of the strings holds a number's
    separators, labelled as themselves, the rest digits (and OTHER for letters); the model's
    alphabet and output say so, and it loads as served. With no separators, no string has one."""
    from digitpad import compose
    from digitpad.recipe import SequenceConfig
    from digitpad.seqtrain import DRAWN_SEPARATORS, SEPARATOR_ALPHABET, alphabet, strings, train, with_drawn_separators
    from digitpad.sequence import SequenceModel

    hands = compose.load_hands(unipen_dir, pendigits_path, split="train")
    drawn = with_drawn_separators(hands)
    assert [h.writer for h in drawn] == [h.writer for h in hands]
    for old, new in zip(hands, drawn):
        for ch in "-.,/:()+":
            assert new.chars[ch] == old.chars[ch] if ch in old.chars else len(new.chars[ch]) == DRAWN_SEPARATORS
        assert ("$" in new.chars) == ("$" in old.chars) and ("%" in new.chars) == ("%" in old.chars)
        assert new.letters is old.letters
    assert any("-" not in h.chars for h in hands)  # (the data has hands to fill)

    assert alphabet(0.0) == "0123456789?" and alphabet(0.3) == SEPARATOR_ALPHABET
    plain = strings(drawn, 40, 50_000, 2, 1, letters=0.2)
    assert all(set(t) <= set("0123456789?") for _, t in plain)
    mixed = strings(drawn, 40, 50_000, 2, 1, letters=0.2, separators=0.5)
    with_seps = [t for _, t in mixed if set(t) & set(compose.SEPARATORS)]
    assert 8 <= len(with_seps) <= 32 and all(set(t) <= set(SEPARATOR_ALPHABET) for _, t in mixed)

    out = tmp_path / "seq.onnx"
    meta = train(SequenceConfig(strings=24, mnist=0, epochs=1, val_strings=4, separators=0.5, jobs=1), hands, [],
                 str(out), log=lambda line: None)
    model = SequenceModel(out)
    assert model.alphabet == SEPARATOR_ALPHABET and meta["output"]["blank"] == len(SEPARATOR_ALPHABET)
    assert "with a number's separators" in meta["trained_on"] and meta["recipe"]["separators"] == 0.5
    assert "reads a run of digits and separators" in (tmp_path / "SEQ_CARD.md").read_text()

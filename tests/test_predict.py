"""The ONNX predictor: batch == single, thread safety, metadata, errors, and no torch."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from digitpad import charset
from digitpad.errors import ModelError
from digitpad.predict import Batcher, Predictor


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    return Predictor()


@pytest.fixture(scope="module")
def test_images(mnist_dir: Path):
    from digitpad.data import load_split

    x, y = load_split("test", mnist_dir)
    return x[:300], y[:300]


def test_batch_equals_single(predictor: Predictor, test_images):
    x, _ = test_images
    batch = predictor.predict_batch(x[:64])
    single = np.stack([predictor.predict(img).probabilities for img in x[:64]])
    assert np.abs(batch - single).max() < 1e-5


def test_probabilities_are_a_distribution(predictor: Predictor, test_images):
    p = predictor.predict_batch(test_images[0])
    assert p.shape == (300, len(predictor.labels)) and p.dtype == np.float32
    assert np.allclose(p.sum(1), 1, atol=1e-5) and (p >= 0).all()


def test_shipped_model_reads_mnist(predictor: Predictor, test_images):
    x, y = test_images
    assert (predictor.predict_batch(x).argmax(1) == y).mean() > 0.95


def test_thread_safe(predictor: Predictor, test_images):
    x, _ = test_images
    expected = predictor.predict_batch(x).argmax(1)
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda i: predictor.predict(x[i]).digit, range(len(x))))
    assert got == expected.tolist()


def test_batcher_runs_requests_that_come_together_once(predictor: Predictor, test_images):
    """The server's Batcher: the answers of one by one, in one model run per loop turn."""
    import asyncio

    x, _ = test_images
    runs: list[int] = []

    class Counting(Predictor):
        def predict_batch(self, images: np.ndarray) -> np.ndarray:
            runs.append(len(images))
            return super().predict_batch(images)

    async def main() -> list:
        batcher = Batcher(Counting(predictor.path), max_batch=16)
        together = await asyncio.gather(*(batcher.predict(img) for img in x[:40]))
        alone = await batcher.predict(x[40])
        return [*together, alone]

    got = asyncio.run(main())
    assert runs == [16, 16, 8, 1]  # 40 at once: max_batch each; then a lone request
    for (probs, ms), img in zip(got, x):
        assert probs.tolist() == predictor.predict_batch(img[None])[0].tolist()  # the int8 model: identical
        assert 0 < ms < 1000


def test_batcher_failure_reaches_every_waiter_and_skips_the_cancelled(predictor: Predictor, test_images):
    import asyncio

    x, _ = test_images
    seen: list[int] = []

    class Broken(Predictor):
        def predict_batch(self, images: np.ndarray) -> np.ndarray:
            seen.append(len(images))
            raise RuntimeError("model failed")

    async def main() -> list:
        batcher = Batcher(Broken(predictor.path))
        tasks = [asyncio.ensure_future(batcher.predict(img)) for img in x[:3]]
        await asyncio.sleep(0)  # all three queued
        tasks[0].cancel()  # a request that timed out meanwhile: not read at all
        return await asyncio.gather(*tasks, return_exceptions=True)

    results = asyncio.run(main())
    assert seen == [2]
    assert isinstance(results[0], asyncio.CancelledError)
    assert all(isinstance(r, RuntimeError) for r in results[1:])


def test_metadata(predictor: Predictor):
    m = predictor.metadata
    assert predictor.version == m["version"]
    assert m["input"]["shape"][1:] == [1, 28, 28]
    assert m["normalization"]["mean"] == pytest.approx(0.1307)
    assert m["labels"][:10] == [str(i) for i in range(10)]  # digits first: index = digit
    assert m["labels"] == list(charset.CLASSES)  # the shipped model reads the number alphabet and `other`


def test_served_model_is_the_int8_twin_of_the_shipped_float_model(predictor: Predictor, shipped_float_model: Path):
    """The default model is the int8 file derived from the shipped float one, which it names by
    sha256: shipping a new float model without re-quantizing it fails here."""
    q = predictor.metadata["quantization"]
    f = Predictor(shipped_float_model)
    assert predictor.path.name == "digitpad.int8.onnx"
    assert q["float_model"]["sha256"] == hashlib.sha256(shipped_float_model.read_bytes()).hexdigest(), \
        "run: digitpad quantize digitpad/models/digitpad.onnx --ship"
    assert predictor.version == f.version + "-int8" == q["float_model"]["version"] + "-int8"
    assert f.metadata["parity"]["max_abs_logit_diff"] < 1e-4  # torch vs ONNX, for the float file


def test_int8_reads_like_the_float_model(predictor: Predictor, shipped_float_model: Path, mnist_dir: Path):
    from digitpad.data import load_split

    x, _ = load_split("test", mnist_dir)
    pf = Predictor(shipped_float_model, threads=0).predict_batch(x[:3000])  # (3000, 21)
    pq = predictor.predict_batch(x[:3000])
    assert (pf[:, :10].argmax(1) == pq[:, :10].argmax(1)).mean() >= 0.999  # the digit read
    # No further from the float model than the int8 file's metadata says (measured on all 10,000).
    assert np.abs(pf - pq).max() <= predictor.metadata["quantization"]["max_abs_probability_diff"] + 1e-6


def test_int8_weights_cannot_saturate_a_cpu_without_vnni(predictor: Predictor):
    """x86 CPUs without VNNI (AVX2 only) sum two uint8 x int8 products into an int16: with
    weights in 7 bits, 2 * 255 * 64 = 32,640 fits, so the served model reads alike on every CPU.
    The first int8 file had full 8-bit weights: on an AVX2 CPU it agreed with its float model on
    99.66% of MNIST's test digits (probabilities up to 0.96 apart), against 99.99% on a VNNI CPU,
    where the test above could not see it."""
    onnx = pytest.importorskip("onnx")  # the train extra (make test installs it): reads the file's weights

    proto = onnx.load(str(predictor.path))
    weights = [onnx.numpy_helper.to_array(t).astype(np.int32) for t in proto.graph.initializer
               if t.data_type == onnx.TensorProto.INT8 and len(t.dims) > 1]  # not the zero points (cout,)
    assert sorted(w.ndim for w in weights) == [2] + [4] * 6  # the linear layer and the six convolutions
    assert max(int(np.abs(w).max()) for w in weights) <= 64, "quantize with reduce_range (digitpad quantize)"
    assert "reduce_range" in predictor.metadata["quantization"]["scheme"]


def test_bad_model_files(tmp_path: Path):
    with pytest.raises(ModelError, match="not found"):
        Predictor(tmp_path / "missing.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not an onnx model")
    with pytest.raises(ModelError, match="not a loadable ONNX model"):
        Predictor(bad)


def test_wrong_shape_is_rejected(predictor: Predictor):
    with pytest.raises(ValueError, match="28, 28"):
        predictor.predict_batch(np.zeros((2, 32, 32), np.uint8))


def test_importing_predict_does_not_import_torch():
    code = "import sys, digitpad.predict, digitpad.preprocess, digitpad.cli; assert 'torch' not in sys.modules, 'torch imported'"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_shipped_model_meets_its_claim(predictor: Predictor, mnist_dir: Path):
    """The shipped model's recorded test accuracy is real (re-measured here) and >= 99.5%.

    Issue 14's target is 99.70%: ``digitnet-2.1`` met it (99.70%); ``digitnet-2.2`` read 99.64%
    and ``digitnet-2.3`` (a third of MNIST's share of each epoch given to the number reader's own
    candidates, chosen on validation writers' whole numbers) reads 99.59%, reported as not met in
    BENCHMARKS.md. The floor here catches a broken model, not the target."""
    from digitpad.evaluate import evaluate

    result = evaluate(predictor, mnist_dir)
    claimed = predictor.metadata["metrics"]["test_accuracy"]
    assert abs(result["accuracy"] - claimed) < 2e-4, (result["accuracy"], claimed)
    assert result["accuracy"] >= 0.995, result["accuracy"]


def test_predict_files_in_processes_matches_one_by_one(predictor: Predictor, test_images, tmp_path: Path):
    """The pooled path (>= 64 files: decoding processes, batches predicted as they fill) gives
    each file the answer it gets alone, in order, with errors and empty images in place."""
    from PIL import Image

    from digitpad.batch import default_jobs, read_files
    from digitpad.preprocess import preprocess_bytes
    from digitpad.reading import Reader, digit_view

    x, _ = test_images
    paths = []
    for i in range(90):
        p = tmp_path / f"{i:03d}.png"
        if i == 17:
            p.write_bytes(b"not an image")
        elif i == 40:
            Image.new("L", (28, 28), 0).save(p)  # blank: empty
        else:
            Image.fromarray(x[i]).save(p)
        paths.append(p)
    reader = Reader(predictor, max_pixels=10**7)
    rows = read_files(reader, paths, batch_size=16, jobs=2)
    assert [r["file"] for r in rows] == [str(p) for p in paths]
    assert rows[17]["status"] == "error" and rows[17]["error"] and rows[17]["digit"] is None
    assert rows[40]["status"] == "empty" and rows[40]["error"] is None
    for i in (0, 1, 39, 41, 89):
        digits, _ = digit_view(predictor.predict_batch(preprocess_bytes(paths[i].read_bytes()).image[None])[0])
        assert rows[i]["digit"] == int(digits.argmax()) and rows[i]["error"] is None
        assert rows[i]["probabilities"] == [round(float(v), 6) for v in digits]
    assert default_jobs(paths) == max(1, (os.cpu_count() or 1) - 1)  # small files: a core for the model


def test_digit_view_and_thresholds_make_the_status() -> None:
    """A 21-class reading shows the digits renormalised; the digit likelihood and the thresholds
    decide 'not_digit', 'uncertain' and 'ok' (the rule on-device mode repeats in ondevice.js)."""
    from digitpad.reading import Thresholds, digit_view

    probs = np.zeros(21, np.float32)
    probs[7], probs[1], probs[20] = 0.3, 0.1, 0.6  # 40% a digit, mostly a 7
    digits, likelihood = digit_view(probs)
    assert digits.dtype == np.float32 and abs(float(digits.sum()) - 1) < 1e-6
    assert int(digits.argmax()) == 7 and abs(float(digits[7]) - 0.75) < 1e-6 and abs(likelihood - 0.4) < 1e-6
    t = Thresholds(uncertain=0.8, not_digit=0.5, doubtful=0.9)
    assert t.status(0.75, likelihood, empty=False) == "not_digit"
    assert t.status(0.99, 0.95, empty=False) == "ok"
    assert t.status(0.99, 0.6, empty=False) == "uncertain"  # likely a digit, but doubtfully
    assert t.status(0.7, 0.95, empty=False) == "uncertain"
    assert t.status(0.0, 0.0, empty=True) == "empty"
    ten = np.full(10, 0.1, np.float32)
    assert digit_view(ten)[1] == 1.0  # a digits-only model cannot say "not a digit"
    own = Thresholds.of({"thresholds": {"uncertain": 0.7, "not_digit": 0.2, "doubtful_digit": 0.5}})
    assert own == Thresholds(0.7, 0.2, 0.5)
    assert Thresholds.of({"thresholds": {"uncertain": 0.7}}, uncertain=0.4, not_digit=0.3) == Thresholds(0.4, 0.3, 0.0)
    assert Thresholds.of({}) == Thresholds(0.6, 0.0, 0.0)

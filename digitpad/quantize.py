"""Quantize a float digitpad model to int8 for serving: ~3x faster on the CPU, same answers.

    digitpad quantize runs/x/model.onnx        # -> runs/x/model.int8.onnx

Static quantization with ONNX Runtime's own tools, QDQ format: weights int8 per output
channel (in a 7-bit range, so that no CPU's integer kernels saturate), activations uint8 with
ranges calibrated on training images (never test images). ONNX Runtime fuses the result into
integer convolutions (VNNI/AVX2 kernels on x86, SIMD in the browser's WebAssembly build). The
float model stays the source of truth: training, fine-tuning and the notebook's torch checks
use it; the int8 file is derived from it, and its metadata says so: version "<version>-int8", a "quantization" entry (the float file's
sha256, the calibration, agreement with the float model on the test set) and its own
measured test accuracy. Needs the ``onnx`` package (the train extra); the result runs on
plain onnxruntime.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .artifact import METADATA_KEY, int8_path, write_atomically
from .errors import ModelError
from .metrics import DIGITS, report
from .predict import Predictor

log = logging.getLogger(__name__)

CALIBRATION_IMAGES = 512  # MinMax ranges settle well before this many images
SCHEME = ("int8 static, QDQ: int8 weights per output channel in a 7-bit range (reduce_range), uint8 activations "
          "(MinMax calibration)")


def quantize(
    src: str | Path,
    dst: str | Path | None,
    calibration: np.ndarray,
    test_images: np.ndarray,
    test_labels: np.ndarray,
    *,
    calibration_source: str = "training images",
    heldout: Callable[[Predictor], dict] | None = None,
) -> dict:
    """Write the int8 twin of float model ``src`` to ``dst`` (default ``int8_path(src)``).

    ``calibration`` (N, 28, 28) uint8 training images set the activation ranges;
    ``test_images``/``test_labels`` (MNIST digits, read as digits: the argmax over the ten digit
    classes) measure the result, and so does ``heldout`` (Predictor -> figures, stored as
    ``metrics.heldout``; without it the float model's held-out figures are dropped, not copied).
    Returns the new file's metadata.
    """
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process


    src = Path(src)
    dst = Path(dst) if dst is not None else int8_path(src)
    base = Predictor(src, threads=0)
    if "quantization" in base.metadata:
        raise ModelError(f"{src} is already quantized", hint="quantize the float model it was made from")
    feeds = [{base.input_name: base.model_input(calibration[i: i + 32])} for i in range(0, len(calibration), 32)]

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.it = iter(feeds)

        def get_next(self) -> dict | None:
            return next(self.it, None)

    with tempfile.TemporaryDirectory(prefix="digitpad-quant-") as tmp:
        pre, out = Path(tmp) / "pre.onnx", Path(tmp) / "int8.onnx"
        # Shape inference + graph cleanup first, as ONNX Runtime recommends before quantizing.
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        # reduce_range: x86 CPUs without VNNI (AVX2 only) multiply uint8 by int8 in pairs summed into
        # int16 (vpmaddubsw), which saturates with full 8-bit weights: there the served answers
        # drifted from the float model's (MNIST test: 99.66% the same class, probabilities up to
        # 0.96 apart, against 99.99% on a VNNI CPU). 7-bit weights cannot saturate, so the int8
        # model reads alike on every CPU, at the same speed (BENCHMARKS.md).
        quantize_static(str(pre), str(out), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        reduce_range=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
        proto = onnx.load(str(out))

        # Measure the int8 model exactly as it will be served (ONNX Runtime, from the file's bytes).
        q = Predictor(out, threads=0)  # quantize_static keeps the metadata entries
        p_float, p_int8 = base.predict_batch(test_images), q.predict_batch(test_images)  # (N, classes) each
        held = heldout(q) if heldout is not None else None
    pred, pred_float = p_int8[:, :DIGITS].argmax(1), p_float[:, :DIGITS].argmax(1)
    figures = report(pred, test_labels, DIGITS)
    meta = json.loads(json.dumps(base.metadata))  # a deep copy
    float_metrics = dict(meta.get("metrics", {}))
    meta["version"] = f"{base.version}-int8"
    meta["quantization"] = {
        "scheme": SCHEME,
        "tool": f"onnxruntime {_ort_version()}",
        "calibration": {"images": int(len(calibration)), "source": calibration_source},
        "float_model": {"version": base.version, "sha256": hashlib.sha256(src.read_bytes()).hexdigest(),
                        "test_accuracy": float((pred_float == test_labels).mean())},
        "test_images": int(len(test_images)),
        "argmax_agreement": float((pred == pred_float).mean()),
        "class_agreement": float((p_int8.argmax(1) == p_float.argmax(1)).mean()),
        "max_abs_probability_diff": float(np.abs(p_int8 - p_float).max()),
    }
    meta["metrics"] = {**float_metrics, "test_accuracy": figures["accuracy"],
                       "test_per_class_accuracy": figures["per_class_accuracy"], "test_images": figures["images"]}
    meta["metrics"].pop("heldout", None)
    if held is not None:
        meta["metrics"]["heldout"] = held
    meta.pop("parity", None)  # torch-vs-ONNX parity describes the float file
    write_atomically(dst, with_metadata(proto, meta))
    q = meta["quantization"]
    log.info("quantized %s -> %s (%.0f KB): test %.2f%% (float %.2f%%), agreement %.2f%%", src, dst,
             dst.stat().st_size / 1024, 100 * meta["metrics"]["test_accuracy"],
             100 * q["float_model"]["test_accuracy"], 100 * q["argmax_agreement"])
    return meta


def with_metadata(proto, meta: dict) -> bytes:
    """An onnx ModelProto, serialized with ``meta`` as its digitpad metadata entry (other entries kept)."""
    kept = [(e.key, e.value) for e in proto.metadata_props if e.key != METADATA_KEY]
    del proto.metadata_props[:]
    for key, value in [*kept, (METADATA_KEY, json.dumps(meta))]:
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.doc_string = f"digitpad model {meta['version']}"
    return proto.SerializeToString()


def calibration_sample(images: np.ndarray, n: int = CALIBRATION_IMAGES, seed: int = 0) -> np.ndarray:
    """A fixed random sample of training images (N, 28, 28) -> (min(n, N), 28, 28)."""
    idx = np.random.default_rng(seed).choice(len(images), size=min(n, len(images)), replace=False)
    return images[np.sort(idx)]


def _ort_version() -> str:
    import onnxruntime

    return onnxruntime.__version__

"""The end of every run: export to ONNX with metadata, quantize, write the model card.

    meta, int8_meta = publish(model, meta, out_dir, test=(images, labels), calibration=train_images,
                              calibration_source="the run's training images", history=rows)

``train``, ``ensemble`` and ``finetune`` all finish through ``publish``. The ONNX file is the
shipped artifact: it carries a ``digitpad`` metadata entry (JSON) with the version, architecture,
input spec, normalization, labels, recipe, data checksums and accuracy measured on the file
itself with ONNX Runtime (what serving runs), so ``digitpad.predict.Predictor`` needs nothing but
the file. PyTorch and ONNX Runtime logits must agree within ``PARITY_TOL`` or nothing is written.
"""

from __future__ import annotations

import io
import json
import logging
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from .artifact import FORMAT, METADATA_KEY, write_atomically
from .card import model_card
from .errors import ModelError
from .metrics import digit_set, metrics_entry, predicted_classes, report
from .predict import Predictor
from .preprocess import MNIST_MEAN, MNIST_STD, normalize
from .quantize import calibration_sample, quantize

log = logging.getLogger(__name__)

OPSET = 17
PARITY_TOL = 1e-4

Labelled = tuple[np.ndarray, np.ndarray]  # (N, 28, 28) uint8 images, (N,) class indices


def publish(model: torch.nn.Module, meta: dict, out_dir: str | Path, *, test: Labelled, calibration: np.ndarray,
            calibration_source: str, measure: dict[str, Labelled] | None = None,
            history: list[dict] | None = None, histories: dict[str, list[dict]] | None = None,
            heldout: Callable[[Predictor], dict] | None = None) -> tuple[dict, dict]:
    """Write ``out_dir``/model.onnx (measured on ``test`` and the ``measure`` sets), its int8 twin
    model.int8.onnx (calibrated on ``calibration``, training images only) and MODEL_CARD.md.

    Returns the metadata of both files. The test set is evaluated here, once, on each file, and
    so is ``heldout`` (a Predictor -> figures on held-out writers, stored as ``metrics.heldout``).
    """
    out = Path(out_dir)
    model_file = out / "model.onnx"
    meta = export_onnx(model, meta, model_file, parity_images=test[0][:1000],
                       measure={"test": test, **(measure or {})}, heldout=heldout)
    qmeta = quantize(model_file, None, calibration_sample(calibration), *test, calibration_source=calibration_source,
                     heldout=heldout)
    (out / "MODEL_CARD.md").write_text(model_card(meta, history=history, histories=histories, quantized=qmeta))
    return meta, qmeta


def export_onnx(model: torch.nn.Module, meta: dict, path: str | Path, *, parity_images: np.ndarray | None = None,
                measure: dict[str, Labelled] | None = None, heldout: Callable[[Predictor], dict] | None = None) -> dict:
    """Write ``model`` to ``path`` as ONNX with metadata; returns the full metadata.

    ``parity_images`` (N, 28, 28) uint8: ONNX Runtime and PyTorch logits must agree within
    1e-4 on them, else the export fails (and no file is left behind). Each ``measure`` set
    (name -> images, labels) is read by the exported file through ``Predictor``, exactly as
    served (a set of digits as digits: ``metrics.digit_set``), and its figures stored in
    ``metrics`` as ``{name}_accuracy``, ``{name}_per_class_accuracy`` and ``{name}_images``;
    ``heldout`` (Predictor -> dict) as ``metrics.heldout``.
    """
    import onnx

    model = model.eval().float().to(memory_format=torch.contiguous_format)
    num_classes = int(meta["architecture"].get("num_classes", 10))
    full = dict(meta)
    full.update({
        "format": FORMAT,
        "input": {"name": "input", "shape": ["N", 1, 28, 28], "dtype": "float32", "layout": "NCHW",
                  "content": "MNIST-style: white ink on black, digit fit in 20x20, centred by mass in 28x28"},
        "output": {"name": "logits", "shape": ["N", num_classes], "dtype": "float32"},
        "normalization": {"scale": 1 / 255, "mean": MNIST_MEAN, "std": MNIST_STD,
                          "formula": "(pixel / 255 - mean) / std"},
        "labels": list(meta.get("labels") or [str(i) for i in range(num_classes)]),
    })
    dummy = torch.zeros(2, 1, 28, 28)
    buf = io.BytesIO()
    torch.onnx.export(
        model, (dummy,), buf, input_names=["input"], output_names=["logits"],
        dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}}, opset_version=OPSET, dynamo=False,
    )
    proto = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(proto)
    if parity_images is not None:
        full["parity"] = check_parity(model, proto.SerializeToString(), parity_images)
    proto.doc_string = f"digitpad model {full.get('version')}"
    if measure or heldout:
        with tempfile.TemporaryDirectory(prefix="digitpad-export-") as tmp:
            draft = write_atomically(Path(tmp) / "model.onnx", with_metadata(proto, full))
            reader = Predictor(draft, threads=0)
            full["metrics"] = dict(full.get("metrics", {}))
            for name, (images, labels) in (measure or {}).items():
                digits = digit_set(labels)
                guess = predicted_classes(reader, images, digits_only=digits)
                full["metrics"].update(metrics_entry(name, report(guess, labels, 10 if digits else num_classes)))
            if heldout is not None:
                full["metrics"]["heldout"] = heldout(reader)
    path = write_atomically(path, with_metadata(proto, full))
    log.info("exported %s (%.0f KB)", path, path.stat().st_size / 1024)
    return full


def check_parity(model: torch.nn.Module, onnx_bytes: bytes, images: np.ndarray) -> dict:
    """Max |logit difference| between PyTorch and ONNX Runtime on ``images`` (N, 28, 28)."""
    import onnxruntime as ort

    x = normalize(images)  # (N, 1, 28, 28) float32
    with torch.no_grad():
        ref = model.eval()(torch.from_numpy(x)).numpy()
    sess = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    got = sess.run(["logits"], {"input": x})[0]
    diff = float(np.abs(ref - got).max())
    agree = float((ref.argmax(1) == got.argmax(1)).mean())
    if diff > PARITY_TOL:
        raise ModelError(f"ONNX export parity failed: max |logit diff| {diff:.2e} > {PARITY_TOL:g} on {len(x)} images")
    return {"images": int(len(x)), "max_abs_logit_diff": diff, "argmax_agreement": agree, "tolerance": PARITY_TOL}


def with_metadata(proto, meta: dict) -> bytes:
    """The serialized model with ``meta`` as its one digitpad metadata entry."""
    del proto.metadata_props[:]
    entry = proto.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(meta)
    return proto.SerializeToString()

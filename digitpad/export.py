"""Export a trained DigitNet to ONNX with its metadata, check parity, write the model card.

The ONNX file is the shipped artifact: it carries a ``digitpad`` metadata entry (JSON) with
the version, architecture, input spec, normalization, labels, recipe, data checksums and
measured accuracy, so ``digitpad.predict.Predictor`` needs nothing but the file.
"""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import numpy as np
import torch

from .artifact import FORMAT, METADATA_KEY, write_atomically
from .preprocess import MNIST_MEAN, MNIST_STD, normalize

log = logging.getLogger(__name__)

OPSET = 17
PARITY_TOL = 1e-4


def export_onnx(model: torch.nn.Module, meta: dict, path: str | Path, *, parity_images: np.ndarray | None = None) -> dict:
    """Write ``model`` to ``path`` as ONNX with metadata; returns the full metadata.

    ``parity_images`` (N, 28, 28) uint8: ONNX Runtime and PyTorch logits must agree within
    1e-4 on them, else the export fails (and no file is left behind).
    """
    import onnx

    model = model.eval().float().to(memory_format=torch.contiguous_format)
    full = dict(meta)
    full.update({
        "format": FORMAT,
        "input": {"name": "input", "shape": ["N", 1, 28, 28], "dtype": "float32", "layout": "NCHW",
                  "content": "MNIST-style: white ink on black, digit fit in 20x20, centred by mass in 28x28"},
        "output": {"name": "logits", "shape": ["N", 10], "dtype": "float32"},
        "normalization": {"scale": 1 / 255, "mean": MNIST_MEAN, "std": MNIST_STD,
                          "formula": "(pixel / 255 - mean) / std"},
        "labels": [str(i) for i in range(10)],
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
    del proto.metadata_props[:]
    entry = proto.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(full)
    proto.doc_string = f"digitpad model {full.get('version')}"
    path = write_atomically(path, proto.SerializeToString())
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
        from .errors import ModelError

        raise ModelError(f"ONNX export parity failed: max |logit diff| {diff:.2e} > {PARITY_TOL:g} on {len(x)} images")
    return {"images": int(len(x)), "max_abs_logit_diff": diff, "argmax_agreement": agree, "tolerance": PARITY_TOL}


def write_model_card(meta: dict, path: str | Path, history: list[dict] | None = None,
                     histories: dict[str, list[dict]] | None = None, quantized: dict | None = None) -> None:
    """A markdown model card generated from the metadata (never typed by hand); ``quantized``:
    the metadata of the int8 serving twin (``digitpad.quantize``)."""
    m, arch = meta["metrics"], meta["architecture"]
    members = m.get("members")
    what = (f"An ensemble of {len(arch['members'])} CNNs (digitnet, channels {arch['channels']}) whose "
            "log-probabilities are averaged" if members else f"A CNN ({arch['name']}, channels {arch['channels']})")
    lines = [
        f"# digitpad model card: `{meta['version']}`",
        "",
        f"{what}: {meta['parameters']:,} parameters in all. It reads one handwritten digit from a 28x28 "
        "MNIST-style image.",
        "",
        "| | |",
        "|---|---|",
        f"| MNIST test accuracy (evaluated once, at the end) | **{m['test_accuracy']:.2%}** |",
        f"| validation accuracy ({meta['data']['val_images']:,} images carved from the training set) | {m['val_accuracy']:.2%} |",
    ]
    d = meta["data"]
    trained_on = f"{d.get('train_images', 0) - d.get('extra_images', 0):,} MNIST training images"
    if d.get("extra"):
        x = d["extra"]
        trained_on += (f" + {x['images']:,} pen-drawn digits ({x['drawings']:,} drawings by the "
                       f"{len(x['writers'])} dev writers of {x['source']}, in {len(x['styles'])} canvas styles; "
                       f"its {len(x['held_out_writers'])} held-out writers unseen)")
    elif d.get("extra_images"):
        trained_on += f" + {d['extra_images']:,} extra images"
    lines.append(f"| training data | {trained_on} |")
    if not members:
        lines.append(f"| checkpoint | epoch {m['best_epoch']} of {m['epochs']}, {m['weights']} weights, chosen on validation |")
    lines += [
        f"| training time | {m['train_seconds'] / 60:.1f} min on {meta['machine']['processor']} "
        f"({meta['machine']['cpus']} threads, torch {meta['machine']['torch']}) |",
        f"| created | {meta['created']} |",
    ]
    if "parity" in meta:
        p = meta["parity"]
        lines.append(f"| ONNX parity | max logit diff {p['max_abs_logit_diff']:.1e} on {p['images']} test images |")
    if quantized:
        from .quantize import card_row

        lines.append(card_row(quantized))
    if members:
        lines += ["", "## Members", "", "| member | validation | test | checkpoint | training |", "|---|---|---|---|---|"]
        lines += [f"| `{x['version']}` | {x['val_accuracy']:.2%} | {x['test_accuracy']:.2%} | epoch {x['best_epoch']} "
                  f"of {x['epochs']} ({x['weights']}) | {x['train_seconds'] / 60:.1f} min |" for x in members]
    lines += ["", "## Per-class test accuracy", "", "| digit | " + " | ".join(str(i) for i in range(10)) + " |",
              "|---" * 11 + "|",
              "| accuracy | " + " | ".join(f"{a:.2%}" for a in m["test_per_class_accuracy"]) + " |", ""]
    lines += ["## Recipe", "", "```json", json.dumps(meta["recipe"], indent=2), "```", ""]
    lines += ["## Input", "", f"{meta['input']['content']}; normalised as "
              f"`{meta['normalization']['formula']}` with mean {MNIST_MEAN} and std {MNIST_STD}.", ""]
    curves = ([("", history)] if history else []) + list((histories or {}).items())
    for name, rows in curves:
        lines += [f"## Training curve{' of ' + name if name else ''}", "",
                  "| epoch | train loss | val acc | val acc (EMA) | s |", "|---|---|---|---|---|"]
        lines += [f"| {h['epoch']} | {h['train_loss']:.4f} | {h['val_acc']:.2%} | {h['val_acc_ema']:.2%} | "
                  f"{h['epoch_seconds']:.0f} |" for h in rows]
        lines.append("")
    Path(path).write_text("\n".join(lines))

"""Fine-tune a digitpad model on the corrections people made, without forgetting MNIST.

    digitpad finetune --out runs/ft                          # from the shipped model
    digitpad finetune --model runs/ft/model.onnx --out runs/ft2
    digitpad finetune --epochs 1 --limit 2048 --out /tmp/ft  # cheap mode (tests)
    digitpad serve --model runs/ft/model.int8.onnx          # its int8 twin (digitpad.quantize)

Starting weights come from the ONNX file itself (any digitpad model, the shipped one included,
so fine-tunes chain): the network is rebuilt from the file's ``architecture`` metadata and its
initializers. The exporter folds each BatchNorm into the convolution before it, so a conv's
bias is the folded BN; we load it as a BatchNorm with mean 0, variance 1 - eps, scale 1 and
shift = that bias, which computes exactly the same function. Fine-tuning then runs the network
in inference mode (frozen BatchNorm statistics, no dropout): the usual choice when the new data
is small, and the only one that keeps the rebuilt network identical to the file it came from.
A parity check (PyTorch vs ONNX Runtime logits) guards the rebuild.

Feedback is what strangers sent: only reviewed rows reach here (``feedback.load_feedback``:
accepted rows, or with ``--feedback agreeing`` also pending rows that pass the agreement check,
``digitpad.curation``), and the figures that judge the result come from data feedback cannot
write to: the base model's own MNIST validation split, the pendigits held-out writers when
given (``heldout``), and the MNIST test set. The held-out share of the (reviewed) feedback is
reported too, but decides nothing: 400 poisoned rows would make it look like a gain.

Recipe (``digitpad.recipe.FinetuneConfig``): a seeded share of the feedback is held out; the
rest is oversampled into a stream of MNIST training images (``feedback_share`` of each epoch),
augmented like training (same knobs, same defaults), SGD + Nesterov with a cosine schedule from
a small learning rate, in training's loop (``digitpad.fit``). The epoch is chosen on the base
model's own MNIST validation split. Before/after accuracy is measured with ONNX Runtime (what
serving runs); the new model's card shows it.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from . import data as mnist
from .artifact import float_model_path, int8_path
from .errors import DigitpadError, ModelError
from .export import PARITY_TOL, publish
from .fit import (
    cosine,
    fit,
    image_tensor,
    load_best,
    machine_info,
    predict_logits,
    seed_torch,
    tensors,
)
from .metrics import predicted_classes, report
from .model import build_model, count_parameters
from .predict import Predictor
from .recipe import FinetuneConfig, TrainConfig, training_recipe

if TYPE_CHECKING:
    from .feedback import FeedbackSet

# ---------------------------------------------------------------- ONNX -> torch


def load_onnx_weights(path: str | Path) -> tuple[nn.Module, dict]:
    """Rebuild the torch network of a digitpad ONNX file. Returns (model in eval mode, metadata)."""
    import onnx
    from onnx import numpy_helper

    path = Path(path)
    meta = Predictor(path).metadata  # validates the file and its digitpad metadata
    proto = onnx.load(str(path))
    init = {t.name: numpy_helper.to_array(t) for t in proto.graph.initializer}
    model = build_model(meta["architecture"]).eval()
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    nodes = list(proto.graph.node)
    conv_nodes = [n for n in nodes if n.op_type == "Conv"]
    gemm_nodes = [n for n in nodes if n.op_type == "Gemm"]
    folded = not any(n.op_type == "BatchNormalization" for n in nodes)
    if not folded or (len(conv_nodes), len(gemm_nodes)) != (len(convs), len(linears)):
        raise ModelError(f"{path}: its graph is not a {meta['architecture'].get('name')} exported by digitpad "
                         "(BatchNorm folded into the convolutions)",
                         hint="fine-tune models written by `digitpad train` or `digitpad finetune`")

    def t(name: str) -> torch.Tensor:
        return torch.from_numpy(np.array(init[name], dtype=np.float32))

    with torch.no_grad():
        for conv, bn, node in zip(convs, bns, conv_nodes, strict=True):
            conv.weight.copy_(t(node.input[1]))  # (cout, cin, 3, 3), BN scale already folded in
            bias = t(node.input[2]) if len(node.input) > 2 and node.input[2] else torch.zeros(conv.out_channels)
            # The conv bias is all that is left of the BN: an identity BN that adds it.
            bn.weight.fill_(1.0)
            bn.bias.copy_(bias)
            bn.running_mean.zero_()
            bn.running_var.fill_(1.0 - bn.eps)  # (x - 0) / sqrt(1 - eps + eps) * 1 + bias = x + bias
        for lin, node in zip(linears, gemm_nodes, strict=True):
            w = t(node.input[1])
            trans_b = next((a.i for a in node.attribute if a.name == "transB"), 0)
            lin.weight.copy_(w if trans_b else w.T)
            lin.bias.copy_(t(node.input[2]))
    return model, meta


def parity(model: nn.Module, predictor: Predictor, images: np.ndarray) -> float:
    """Max |logit difference| between the torch model and ONNX Runtime on (N, 28, 28) uint8."""
    with torch.no_grad():
        ref = predict_logits(model, image_tensor(images)).numpy()
    return float(np.abs(ref - predictor.logits(images)).max())


# ---------------------------------------------------------------- the run


def split_feedback(fs: FeedbackSet, holdout: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded split of row positions into (train, held out); held out gets >= 1 row when possible."""
    perm = np.random.RandomState(seed).permutation(len(fs))
    n_hold = min(len(fs) - 1, max(1, round(holdout * len(fs)))) if holdout > 0 and len(fs) >= 2 else 0
    return np.sort(perm[n_hold:]), np.sort(perm[:n_hold])


def base_split(base_meta: dict, limit: int | None) -> TrainConfig:
    """The MNIST train/validation split the base model was trained with (capped at ``limit``
    training images): choosing the epoch on the base's own validation images means choosing on
    images no weight of the new model was ever trained on."""
    return replace(TrainConfig.from_recipe(training_recipe(base_meta.get("recipe"))), limit=limit)


def finetune(
    feedback: FeedbackSet,
    cfg: FinetuneConfig,
    *,
    model_path: str | Path | None,
    data_dir: str | Path | None,
    out_dir: str | Path,
    progress: bool = True,
    version: str | None = None,
    heldout: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> dict[str, Any]:
    """Fine-tune on ``feedback`` mixed with MNIST; writes model.onnx, model.int8.onnx,
    MODEL_CARD.md, finetune.json (and the loop's best.pt, checkpoint.pt, metrics.jsonl) into
    ``out_dir``. ``heldout``: more sets feedback cannot write to (name -> (N, 28, 28) uint8
    images, (N,) labels), measured before and after. Returns the summary (before/after accuracies)."""
    if cfg.epochs < 1:
        raise DigitpadError("--epochs must be at least 1")
    if len(feedback) < 2:
        raise DigitpadError(f"fine-tuning needs at least 2 reviewed feedback rows, there are {len(feedback)}",
                            hint="review what was collected: digitpad feedback review (then accept 12 20-30, "
                                 "or --all-pending)")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    gen = seed_torch(cfg)

    base_path = Path(model_path) if model_path else float_model_path()
    base = Predictor(base_path, threads=0)
    if "quantization" in base.metadata:
        src = base.metadata["quantization"]["float_model"]["version"]
        raise ModelError(f"{base_path} is an int8 serving model; fine-tuning starts from float weights",
                         hint=f"pass --model with the float model it was made from ({src}, model.onnx beside it)")
    model, base_meta = load_onnx_weights(base_path)
    te_img, te_lab = mnist.load_split("test", data_dir)
    diff = parity(model, base, te_img[:256])
    if diff > PARITY_TOL:
        raise ModelError(f"rebuilding {base_path} in PyTorch failed: logits differ by {diff:.2e}")

    # A number's characters come with their class (charset.CLASSES); a model without a symbol's
    # class cannot learn it: those crops are left out (counted), its digits are used.
    outputs = len(base.labels)
    left_out = int((feedback.labels >= outputs).sum())
    if left_out:
        feedback = feedback.subset(feedback.labels < outputs)
        if len(feedback) < 2:
            raise DigitpadError(f"fine-tuning needs at least 2 reviewed feedback images of the model's "
                                f"{outputs} classes, there are {len(feedback)}",
                                hint="review more corrections: digitpad feedback review")
    tr_idx, ho_idx = split_feedback(feedback, cfg.holdout, cfg.seed)
    fb_x, fb_y = feedback.images[tr_idx], feedback.labels[tr_idx]  # (n, 28, 28), (n,)
    ho_x, ho_y = feedback.images[ho_idx], feedback.labels[ho_idx]

    def accuracy(images: np.ndarray, labels: np.ndarray) -> float | None:
        # Read as the API reads a digit (the ten digit classes), on the digits: a number's symbol
        # crops are trained on, but this figure is the digits' (MNIST and pendigits hold no others).
        d = labels < 10
        return report(predicted_classes(base, images[d], digits_only=True), labels[d], 10)["accuracy"]

    split = base_split(base_meta, cfg.limit)
    (mx, my), (vx, vy) = mnist.split_train_val(*mnist.load_split("train", data_dir), split)
    # Judged on data feedback cannot write to: the base's MNIST validation split, the given held-out sets.
    judges = {"mnist_val": (vx, vy), **(heldout or {})}
    before = {"holdout_accuracy": accuracy(ho_x, ho_y), "train_feedback_accuracy": accuracy(fb_x, fb_y),
              "mnist_test_accuracy": accuracy(te_img, te_lab),
              **{f"{name}_accuracy": accuracy(*xy) for name, xy in judges.items()}}
    # Oversample feedback so it is `feedback_share` of each epoch: share = r*n / (r*n + m).
    repeat = max(1, min(cfg.max_repeat, math.ceil(cfg.feedback_share / (1 - cfg.feedback_share) * len(mx) / len(fb_x))))
    x_np = np.concatenate([mx, np.repeat(fb_x, repeat, axis=0)])  # (M + r*n, 28, 28)
    y_np = np.concatenate([my, np.repeat(fb_y, repeat)])
    fitted = fit(model, cfg, tensors(x_np, y_np), tensors(vx, vy), gen=gen, out_dir=out, schedule=cosine,
                 architecture=base_meta["architecture"], frozen=True, progress=progress, label="finetune")
    assert fitted is not None  # no stop_after_epoch
    best = fitted.best

    feedback_info = {"rows": len(feedback), "skipped": feedback.skipped, "left_out": left_out,
                     "symbols": int((feedback.labels >= 10).sum()), "train": int(len(fb_x)),
                     "holdout": int(len(ho_x)), "repeat": repeat}
    mnist_info = {"train_images": int(len(mx)), "val_images": int(len(vx)), "test_images": int(len(te_img))}
    meta = {
        "version": version or f"{base_meta['version']}-ft{time.strftime('%Y%m%d-%H%M%S')}",
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "architecture": base_meta["architecture"],
        # The base's classes, and its temperature (baked into the weights fine-tuning starts from)
        # and thresholds, carried over: fine-tuning on digits does not re-measure them.
        **{k: base_meta[k] for k in ("labels", "calibration", "thresholds") if k in base_meta},
        "parameters": count_parameters(model),
        "recipe": {"finetune": cfg.to_dict(), "validation_split": {"split_seed": split.split_seed,
                                                                    "val_size": split.val_size},
                   "base_recipe": base_meta.get("recipe")},
        "data": {"checksums_sha256": mnist.checksums(), "train_images": int(len(mx)),
                 "extra_images": int(len(fb_x)), "val_images": int(len(vx))},
        "metrics": {"val_accuracy": best["val_acc"], "best_epoch": best["epoch"], "weights": best["weights"],
                    "epochs": cfg.epochs, "train_seconds": round(fitted.elapsed, 1)},
        "machine": machine_info(),
        "parent": {"version": base_meta["version"], "sha256": hashlib.sha256(base_path.read_bytes()).hexdigest()},
        "finetune": {"feedback": feedback_info, "mnist": mnist_info, "before": before},
    }
    # The new file is measured as the server will run it (ONNX Runtime) on the test set and
    # both feedback parts; the figures go into its metadata and its card's before/after table.
    meta, qmeta = publish(load_best(out), meta, out, test=(te_img, te_lab), calibration=np.concatenate([mx, fb_x]),
                          calibration_source="MNIST training images and feedback", history=fitted.history,
                          measure={**judges, "feedback_holdout": (ho_x, ho_y), "feedback_train": (fb_x, fb_y)})
    m = meta["metrics"]
    summary = {
        "base_model": {"version": base_meta["version"], "path": str(base_path), "sha256": meta["parent"]["sha256"]},
        "model": {"version": meta["version"], "path": str(out / "model.onnx")},
        "int8_model": {"version": qmeta["version"], "path": str(int8_path(out / "model.onnx")),
                       "argmax_agreement": qmeta["quantization"]["argmax_agreement"]},
        "feedback": {**feedback_info, "holdout_ids": [int(i) for i in feedback.ids[ho_idx]]},
        "mnist": mnist_info,
        "before": before,
        "heldout_images": {name: int(len(xy[1])) for name, xy in judges.items()},
        "after": {"holdout_accuracy": m["feedback_holdout_accuracy"],
                  "train_feedback_accuracy": m["feedback_train_accuracy"], "mnist_test_accuracy": m["test_accuracy"],
                  **{f"{name}_accuracy": m[f"{name}_accuracy"] for name in judges}},
        "history": fitted.history,
        "train_seconds": round(fitted.elapsed, 1),
    }
    (out / "finetune.json").write_text(json.dumps(summary, indent=2))
    return summary

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

Recipe: a seeded share of the feedback is held out; the rest is oversampled into a stream of
MNIST training images (``feedback_share`` of each epoch) with the same augmentation as training,
SGD + Nesterov with a cosine schedule from a small learning rate. Before/after accuracy is
measured with ONNX Runtime (what serving runs) on the held-out feedback and the MNIST test set.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import data as mnist
from .artifact import METADATA_KEY, float_model_path, int8_path
from .errors import DigitpadError, ModelError
from .feedback import FeedbackSet
from .model import build_model, count_parameters
from .predict import Predictor
from .train import (
    TrainConfig,
    _tensor,
    augment,
    machine_info,
    predict_logits,
    seed_torch,
    split_train_val,
    to_input,
)

log = logging.getLogger(__name__)


@dataclass
class FinetuneConfig:
    """Every knob of a fine-tuning run (stored in the new model as its recipe)."""

    epochs: int = 3
    limit: int | None = 20_000  # MNIST training images mixed in (None: all 55k)
    batch_size: int = 128
    # Peak learning rate. Small on purpose: with BatchNorm frozen the weights are no longer
    # scale-normalized, and 0.01 already diverges within a few steps on the shipped model.
    lr: float = 0.001
    momentum: float = 0.9
    weight_decay: float = 5e-4
    label_smoothing: float = 0.1
    holdout: float = 0.2  # share of feedback kept out of training, to measure on
    feedback_share: float = 0.25  # share of each epoch's images that are (repeated) feedback
    max_repeat: int = 20  # cap on how often one feedback image is seen per epoch
    seed: int = 0
    threads: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


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
        ref = predict_logits(model, _tensor(images)).numpy()
    return float(np.abs(ref - predictor.logits(images)).max())


# ---------------------------------------------------------------- the run


def split_feedback(fs: FeedbackSet, holdout: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded split of row positions into (train, held out); held out gets >= 1 row when possible."""
    perm = np.random.RandomState(seed).permutation(len(fs))
    n_hold = min(len(fs) - 1, max(1, round(holdout * len(fs)))) if holdout > 0 and len(fs) >= 2 else 0
    return np.sort(perm[n_hold:]), np.sort(perm[:n_hold])


def _predict(pred: Predictor, images: np.ndarray) -> np.ndarray:
    """(N, 28, 28) uint8 -> (N,) digits, with ONNX Runtime (what serving runs)."""
    if len(images) == 0:
        return np.zeros(0, np.int64)
    return np.concatenate([pred.logits(images[i: i + 1000]).argmax(1) for i in range(0, len(images), 1000)])


def _accuracy(pred: Predictor, images: np.ndarray, labels: np.ndarray) -> float | None:
    return float((_predict(pred, images) == labels).mean()) if len(images) else None


def _set_metadata(path: Path, meta: dict) -> None:
    """Replace the digitpad metadata of an exported file (weights untouched), atomically."""
    import onnx


    proto = onnx.load(str(path))
    for entry in proto.metadata_props:
        if entry.key == METADATA_KEY:
            entry.value = json.dumps(meta)
    tmp = path.with_suffix(".onnx.part")
    tmp.write_bytes(proto.SerializeToString())
    tmp.replace(path)


def finetune(
    feedback: FeedbackSet,
    cfg: FinetuneConfig,
    *,
    model_path: str | Path | None,
    data_dir: str | Path | None,
    out_dir: str | Path,
    progress: bool = True,
    version: str | None = None,
) -> dict[str, Any]:
    """Fine-tune on ``feedback`` mixed with MNIST; writes model.onnx, MODEL_CARD.md and
    finetune.json into ``out_dir``. Returns the summary (before/after accuracies)."""
    from tqdm import tqdm

    from .export import PARITY_TOL, export_onnx, write_model_card
    from .quantize import quantize_run

    if cfg.epochs < 1:
        raise DigitpadError("--epochs must be at least 1")
    if len(feedback) < 2:
        raise DigitpadError(f"fine-tuning needs at least 2 feedback rows, the store has {len(feedback)}",
                            hint="collect corrections on the page first (digitpad feedback stats)")
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

    tr_idx, ho_idx = split_feedback(feedback, cfg.holdout, cfg.seed)
    fb_x, fb_y = feedback.images[tr_idx], feedback.labels[tr_idx]  # (n, 28, 28), (n,)
    ho_x, ho_y = feedback.images[ho_idx], feedback.labels[ho_idx]
    before = {"holdout_accuracy": _accuracy(base, ho_x, ho_y), "train_feedback_accuracy": _accuracy(base, fb_x, fb_y),
              "mnist_test_accuracy": _accuracy(base, te_img, te_lab)}

    # MNIST part: the same seeded train/validation split as training (never the test set).
    tcfg = replace(TrainConfig(), limit=cfg.limit, seed=cfg.seed)
    tr_img, tr_lab = mnist.load_split("train", data_dir)
    (mx, my), (vx, vy) = split_train_val(tr_img, tr_lab, tcfg)
    # Oversample feedback so it is `feedback_share` of each epoch: share = r*n / (r*n + m).
    repeat = max(1, min(cfg.max_repeat, math.ceil(cfg.feedback_share / (1 - cfg.feedback_share) * len(mx) / len(fb_x))))
    x = _tensor(np.concatenate([mx, np.repeat(fb_x, repeat, axis=0)]))  # (M + r*n, 1, 28, 28)
    y = torch.from_numpy(np.concatenate([my, np.repeat(fb_y, repeat)]).astype(np.int64))
    xv, yv = _tensor(vx), torch.from_numpy(vy.astype(np.int64))

    steps_per_epoch = math.ceil(len(x) / cfg.batch_size)
    total = cfg.epochs * steps_per_epoch
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, nesterov=True,
                          weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total) / total)))
    model.eval()  # frozen BN statistics and no dropout: see the module docstring
    history, t_start = [], time.perf_counter()
    best: tuple[dict, dict] | None = None  # (history row, state dict)
    bar = tqdm(total=total, disable=not progress, unit="batch", dynamic_ncols=True)
    for epoch in range(cfg.epochs):
        bar.set_description(f"finetune {epoch + 1}/{cfg.epochs}")
        perm = torch.randperm(len(x), generator=gen)
        loss_sum, seen, t0 = 0.0, 0, time.perf_counter()
        for i in range(steps_per_epoch):
            idx = perm[i * cfg.batch_size: (i + 1) * cfg.batch_size]
            logits = model(to_input(augment(x[idx], tcfg, gen)))  # (B, 10)
            loss = F.cross_entropy(logits, y[idx], label_smoothing=cfg.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += loss.item() * len(idx)
            seen += len(idx)
            bar.update(1)
        val_logits = predict_logits(model, xv)
        row = {"epoch": epoch + 1, "train_loss": loss_sum / seen,
               "val_acc": float((val_logits.argmax(1) == yv).float().mean()),
               "val_loss": float(F.cross_entropy(val_logits, yv)), "epoch_seconds": time.perf_counter() - t0}
        row["val_acc_ema"] = row["val_acc"]  # the model card's column; fine-tuning keeps no EMA
        history.append(row)
        # Keep the epoch with the best MNIST validation accuracy (ties: lower loss): not forgetting.
        if best is None or (row["val_acc"], -row["val_loss"]) > (best[0]["val_acc"], -best[0]["val_loss"]):
            best = (row, {k: v.detach().clone() for k, v in model.state_dict().items()})
        bar.set_postfix(loss=f"{row['train_loss']:.4f}", val=f"{row['val_acc']:.4f}")
    bar.close()
    elapsed = time.perf_counter() - t_start
    assert best is not None  # cfg.epochs >= 1
    model.load_state_dict(best[1])

    # Export, then measure the new file exactly as the server will run it (ONNX Runtime), and
    # store those figures in the file's metadata.
    meta = {
        "version": version or f"{base_meta['version']}-ft{time.strftime('%Y%m%d-%H%M%S')}",
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "architecture": base_meta["architecture"],
        "parameters": count_parameters(model),
        "recipe": {"finetune": cfg.to_dict(), "augmentation": tcfg.to_dict(), "base_recipe": base_meta.get("recipe")},
        "data": {"checksums_sha256": mnist.checksums(), "train_images": int(len(mx)),
                 "extra_images": int(len(fb_x)), "val_images": int(len(vx))},
        "metrics": {"val_accuracy": best[0]["val_acc"], "best_epoch": best[0]["epoch"], "weights": "raw",
                    "epochs": cfg.epochs, "train_seconds": round(elapsed, 1)},
        "machine": machine_info(),
        "parent": {"version": base_meta["version"], "sha256": hashlib.sha256(base_path.read_bytes()).hexdigest()},
    }
    model_file = out / "model.onnx"
    meta = export_onnx(model, meta, model_file, parity_images=te_img[:1000])
    new = Predictor(model_file, threads=0)
    te_pred = _predict(new, te_img)
    after = {"holdout_accuracy": _accuracy(new, ho_x, ho_y), "train_feedback_accuracy": _accuracy(new, fb_x, fb_y),
             "mnist_test_accuracy": float((te_pred == te_lab).mean())}
    meta["metrics"].update(
        test_accuracy=after["mnist_test_accuracy"],
        test_per_class_accuracy=[float((te_pred[te_lab == c] == c).mean()) for c in range(10)],
        feedback_holdout_accuracy=after["holdout_accuracy"], feedback_holdout_images=int(len(ho_x)))
    _set_metadata(model_file, meta)
    qmeta = quantize_run(model_file, np.concatenate([mx, fb_x]), te_img, te_lab,
                         calibration_source="MNIST training images and feedback")
    summary = {
        "base_model": {"version": base_meta["version"], "path": str(base_path), "sha256": meta["parent"]["sha256"]},
        "model": {"version": meta["version"], "path": str(model_file)},
        "int8_model": {"version": qmeta["version"], "path": str(int8_path(model_file)),
                       "argmax_agreement": qmeta["quantization"]["argmax_agreement"]},
        "feedback": {"rows": len(feedback), "skipped": feedback.skipped, "train": int(len(fb_x)),
                     "holdout": int(len(ho_x)), "repeat": repeat,
                     "holdout_ids": [int(i) for i in feedback.ids[ho_idx]]},
        "mnist": {"train_images": int(len(mx)), "val_images": int(len(vx)), "test_images": int(len(te_img))},
        "before": before,
        "after": after,
        "history": history,
        "train_seconds": round(elapsed, 1),
    }
    write_model_card(meta, out / "MODEL_CARD.md", history=history, quantized=qmeta)
    with open(out / "MODEL_CARD.md", "a") as f:
        f.write(_card_section(summary))
    (out / "finetune.json").write_text(json.dumps(summary, indent=2))
    return summary


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.2%}"


def _card_section(s: dict) -> str:
    fb, b, a = s["feedback"], s["before"], s["after"]
    return "\n".join([
        "", "## Fine-tuning", "",
        f"Fine-tuned from `{s['base_model']['version']}` (sha256 `{s['base_model']['sha256'][:16]}...`) on "
        f"{fb['train']} feedback images (each repeated {fb['repeat']}x per epoch) mixed with "
        f"{s['mnist']['train_images']:,} MNIST training images; {fb['holdout']} feedback images held out.", "",
        "| | before | after |", "|---|---|---|",
        f"| held-out feedback ({fb['holdout']}) | {_pct(b['holdout_accuracy'])} | {_pct(a['holdout_accuracy'])} |",
        f"| feedback trained on ({fb['train']}) | {_pct(b['train_feedback_accuracy'])} | "
        f"{_pct(a['train_feedback_accuracy'])} |",
        f"| MNIST test ({s['mnist']['test_images']:,}) | {_pct(b['mnist_test_accuracy'])} | "
        f"{_pct(a['mnist_test_accuracy'])} |", "",
    ])

"""Train the digit CNN on MNIST and write a self-describing artifact.

    digitpad train --data-dir ../shared/data/mnist --out runs/full          # full recipe
    digitpad train --data-dir ../shared/data/mnist --epochs 1 --limit 2048  # cheap mode (tests)

Recipe (``digitpad.recipe.TrainConfig``): on-the-fly augmentation on whole batches
(``digitpad.augment``), SGD + Nesterov with a one-cycle schedule, label smoothing, an EMA of the
weights, channels-last tensors (the loop: ``digitpad.fit``). The checkpoint is chosen on a
validation split carved from the training set; the MNIST test set is evaluated once, at the end,
on the exported file (``digitpad.export.publish``). Runs are seeded and resumable (``--resume``)
from ``checkpoint.pt``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch

from . import data as mnist
from .export import publish
from .fit import fit, load_best, machine_info, one_cycle, seed_torch, split_train_val, tensors
from .model import build_model, count_parameters
from .recipe import TrainConfig


def train(
    cfg: TrainConfig,
    *,
    data_dir: str | Path | None,
    out_dir: str | Path,
    resume: bool = False,
    extra: tuple[np.ndarray, np.ndarray] | None = None,
    extra_info: dict | None = None,
    extra_val: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
    init_state: dict | None = None,
    progress: bool = True,
    export: bool = True,
    version: str | None = None,
    stop_after_epoch: int | None = None,
) -> dict | None:
    """Run training; returns the artifact metadata. Writes into ``out_dir``:

    checkpoint.pt (last epoch, for --resume), best.pt (chosen on validation), metrics.jsonl (one
    line per epoch), meta.json, and unless ``export=False``: model.onnx, model.int8.onnx and
    MODEL_CARD.md (``export=False`` also skips the test set: speed benches and resume tests).
    ``extra`` adds (images (N, 28, 28) uint8, labels) to the training set (e.g. pen-drawn digits
    of the pendigits dev writers, ``pendigits.training_set``), described in the artifact by
    ``extra_info``; ``extra_val`` (name -> images, labels) are further validation sets, logged in
    metrics.jsonl each epoch (they choose nothing); ``init_state`` starts from existing weights. ``stop_after_epoch`` ends this
    invocation early (after saving the checkpoint) and returns None: a time-boxed run, continued
    later with ``resume=True``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    gen = seed_torch(cfg)

    (x_np, y_np), (xv_np, yv_np) = split_train_val(*mnist.load_split("train", data_dir), cfg)
    if extra is not None:
        x_np = np.concatenate([x_np, extra[0]])
        y_np = np.concatenate([y_np, extra[1]])

    model = build_model(cfg.model).to(memory_format=torch.channels_last)
    if init_state is not None:
        model.load_state_dict(init_state)
    fitted = fit(model, cfg, tensors(x_np, y_np), tensors(xv_np, yv_np), gen=gen, out_dir=out,
                 schedule=one_cycle, architecture=cfg.model.to_dict(), ema_decay=cfg.ema_decay,
                 extra_val={name: tensors(*xy) for name, xy in (extra_val or {}).items()},
                 resume=resume, progress=progress, stop_after_epoch=stop_after_epoch)
    if fitted is None:
        return None

    final = load_best(out)  # the validation-chosen weights
    best = fitted.best
    meta = {
        "version": version or time.strftime("digitnet-%Y%m%d-%H%M%S"),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "architecture": cfg.model.to_dict(),
        "parameters": count_parameters(final),
        "recipe": cfg.to_dict(),
        "data": {
            "checksums_sha256": mnist.checksums(),
            "train_images": int(len(x_np)),
            "extra_images": int(len(extra[0])) if extra is not None else 0,
            **({"extra": extra_info} if extra_info else {}),
            "val_images": int(len(xv_np)),
            **({"extra_val_images": {k: int(len(v[0])) for k, v in extra_val.items()}} if extra_val else {}),
        },
        "metrics": {
            "val_accuracy": best["val_acc"],
            "best_epoch": best["epoch"],
            "weights": best["weights"],
            "train_seconds": round(fitted.elapsed, 1),
            "epochs": cfg.epochs,
        },
        "machine": machine_info(),
    }
    if export:
        meta, _ = publish(final, meta, out, test=mnist.load_split("test", data_dir), calibration=x_np,
                          calibration_source="the run's training images", history=fitted.history)
    (out / "meta.json").write_text(json.dumps(meta, indent=2))
    return meta

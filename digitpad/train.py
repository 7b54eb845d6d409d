"""Train the 21-class CNN on MNIST and pen handwriting, calibrate it, and write a self-describing artifact.

    digitpad train --data-dir ../shared/data/mnist --pendigits PENDIGITS --unipen UNIPEN --out runs/full
    digitpad train --data-dir ../shared/data/mnist --epochs 1 --limit 2048   # cheap mode, MNIST only

Recipe (``digitpad.recipe.TrainConfig``): MNIST's training split and the handwriting corpus's
train writers (``digitpad.trainset``: digits, number symbols, negatives, mixed in fixed shares
per epoch), on-the-fly augmentation (``digitpad.augment``), SGD + Nesterov on a one-cycle
schedule, label smoothing, an EMA of the weights (the loop: ``digitpad.fit``). Everything is
chosen on validation: MNIST's validation split and the corpus's val writers pick the checkpoint,
fit the temperature that is baked into the last layer (``digitpad.calibration``) and set the
status thresholds (``digitpad.thresholds``). The MNIST test set and the corpus's test writers
are read once, at the end, on the exported files (``digitpad.export.publish``). Runs are seeded
and resumable (``--resume``) from ``checkpoint.pt``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from . import calibration, charset, thresholds
from . import data as mnist
from .export import publish
from .fit import (
    fit,
    load_best,
    machine_info,
    one_cycle,
    predict_logits,
    save_best,
    seed_torch,
    tensors,
)
from .model import bake_temperature, build_model, count_parameters
from .recipe import TrainConfig
from .trainset import GROUPS, Handwriting, epoch_counts, trained_on, training_sets


def train(
    cfg: TrainConfig,
    *,
    data_dir: str | Path | None,
    out_dir: str | Path,
    resume: bool = False,
    handwriting: Handwriting | None = None,
    heldout: Callable | None = None,
    extra_val: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
    init_state: dict | None = None,
    progress: bool = True,
    export: bool = True,
    version: str | None = None,
    stop_after_epoch: int | None = None,
) -> dict | None:
    """Run training; returns the artifact metadata. Writes into ``out_dir``:

    checkpoint.pt (last epoch, for --resume), best.pt (chosen on validation; once calibrated, the
    exported weights with the temperature baked in, and ``temperature`` beside them),
    metrics.jsonl (one line per epoch), meta.json, and unless ``export=False``: model.onnx,
    model.int8.onnx and MODEL_CARD.md (``export=False`` also skips calibration and every test
    set: speed benches, resume tests, leave-one-lab-out). ``handwriting`` (``trainset.load_handwriting``)
    adds the corpus's train writers to training and its val writers to validation; ``heldout``
    (Predictor -> dict) measures each exported file on held-out writers (reported, chooses
    nothing). ``extra_val`` (name -> images, labels) are further validation sets, logged in
    metrics.jsonl each epoch (they choose nothing); ``init_state`` starts from existing weights.
    ``stop_after_epoch`` ends this invocation early (after saving the checkpoint) and returns
    None: a time-boxed run, continued later with ``resume=True``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    gen = seed_torch(cfg)

    mnist_train, mnist_val = mnist.split_train_val(*mnist.load_split("train", data_dir), cfg)
    sets = training_sets(mnist_train, mnist_val, handwriting)
    counts = epoch_counts(sets.groups, handwriting_share=cfg.handwriting_share, negative_share=cfg.negative_share,
                          reader_share=cfg.reader_share, epoch_images=cfg.epoch_images)
    mix = (torch.from_numpy(sets.groups.astype(np.int64)), counts) if handwriting is not None else None

    model = build_model(cfg.model).to(memory_format=torch.channels_last)
    if init_state is not None:
        model.load_state_dict(init_state)
    logged = {**(sets.val_sets if handwriting is not None else {}), **(extra_val or {})}
    fitted = fit(model, cfg, tensors(sets.images, sets.labels), tensors(*sets.val), gen=gen, out_dir=out,
                 schedule=one_cycle, architecture=cfg.model.to_dict(), ema_decay=cfg.ema_decay,
                 extra_val={name: tensors(*xy) for name, xy in logged.items()}, mix=mix,
                 resume=resume, progress=progress, stop_after_epoch=stop_after_epoch)
    if fitted is None:
        return None

    final = load_best(out)  # the validation-chosen weights
    best = fitted.best
    data = {
        "checksums_sha256": mnist.checksums(),
        "train_images": int(len(sets.images)),
        "mnist_train_images": int(len(mnist_train[1])),
        "val_images": int(len(sets.val[1])),
        "mnist_val_images": int(len(mnist_val[1])),
        "epoch": dict(zip(GROUPS, counts, strict=True)),
        **({"handwriting": handwriting.info} if handwriting is not None else {}),
        **({"extra_val_images": {k: int(len(v[0])) for k, v in extra_val.items()}} if extra_val else {}),
    }
    data["trained_on"] = trained_on(data)
    meta = {
        "version": version or time.strftime("digitnet-%Y%m%d-%H%M%S"),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "architecture": cfg.model.to_dict(),
        "labels": list(charset.CLASSES[: cfg.model.num_classes]),
        "parameters": count_parameters(final),
        "recipe": cfg.to_dict(),
        "data": data,
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
        final, meta["calibration"], meta["thresholds"], val_figures = calibrate(final, sets.val_sets)
        meta["metrics"]["val"] = val_figures
        # best.pt holds what is exported (ensembles, parity checks and fine-tunes read it that way).
        save_best(final, out, cfg.model.to_dict(), temperature=meta["calibration"]["temperature"])
        meta, _ = publish(final, meta, out, test=mnist.load_split("test", data_dir),
                          calibration=sets.images, calibration_source="the run's training images",
                          history=fitted.history, heldout=heldout)
    (out / "meta.json").write_text(json.dumps(meta, indent=2))
    return meta


def calibrate(model: torch.nn.Module, val_sets: dict[str, tuple[np.ndarray, np.ndarray]]):
    """Fit the temperature on validation, bake it into ``model``, choose the thresholds.

    Both read every real digit of validation: MNIST's validation split and the val writers' pen
    digits (``val_sets["mnist"]``, ``["pen"]``), read as the API reads a digit. The temperature
    minimises the NLL of their ten digit logits (``confidence`` is the renormalised top digit);
    the thresholds (``thresholds.choose``) are set on their calibrated probabilities. MNIST is in
    the pool on purpose: the val writers' pen digits are nearly all easy (99.8% read right), so
    on their own they would set the ``uncertain`` threshold where harder hands get flagged far
    more often than the budget says. -> (model, calibration entry, thresholds entry, figures)."""
    def logits(name: str) -> np.ndarray:
        return predict_logits(model, tensors(*val_sets[name])[0]).numpy().astype(np.float64)

    pooled = [name for name in ("mnist", "pen") if name in val_sets]
    fit_on = "validation: " + " + ".join(f"{name} ({len(val_sets[name][1]):,} digits)" for name in pooled)
    z = np.concatenate([logits(name) for name in pooled])
    y = np.concatenate([val_sets[name][1] for name in pooled])
    t = calibration.fit_temperature(z[:, :calibration.DIGITS], y)
    before, after = (calibration.digit_calibration(calibration.softmax(z, s), y) for s in (1.0, t))
    bake_temperature(model, t)
    probs = {name: calibration.softmax(logits(name)) for name in val_sets}  # calibrated now
    chosen = thresholds.choose(np.concatenate([probs[name] for name in pooled]), y)
    figures = {name: {**thresholds.flag_figures(p, val_sets[name][1], chosen),
                      "ece": calibration.digit_calibration(p, val_sets[name][1])["ece"]}
               for name, p in probs.items() if val_sets[name][1].max(initial=0) < calibration.DIGITS}
    if "other" in probs:  # number symbols and negatives of the val writers: 21-class accuracy, flags
        p, lab = probs["other"], val_sets["other"][1]
        r = thresholds.read(p, chosen)
        neg = lab == charset.OTHER
        figures["other"] = {"n": int(len(lab)), "accuracy": float((p.argmax(1) == lab).mean()),
                            "negatives_not_digit": float((r["status"][neg] == "not_digit").mean()) if neg.any() else None,
                            "negatives_flagged": float((r["status"][neg] != "ok").mean()) if neg.any() else None}
    entry = {"temperature": round(t, 5), "method": "temperature scaling, NLL of the ten digit logits, baked "
             "into the last layer (weights and bias / temperature)", "fit_on": fit_on, "before": before, "after": after}
    return model, entry, {**chosen, "rule": thresholds.RULE, "budgets": thresholds.BUDGETS, "chosen_on": fit_on}, figures

"""Re-choose a finished model's status thresholds on validation, without retraining (no torch).

    digitpad thresholds runs/x/model.onnx --data-dir D [--pendigits F --unipen U]    # show
    digitpad thresholds runs/x/model.onnx ... --write     # store in model.onnx, model.int8.onnx, the card

A training run chooses its thresholds once (``train.calibrate``) from ``thresholds.BUDGETS``.
When the budgets change, a finished model is brought to them here instead of being retrained
(40 minutes for the shipped recipe): the same pool (MNIST's validation split + the val writers'
pen digits), the same rule (``thresholds.choose``), read by the float ONNX model (a run's
thresholds are always the float model's). Each rewritten file's held-out figures
(``metrics.heldout``, test writers: reported, never chosen on) are measured again under the new
thresholds, so the card never shows figures of thresholds the model no longer has.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

from . import artifact, corpus, thresholds
from .card import heldout_section, thresholds_row
from .predict import Predictor
from .quantize import with_metadata

Labelled = tuple[np.ndarray, np.ndarray]  # (N, 28, 28) uint8 images, (N,) labels 0-9


def validation_pool(mnist_val: Labelled, val: corpus.Corpus | None) -> tuple[Labelled, str]:
    """MNIST's validation split + the val writers' pen digits (what ``train.calibrate`` chose on)
    -> (images, labels) and the ``chosen_on`` text."""
    parts = {"mnist": mnist_val}
    if val is not None:
        v = val.trainable()
        pen = v.category == "digit"
        parts["pen"] = (v.images[pen], v.labels[pen])
    images = np.concatenate([x for x, _ in parts.values()])
    labels = np.concatenate([y.astype(np.int64) for _, y in parts.values()])
    return (images, labels), "validation: " + " + ".join(f"{k} ({len(y):,} digits)" for k, (_, y) in parts.items())


def rechoose(float_model: str | Path, pool: Labelled, chosen_on: str,
             budgets: dict[str, float] | None = None) -> dict:
    """The thresholds entry ``thresholds.choose`` gives the float model on ``pool`` today."""
    p = Predictor(float_model, threads=0)
    x, y = pool
    probs = np.concatenate([p.predict_batch(x[i: i + 1000]) for i in range(0, len(x), 1000)])  # (N, C)
    b = {**thresholds.BUDGETS, **(budgets or {})}
    return {**thresholds.choose(probs, y, b), "rule": thresholds.RULE, "budgets": b, "chosen_on": chosen_on}


def write(path: str | Path, entry: dict, heldout: Callable[[Predictor], dict] | None = None,
          float_model: str | Path | None = None) -> dict:
    """Store ``entry`` as the thresholds of the model file ``path`` (atomically), its held-out
    figures measured again with them (or dropped when ``heldout`` is None). An int8 twin names
    its float model by sha256: ``float_model`` is that file, rewritten first. -> new metadata."""
    import onnx  # the train extra: rewriting a model file is not serving

    path = Path(path)
    meta = json.loads(json.dumps(Predictor(path, threads=0).metadata))
    meta["thresholds"] = entry
    if float_model is not None and "quantization" in meta:
        meta["quantization"]["float_model"]["sha256"] = hashlib.sha256(Path(float_model).read_bytes()).hexdigest()
    meta.get("metrics", {}).pop("heldout", None)
    artifact.write_atomically(path, with_metadata(onnx.load(str(path)), meta))
    if heldout is not None:
        meta["metrics"]["heldout"] = heldout(Predictor(path, threads=0))
        artifact.write_atomically(path, with_metadata(onnx.load(str(path)), meta))
    return meta


def update_card(card: str, float_meta: dict, int8_meta: dict | None) -> str:
    """``card`` (MODEL_CARD.md text) with its thresholds row and held-out section redone."""
    card = re.sub(r"^\| thresholds \(.*$", lambda _: thresholds_row(float_meta["thresholds"]), card, count=1, flags=re.M)
    section = "\n".join(heldout_section(float_meta, int8_meta)) + "\n"
    if re.search(r"^## Held-out writers$", card, flags=re.M):
        return re.sub(r"^## Held-out writers\n.*?(?=^## )", lambda _: section, card, count=1, flags=re.M | re.S)
    return card

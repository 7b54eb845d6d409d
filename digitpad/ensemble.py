"""Combine finished training runs into one ensemble artifact: one ONNX graph (torch).

    digitpad ensemble --data-dir ../shared/data/mnist runs/a runs/b --out runs/ens

Every run must share the validation split (``split_seed``), so the ensemble's validation
accuracy is measured on images none of its members trained on. The test set is evaluated once,
at the end, on the exported file, as for a single run (``digitpad.export.publish``).
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import torch

from . import data as mnist
from .errors import DigitpadError
from .export import publish
from .fit import accuracy, tensors
from .model import build_model, count_parameters, ensemble_config
from .recipe import TrainConfig


def ensemble(
    run_dirs: list[str | Path],
    *,
    data_dir: str | Path | None,
    out_dir: str | Path,
    version: str | None = None,
) -> dict:
    """Write ``out_dir``/model.onnx (+ int8 twin, MODEL_CARD.md, the members' metrics); returns
    its metadata. Each run folder needs the ``best.pt``, ``meta.json`` and ``metrics.jsonl`` of
    a finished ``digitpad train``."""
    runs = [Path(d) for d in run_dirs]
    metas = [json.loads((r / "meta.json").read_text()) for r in runs]
    split_seeds = {m["recipe"].get("split_seed", 0) for m in metas}
    if len(split_seeds) != 1:
        raise DigitpadError(f"ensemble members use different validation splits: {sorted(split_seeds)}",
                            hint="combine runs trained with the same --split-seed")
    arch = ensemble_config([m["architecture"] for m in metas])
    model = build_model(arch)
    for member, run in zip(model.members, runs):
        member.load_state_dict(torch.load(run / "best.pt", weights_only=True)["model"])
    model.eval()

    cfg = replace(TrainConfig(), split_seed=split_seeds.pop(), limit=metas[0]["recipe"].get("limit"))
    (train_np, _), (xv_np, yv_np) = mnist.split_train_val(*mnist.load_split("train", data_dir), cfg)
    val_acc, _ = accuracy(model, *tensors(xv_np, yv_np))
    member_keys = ("val_accuracy", "test_accuracy", "best_epoch", "epochs", "weights", "train_seconds")
    meta = {
        "version": version or time.strftime("digitnet-ensemble-%Y%m%d-%H%M%S"),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "architecture": arch,
        **({"labels": metas[0]["labels"]} if "labels" in metas[0] else {}),
        "parameters": count_parameters(model),
        "recipe": {"combine": "mean of the members' log-probabilities", "members": [m["recipe"] for m in metas]},
        "data": {**metas[0]["data"], "val_images": int(len(xv_np))},
        "metrics": {
            "val_accuracy": val_acc,
            "train_seconds": round(sum(m["metrics"]["train_seconds"] for m in metas), 1),
            "members": [{"version": m["version"], **{k: m["metrics"].get(k) for k in member_keys}} for m in metas],
        },
        "machine": metas[0]["machine"],
    }
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    histories = {}
    for m, run in zip(metas, runs):
        rows = (run / "metrics.jsonl").read_text()
        histories[m["version"]] = [json.loads(line) for line in rows.splitlines()]
        (out / f"metrics-{m['version']}.jsonl").write_text(rows)
    meta, _ = publish(model, meta, out, test=mnist.load_split("test", data_dir), calibration=train_np,
                      calibration_source="MNIST training images (the members' split)", histories=histories)
    (out / "meta.json").write_text(json.dumps(meta, indent=2))
    return meta

"""Model-artifact facts, in one leaf module that imports no torch and no onnx.

A digitpad model is one ``.onnx`` file whose metadata entry ``METADATA_KEY`` holds JSON: the
version, architecture, input spec, normalisation, labels, recipe, data and measured accuracy.
The package ships two: the float training artifact (``digitpad.onnx``) and its int8 serving
twin (``digitpad.int8.onnx``, ``digitpad.quantize``). Everything that names those files, the
metadata key, writes a model file or ships a model into the package goes through here.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

METADATA_KEY = "digitpad"  # the ONNX metadata_props entry holding the model's JSON description
FORMAT = "digitpad-onnx/1"


def models_dir() -> Path:
    """The package's model folder (``digitpad/models``)."""
    return Path(str(resources.files("digitpad") / "models"))


def float_model_path() -> Path:
    """The shipped float model: the training artifact (fine-tuning starts from it)."""
    return models_dir() / "digitpad.onnx"


def int8_path(float_path: str | Path) -> Path:
    """runs/x/model.onnx -> runs/x/model.int8.onnx"""
    p = Path(float_path)
    return p.with_name(p.name.removesuffix(".onnx") + ".int8.onnx")


def default_model_path() -> Path:
    """The model served when none is named: the shipped int8 twin of the float model
    (~3x faster on the CPU), or the float model if it is missing."""
    q = int8_path(float_model_path())
    return q if q.is_file() else float_model_path()


def sequence_model_path() -> Path:
    """The shipped sequence model (``digitpad.sequence``): digit runs read whole."""
    return models_dir() / "sequence.onnx"


def write_atomically(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through ``path.part`` + rename: a reader (a server loading the
    model, a copy into the package) never sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path


def card_path() -> Path:
    """The shipped model's card (``digitpad/models/MODEL_CARD.md``)."""
    return models_dir() / "MODEL_CARD.md"


def is_shipped_float(path: str | Path) -> bool:
    """Whether ``path`` holds the same bytes as the shipped float model."""
    path = Path(path)
    return path.is_file() and path.read_bytes() == float_model_path().read_bytes()


def ship_run(run_dir: str | Path, metrics: list[Path]) -> Path:
    """Install a run's model.onnx, model.int8.onnx (what serving loads) and MODEL_CARD.md as
    the package's model, with its training metrics (``metrics.jsonl``, then ``metrics-2.jsonl``...
    for an ensemble's members). Each file is written atomically. Returns the models folder."""
    run, models = Path(run_dir), models_dir()
    write_atomically(float_model_path(), (run / "model.onnx").read_bytes())
    write_atomically(int8_path(float_model_path()), (run / "model.int8.onnx").read_bytes())
    write_atomically(card_path(), (run / "MODEL_CARD.md").read_bytes())
    for old in models.glob("metrics*.jsonl"):
        old.unlink()
    for i, path in enumerate(metrics):
        write_atomically(models / ("metrics.jsonl" if i == 0 else f"metrics-{i + 1}.jsonl"), path.read_bytes())
    return models


def ship_int8(int8_file: str | Path, card_text: str) -> Path:
    """Install an int8 model as the served one (the twin of the shipped float model: check with
    ``is_shipped_float`` first), with the shipped card's new text. Returns the models folder."""
    write_atomically(int8_path(float_model_path()), Path(int8_file).read_bytes())
    write_atomically(card_path(), card_text.encode())
    return models_dir()

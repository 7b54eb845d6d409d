"""Model-artifact facts, in one leaf module that imports no torch and no onnx.

A digitpad model is one ``.onnx`` file whose metadata entry ``METADATA_KEY`` holds JSON: the
version, architecture, input spec, normalisation, labels, recipe, data and measured accuracy.
The package ships two: the float training artifact (``digitpad.onnx``) and its int8 serving
twin (``digitpad.int8.onnx``, ``digitpad.quantize``). Everything that names those files, the
metadata key, or writes a model file goes through here.
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


def write_atomically(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through ``path.part`` + rename: a reader (a server loading the
    model, a copy into the package) never sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path

"""What every ``digitpad`` command shares: settings from flags, the common flags, input expansion.

Config flows one way: flags -> ``Settings`` (which also reads ``DIGITPAD_*`` env vars) ->
constructor arguments.
"""

from __future__ import annotations

import argparse
import glob
import importlib.util
import os
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import DigitpadError
from ..settings import Settings

if TYPE_CHECKING:
    from ..reading import Reader

# What a folder scan picks up: the suffixes of the formats the decoder accepts
# (decode.ACCEPTED_FORMATS: PNG, JPEG, WebP, BMP, GIF), so that no file is listed only to be refused.
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif"}


def settings_from(args: argparse.Namespace) -> Settings:
    """Settings from env vars, overridden by the flags that were given."""
    overrides = {k: v for k, v in vars(args).items() if v is not None and k in Settings.model_fields}
    return Settings(**overrides)


def reader_from(s: Settings, threads: int | None = None) -> Reader:
    """The one image reader (decode -> preprocess -> model), configured from the settings."""
    from ..predict import Predictor
    from ..reading import reader_for  # (onnxruntime: loaded only by the commands that read images)

    return reader_for(s, Predictor(s.model, threads=s.threads if threads is None else threads))


def need_torch() -> None:
    """A clear error, before anything starts, when the train extra is missing."""
    if importlib.util.find_spec("torch") is None:
        raise DigitpadError("training needs PyTorch, which is not installed",
                            hint="pip install -e '.[train]'  (or: make install)")


def data_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", default=None, help="folder with the MNIST IDX files (env DIGITPAD_DATA_DIR)")


def sequence_flags(p: argparse.ArgumentParser) -> None:
    """--sequence-model PATH and --no-sequence, their help the settings' own."""
    f = Settings.model_fields
    p.add_argument("--sequence-model", default=None, metavar="PATH",
                   help=f"{f['sequence_model'].description} (env DIGITPAD_SEQUENCE_MODEL)")
    p.add_argument("--no-sequence", dest="sequence", action="store_false", default=None,
                   help=f"do not: {f['sequence'].description} (env DIGITPAD_SEQUENCE=false)")


def model_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=None, help="digitpad .onnx model (default: the shipped one; env DIGITPAD_MODEL)")


def db_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--database-url", default=None,
                   help="feedback database (env DIGITPAD_DATABASE_URL; default: SQLite in the per-user data dir)")


def expand_inputs(items: list[str]) -> list[Path]:
    """Files, folders (their images, sorted) and glob patterns -> image paths."""
    paths: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():  # scandir: the entry's type comes with the listing (no stat per file)
            with os.scandir(p) as entries:
                found = sorted(e.path for e in entries
                               if os.path.splitext(e.name)[1].lower() in IMAGE_SUFFIXES and e.is_file())
            paths += map(Path, found)
        elif p.is_file():
            paths.append(p)
        elif glob.has_magic(item):
            matches = sorted(Path(m) for m in glob.glob(item, recursive=True) if Path(m).is_file())
            if not matches:
                raise DigitpadError(f"no files match {item}", hint="check the pattern (quote it to let digitpad expand it)")
            paths += matches
        else:
            raise DigitpadError(f"no such file or folder: {item}", hint="give image files, folders or glob patterns")
    if not paths:
        raise DigitpadError("no images found", hint=f"images end in one of {', '.join(sorted(IMAGE_SUFFIXES))}")
    return paths

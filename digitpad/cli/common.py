"""What every ``digitpad`` command shares: settings from flags, the common flags, input expansion.

Config flows one way: flags -> ``Settings`` (which also reads ``DIGITPAD_*`` env vars) ->
constructor arguments.
"""

from __future__ import annotations

import argparse
import glob
import os
from pathlib import Path

from ..errors import DigitpadError
from ..settings import Settings

# What a folder scan picks up: the suffixes of the formats the decoder accepts
# (preprocess.ACCEPTED_FORMATS: PNG, JPEG, WebP, BMP, GIF), so that no file is listed only to be refused.
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif"}


def settings_from(args: argparse.Namespace) -> Settings:
    """Settings from env vars, overridden by the flags that were given."""
    overrides = {k: v for k, v in vars(args).items() if v is not None and k in Settings.model_fields}
    return Settings(**overrides)


def need_torch() -> None:
    try:
        import torch  # noqa: F401
    except ImportError:
        raise DigitpadError(
            "training needs PyTorch, which is not installed",
            hint="pip install -e '.[train]'  (or: make install)",
        ) from None


def data_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", default=None, help="folder with the MNIST IDX files (env DIGITPAD_DATA_DIR)")


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

"""Shared fixtures. Data locations come from env vars (the Makefile and .ci/run set them):

DIGITPAD_DATA_DIR        folder with the four MNIST IDX .gz files
DIGITPAD_PENDIGITS       the pendigits trajectories-dev.jsonl.gz file
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    d = os.environ.get("DIGITPAD_DATA_DIR")
    if not d or not Path(d).is_dir():
        pytest.skip("set DIGITPAD_DATA_DIR to the MNIST folder (make test sets it to ../shared/data/mnist)")
    return Path(d)


@pytest.fixture(scope="session")
def pendigits_path() -> Path:
    p = os.environ.get("DIGITPAD_PENDIGITS")
    if not p or not Path(p).is_file():
        pytest.skip("set DIGITPAD_PENDIGITS to trajectories-dev.jsonl.gz (make test sets it)")
    return Path(p)


@pytest.fixture(scope="session")
def shipped_model() -> Path:
    from digitpad.predict import default_model_path

    return default_model_path()


@pytest.fixture(scope="session")
def output_dir() -> Path:
    """Where tests leave artifacts a person may want to look at (screenshots...)."""
    d = REPO / "test-output"
    d.mkdir(exist_ok=True)
    return d

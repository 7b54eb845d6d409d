"""The model notebook (notebooks/model.ipynb) runs, and the committed copy is a full, current run.

The fast run executes the notebook with nbclient through ``notebooks/execute.py --fast`` (the
same runner as ``make notebook``) into a temporary file; the committed notebook is never
written. The committed notebook must carry the outputs of a full run of the model that ships
in the package, so that it renders on a code host and does not describe an older model.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "model.ipynb"
RUNNER = REPO / "notebooks" / "execute.py"


def _outputs(nb) -> list[tuple[int, dict]]:
    return [(i, o) for i, c in enumerate(nb.cells) if c.cell_type == "code" for o in c.get("outputs", [])]


def _text(nb, cell_index: int) -> str:
    return "".join(o.get("text", "") for o in nb.cells[cell_index].get("outputs", []) if o["output_type"] == "stream")


def _first_code_cell(nb) -> int:
    return next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")


def _errors(nb) -> list[str]:
    return [f"cell {i}: {o['ename']}: {o['evalue']}" for i, o in _outputs(nb) if o["output_type"] == "error"]


def _pngs(nb) -> int:
    return sum("image/png" in o.get("data", {}) for _, o in _outputs(nb))


@pytest.fixture(scope="module")
def fast_run(tmp_path_factory, mnist_dir: Path, pendigits_path: Path):
    """The notebook executed in fast mode, read back from a temporary file."""
    out = tmp_path_factory.mktemp("notebook") / "model.ipynb"
    before = NOTEBOOK.read_bytes()
    env = {**os.environ, "DIGITPAD_DATA_DIR": str(mnist_dir), "DIGITPAD_PENDIGITS": str(pendigits_path)}
    env.pop("DIGITPAD_MODEL", None)  # the shipped model
    r = subprocess.run([sys.executable, str(RUNNER), str(NOTEBOOK), "--fast", "--output", str(out)],
                       cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, f"notebook failed in fast mode:\n{r.stderr[-6000:]}\n{r.stdout[-2000:]}"
    assert NOTEBOOK.read_bytes() == before, "the fast run wrote over the committed notebook"
    return nbformat.read(out, as_version=4)


def test_fast_run_executes_every_cell_without_error(fast_run) -> None:
    assert _errors(fast_run) == []
    code = [c for c in fast_run.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1))
    assert "mode: FAST" in _text(fast_run, _first_code_cell(fast_run))


def test_fast_run_draws_the_figures(fast_run) -> None:
    # Samples, balance, pixels, MNIST geometry, preprocessing demo, architecture, 2x augmentation,
    # per-class + confusion, mistakes, calibration, threshold, pendigits x3 (training curves need
    # the shipped metrics.jsonl, so they are not counted here).
    assert _pngs(fast_run) >= 15, _pngs(fast_run)
    assert not any("image/svg+xml" in o.get("data", {}) for _, o in _outputs(fast_run))


def test_runner_refuses_to_save_a_failing_notebook(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 / 0")])
    path = tmp_path / "broken.ipynb"
    nbformat.write(nb, path)
    before = path.read_bytes()
    r = subprocess.run([sys.executable, str(RUNNER), str(path)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "ZeroDivisionError" in r.stderr, r.stderr
    assert path.read_bytes() == before


def test_committed_notebook_is_a_full_run_of_the_shipped_model(shipped_model: Path, shipped_float_model: Path) -> None:
    """Fails when the model changes and `make notebook` was not re-run (or a fast run was committed)."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert _errors(nb) == []
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), "not run top to bottom"
    head = _text(nb, _first_code_cell(nb))
    assert "mode: full" in head, head
    for model in (shipped_model, shipped_float_model):  # the served int8 file and its float source
        sha = hashlib.sha256(model.read_bytes()).hexdigest()[:16]
        assert f"sha256 {sha}" in head, f"the notebook ran on another model; run `make notebook`\n{head}"
    assert _pngs(nb) >= 16, _pngs(nb)
    size = NOTEBOOK.stat().st_size
    assert size < 3_000_000, f"{size:,} bytes"

"""The digitpad CLI end to end, as a user runs it (subprocesses)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def digitpad(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "digitpad.cli", *args], capture_output=True, text=True,
                          timeout=300, cwd=cwd)


@pytest.fixture(scope="module")
def png_folder(tmp_path_factory, mnist_dir: Path):
    """40 MNIST test digits saved as 112x112 black-on-white PNGs, like scans of paper."""
    from digitpad.data import load_split

    x, y = load_split("test", mnist_dir)
    folder = tmp_path_factory.mktemp("pngs")
    for i in range(40):
        Image.fromarray(255 - x[i]).resize((112, 112), Image.BILINEAR).save(folder / f"d{i:03d}_{y[i]}.png")
    return folder, y[:40]


def test_info():
    r = digitpad("info")
    assert r.returncode == 0, r.stderr
    assert "model:" in r.stdout and "parameters" in r.stdout
    meta = json.loads(digitpad("info", "--json").stdout)
    assert meta["labels"][:10] == [str(i) for i in range(10)] and "version" in meta
    # What the model learned and how it decides, from its own metadata (issue 14).
    assert f"trained on: {meta['data']['trained_on']}" in r.stdout
    assert f"not_digit < {meta['thresholds']['not_digit']}" in r.stdout


def test_evaluate_json_and_grid(tmp_path: Path, mnist_dir: Path):
    grid = tmp_path / "wrong.png"
    r = digitpad("evaluate", "--data-dir", str(mnist_dir), "--limit", "1000", "--json", "--grid", str(grid))
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["images"] == 1000 and res["accuracy"] > 0.95
    assert np.array(res["confusion"]).sum() == 1000 and len(res["per_class_accuracy"]) == 10
    assert round(1000 * (1 - res["accuracy"])) == res["errors"]
    assert Image.open(grid).size[0] > 100


def test_evaluate_table_writes_nothing_unless_asked(mnist_dir: Path, tmp_path: Path):
    r = digitpad("evaluate", "--data-dir", str(mnist_dir), "--limit", "500", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "accuracy:" in r.stdout and "confusion" in r.stdout
    assert list(tmp_path.iterdir()) == [], "evaluate wrote into the working directory"


def test_evaluate_with_a_data_dir_that_does_not_exist(tmp_path: Path):
    typo = tmp_path / "shraed" / "mnist"
    r = digitpad("evaluate", "--data-dir", str(typo), cwd=tmp_path)
    assert r.returncode == 1, (r.stdout, r.stderr)
    first = r.stderr.splitlines()[0]
    assert first == f"digitpad: error: no such folder: {typo}", r.stderr
    assert len(r.stderr.splitlines()) <= 2 and all(len(line) < 120 for line in r.stderr.splitlines()), r.stderr
    assert "http" not in r.stderr and "could not be downloaded" not in r.stderr, r.stderr  # no attempt
    assert list(tmp_path.iterdir()) == [], "evaluate created folders"


def test_predict_folder_json(png_folder):
    folder, labels = png_folder
    r = digitpad("predict", str(folder), "--json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert len(rows) == 40
    digits = [row["digit"] for row in rows]
    assert np.mean(np.array(digits) == labels) >= 0.9, digits
    # Every file read (no error, none empty); a rare MNIST scrawl may be answered not_digit.
    assert all(row["status"] in ("ok", "uncertain", "not_digit") for row in rows), rows
    assert sum(row["status"] == "not_digit" for row in rows) <= 2, rows


def test_predict_glob_and_table(png_folder):
    folder, labels = png_folder
    r = digitpad("predict", str(folder / "d00*.png"))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert lines[0].split() == ["file", "digit", "confidence", "status"]
    assert len(lines) == 1 + 10


def test_predict_bad_file_one_line_and_nonzero(tmp_path: Path, png_folder):
    folder, _ = png_folder
    bad = tmp_path / "notes.png"
    bad.write_text("this is not a picture")
    r = digitpad("predict", str(bad), str(folder / "d000_7.png"))
    assert r.returncode == 1
    assert "error" in r.stdout and "Traceback" not in r.stderr


def test_folder_scans_pick_only_formats_the_decoder_reads(tmp_path: Path, png_folder):
    """A folder with a TIFF beside a PNG: the scan lists the PNG only (TIFF is refused with 415 by
    the decoder, so listing it would only add an error row); a TIFF named explicitly is refused."""
    from PIL import Image as PILImage

    from digitpad.cli.common import IMAGE_SUFFIXES
    from digitpad.decode import ACCEPTED_FORMATS

    extensions = PILImage.registered_extensions()
    assert {extensions[s] for s in IMAGE_SUFFIXES} <= ACCEPTED_FORMATS, sorted(IMAGE_SUFFIXES)
    folder, _ = png_folder
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    (mixed / "seven.png").write_bytes((folder / "d000_7.png").read_bytes())
    PILImage.open(folder / "d001_2.png").save(mixed / "two.tif")
    r = digitpad("predict", str(mixed), "--json")
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert [Path(row["file"]).name for row in json.loads(r.stdout)] == ["seven.png"]
    r = digitpad("predict", str(mixed / "two.tif"), "--json")
    assert r.returncode == 1 and json.loads(r.stdout)[0]["status"] == "error", r.stdout


@pytest.mark.parametrize("args, rc, needle", [
    (["predict", "/no/such/file.png"], 1, "no such file or folder"),
    (["predict", "/no/such/*.png"], 1, "no files match"),
    (["info", "--model", "/no/such/model.onnx"], 1, "model file not found"),
    (["frobnicate"], 2, "invalid choice"),
    (["train", "--epochs", "many"], 2, "invalid int value"),
])
def test_bad_arguments(args, rc, needle, tmp_path: Path):
    r = digitpad(*args, cwd=tmp_path)
    assert r.returncode == rc, (r.stdout, r.stderr)
    assert needle in r.stderr
    assert "Traceback" not in r.stderr
    if rc == 1:
        lines = r.stderr.strip().splitlines()
        assert lines[0].startswith("digitpad: error:") and len(lines) <= 2, r.stderr

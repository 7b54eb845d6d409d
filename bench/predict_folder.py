"""Throughput of ``digitpad predict`` on a folder of PNG files (the batch CLI path).

    .venv/bin/python bench/predict_folder.py                  # 10,000 MNIST test digits as 28x28 PNGs
    .venv/bin/python bench/predict_folder.py --kind canvas    # 280x280 canvas PNGs (pendigits)
    .venv/bin/python bench/predict_folder.py -n 1000 --jobs 1

Writes the images to a temporary folder once, then times the real command
(``python -m digitpad.cli predict FOLDER --json``) as a subprocess: wall time, images/s, and
the CPU seconds of the command and its decoding processes, so a loaded machine can be told
apart from a slow program. Checks the answers against the labels (a benchmark of a broken
reader is worthless) and prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serving import ONE_THREAD_ENV, canvas_drawings, pendigits_path  # noqa: E402


def write_mnist(folder: Path, n: int, data_dir: str | None) -> dict[str, int]:
    from digitpad.data import load_split

    images, labels = load_split("test", Path(data_dir) if data_dir else None, download=False)
    truth = {}
    for i in range(n):
        k = i % len(images)
        name = f"{i:05d}.png"
        Image.fromarray(images[k]).save(folder / name, "PNG")  # (28, 28) white on black, as in MNIST
        truth[name] = int(labels[k])
    return truth


def write_canvas(folder: Path, n: int, pendigits: str | None) -> dict[str, int]:
    truth = {}
    drawings = canvas_drawings(pendigits_path(pendigits), min(n, 2000))
    for i in range(n):
        d = drawings[i % len(drawings)]
        name = f"{i:05d}.png"
        (folder / name).write_bytes(d.png)
        truth[name] = d.label
    return truth


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=10_000, help="number of image files")
    ap.add_argument("--kind", choices=["mnist", "canvas"], default="mnist")
    ap.add_argument("--jobs", type=int, default=0, help="passed to digitpad predict (0: its default)")
    ap.add_argument("--data-dir", default=os.environ.get("DIGITPAD_DATA_DIR"))
    ap.add_argument("--pendigits", default=None)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="digitpad-predict-bench-") as tmp:
        folder = Path(tmp) / "images"
        folder.mkdir()
        truth = (write_mnist if args.kind == "mnist" else write_canvas)(
            folder, args.n, args.data_dir if args.kind == "mnist" else args.pendigits)
        cmd = [sys.executable, "-m", "digitpad.cli", "predict", str(folder), "--json", "--jobs", str(args.jobs)]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **ONE_THREAD_ENV})
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if out.returncode != 0:
            sys.exit(f"digitpad predict failed ({out.returncode}): {out.stderr[-2000:]}")
        rows = json.loads(out.stdout)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    correct = sum(r["digit"] == truth[Path(r["file"]).name] for r in rows)
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores", "date": time.strftime("%Y-%m-%d %H:%M"),
        "load_avg": [round(x, 2) for x in os.getloadavg()], "kind": args.kind, "images": len(rows),
        "wall_s": round(wall, 2), "images_per_s": round(len(rows) / wall, 1), "cpu_s": round(cpu, 2),
        "cpu_ms_per_image": round(1000 * cpu / len(rows), 3),
        "images_per_s_on_free_cores": round(len(rows) / cpu * (os.cpu_count() or 1), 1),
        "accuracy": round(correct / len(rows), 4), "model": _model_version(),
    }
    print(f"digitpad predict: {len(rows)} {args.kind} PNGs in {wall:.2f} s = {result['images_per_s']:.0f} images/s "
          f"({result['cpu_ms_per_image']:.2f} CPU ms per image; load average {result['load_avg']}); "
          f"accuracy {result['accuracy']:.2%}")
    print(json.dumps(result))



def _model_version() -> str:
    """The model the command reads with (DIGITPAD_MODEL or the shipped one)."""
    from digitpad.predict import Predictor
    from digitpad.settings import Settings

    return Predictor(Settings().model).version

if __name__ == "__main__":
    main()

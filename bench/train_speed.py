"""Training speed: images/s, and wall time until validation accuracy reaches 99.0% / 99.5%
with the fast recipe (the full recipe with fewer epochs; see digitpad.recipe.fast_config).

    .venv/bin/python bench/train_speed.py --data-dir ../shared/data/mnist [--epochs 4]

Needs the train extra (torch). Prints per-epoch figures and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

from digitpad.fit import machine_info
from digitpad.recipe import fast_config
from digitpad.settings import Settings
from digitpad.train import train


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=None, help="MNIST folder (env DIGITPAD_DATA_DIR)")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    data_dir = args.data_dir or Settings().data_dir

    cfg = fast_config(epochs=args.epochs, threads=args.threads)
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        meta = train(cfg, data_dir=data_dir, out_dir=out, progress=False, export=False)
        wall = time.perf_counter() - t0
        rows = [json.loads(line) for line in open(os.path.join(out, "metrics.jsonl"))]
    reach = {}
    for target in (0.99, 0.995):
        hit = next((r for r in rows if max(r["val_acc"], r["val_acc_ema"]) >= target), None)
        reach[f"{target:.1%}"] = None if hit is None else {"epoch": hit["epoch"], "seconds": round(hit["elapsed_seconds"], 1)}
    for r in rows:
        print(f"epoch {r['epoch']}: {r['images_per_second']:.0f} img/s, val {r['val_acc']:.2%} "
              f"(EMA {r['val_acc_ema']:.2%}), elapsed {r['elapsed_seconds']:.0f}s")
    for k, v in reach.items():
        print(f"validation >= {k}: " + ("not reached" if v is None else f"epoch {v['epoch']}, {v['seconds']:.0f}s of training"))
    print(json.dumps({
        "epochs": cfg.epochs, "images_per_s_median": sorted(r["images_per_second"] for r in rows)[len(rows) // 2],
        "reach": reach, "final_val": meta["metrics"]["val_accuracy"],
        "wall_seconds": round(wall, 1), "machine": machine_info(),
    }))


if __name__ == "__main__":
    main()

"""Predictor latency and throughput (ONNX Runtime on the CPU, no torch).

    .venv/bin/python bench/predictor_latency.py [--model PATH] [--repeat 2000]

Prints single-image latency p50/p99 (threads=1, as the server uses it), batch latency and
throughput for several batch sizes (threads=1 and all cores), and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np

from digitpad.predict import Predictor


def percentiles(samples: list[float]) -> dict:
    a = np.array(samples) * 1000.0
    return {"p50_ms": round(float(np.percentile(a, 50)), 4), "p99_ms": round(float(np.percentile(a, 99)), 4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None)
    ap.add_argument("--repeat", type=int, default=2000, help="single-image calls")
    args = ap.parse_args()

    rng = np.random.default_rng(0)
    images = (rng.random((1024, 28, 28)) > 0.8).astype(np.uint8) * 255  # content does not change the cost
    result: dict = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
                    "date": time.strftime("%Y-%m-%d")}

    p1 = Predictor(args.model, threads=1)
    result["model"] = p1.version
    for _ in range(200):  # warm-up
        p1.predict(images[0])
    samples = []
    for i in range(args.repeat):
        t = time.perf_counter()
        p1.predict(images[i % len(images)])
        samples.append(time.perf_counter() - t)
    result["single"] = percentiles(samples)
    print(f"single image (threads=1): p50 {result['single']['p50_ms']:.3f} ms, p99 {result['single']['p99_ms']:.3f} ms")

    pall = Predictor(args.model, threads=0)
    result["batch"] = []
    for threads, pred in ((1, p1), (os.cpu_count(), pall)):
        for bs in (32, 256, 1024):
            batch = images[:bs]
            pred.predict_batch(batch)
            samples = []
            for _ in range(max(5, 2000 // bs)):
                t = time.perf_counter()
                pred.predict_batch(batch)
                samples.append(time.perf_counter() - t)
            row = {"threads": threads, "batch": bs, **percentiles(samples),
                   "images_per_s": round(bs / float(np.median(samples)))}
            result["batch"].append(row)
            print(f"batch {bs:>5} threads={threads}: p50 {row['p50_ms']:.2f} ms, p99 {row['p99_ms']:.2f} ms, "
                  f"{row['images_per_s']:,} images/s")
    print(json.dumps(result))


if __name__ == "__main__":
    main()

"""Accuracy on real pen-drawn digits (pendigits) rendered in many canvas styles.

    .venv/bin/python bench/pendigits_accuracy.py                       # starts `digitpad serve`, HTTP
    .venv/bin/python bench/pendigits_accuracy.py --url http://127.0.0.1:8000
    .venv/bin/python bench/pendigits_accuracy.py --direct --limit 200  # in-process, no server

Every drawing of the chosen split (default: the writers held out by
``split_by_writer(seed=0)``, which no preprocessing setting was tuned on) is rendered in
every style of ``digitpad.pendigits.STYLES`` (``--styles`` to pick some, ``--limit N`` per
style) and read: by default through ``POST /api/predict`` of a real server (the bytes take
the whole path a user's drawing takes), with ``--direct`` through ``preprocess_bytes`` +
``Predictor`` in-process. Prints a table (style, n, accuracy, uncertain rate), the accuracy
and coverage at confidence thresholds 0.50..0.90 for choosing ``uncertain_threshold``, and
one JSON line. ``--failures DIR`` saves a PNG grid of the misread 28x28 inputs per style.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from digitpad import pendigits
from digitpad.harness import HarnessError, ServerProcess
from digitpad.preprocess import preprocess_bytes
from digitpad.settings import Settings

THRESHOLDS = [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9]


class HttpReader:
    """Reads drawings through POST /api/predict of a running server (started here if no --url)."""

    def __init__(self, url: str | None, model: str | None) -> None:
        import httpx

        self.server = None
        if url is None:  # the package's harness: a real `digitpad serve` on a free loopback port
            self.server = ServerProcess(*(["--model", model] if model else []), env={"DIGITPAD_FEEDBACK": "false"})
            try:
                self.server.start()
            except HarnessError as e:
                raise SystemExit(f"{e}\ntry --direct") from None
            url = self.server.url
        self.url = url.rstrip("/")
        self.client = httpx.Client(timeout=30.0)
        info = self.client.get(self.url + "/api/model")
        self.version = info.json().get("version", "?") if info.status_code == 200 else "?"

    def read(self, images: list[bytes], mime: str) -> list[dict]:
        out = []
        for b in images:
            r = self.client.post(self.url + "/api/predict", files={"image": ("digit", b, mime)})
            if r.status_code != 200:
                raise SystemExit(f"POST /api/predict answered {r.status_code}: {r.text}")
            j = r.json()
            out.append({"digit": j.get("digit"), "confidence": j.get("confidence") or 0.0, "status": j["status"]})
        return out

    def close(self) -> None:
        self.client.close()
        if self.server is not None:
            self.server.__exit__(None, None, None)


class DirectReader:
    """The server's own reading (``digitpad.reading.Reader``) in this process, minus HTTP."""

    def __init__(self, model: str | None, threshold: float | None) -> None:
        from digitpad.predict import Predictor
        from digitpad.reading import reader_for

        self.reader = reader_for(Settings(uncertain_threshold=threshold), Predictor(model))
        self.version = self.reader.predictor.version

    def read(self, images: list[bytes], mime: str) -> list[dict]:
        out = []
        for b in images:
            r = self.reader.read(b)
            out.append({"digit": r.digit, "confidence": r.confidence, "status": r.status})
        return out

    def close(self) -> None:
        pass


def threshold_table(conf: np.ndarray, correct: np.ndarray) -> list[dict]:
    """For each threshold: share flagged uncertain, accuracy of the rest, errors caught."""
    rows = []
    n, errors = len(conf), int((~correct).sum())
    for t in THRESHOLDS:
        flag = conf < t
        kept = ~flag
        rows.append({
            "threshold": t,
            "flagged": round(float(flag.mean()), 4),
            "accuracy_kept": round(float(correct[kept].mean()) if kept.any() else 1.0, 4),
            "errors_caught": int((flag & ~correct).sum()),
            "errors": errors,
            "correct_flagged": int((flag & correct).sum()),
            "n": n,
        })
    return rows


def recommend(rows: list[dict], target: float = 0.99) -> float:
    """The lowest threshold at which the readings shown as confident are right at least
    ``target`` of the time (fewest correct readings flagged for that); the highest if none."""
    ok = [r for r in rows if r["accuracy_kept"] >= target]
    return min(ok, key=lambda r: r["threshold"])["threshold"] if ok else rows[-1]["threshold"]


def save_failures(path: Path, records: list[dict], style: pendigits.Style, reads: list[dict]) -> None:
    """A grid of the misread drawings' 28x28 inputs (label -> read shown in the file name list)."""
    from PIL import Image

    bad = [(r, x) for r, x in zip(records, reads, strict=True) if x["digit"] != r["label"]][:200]
    if not bad:
        return
    cols = 20
    grid = np.zeros((((len(bad) + cols - 1) // cols) * 30, cols * 30), np.uint8)
    for i, (r, _) in enumerate(bad):
        img = preprocess_bytes(pendigits.render(r, style)).image
        y, x = divmod(i, cols)
        grid[y * 30 + 1: y * 30 + 29, x * 30 + 1: x * 30 + 29] = img
    Image.fromarray(grid).resize((grid.shape[1] * 2, grid.shape[0] * 2), Image.NEAREST).save(path)
    path.with_suffix(".txt").write_text("".join(f"{r['id']} {r['writer']} label {r['label']} read {x['digit']} "
                                                f"conf {x['confidence']:.3f}\n" for r, x in bad))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pendigits", default=os.environ.get("DIGITPAD_PENDIGITS"),
                    help="trajectories .jsonl.gz (default: $DIGITPAD_PENDIGITS)")
    ap.add_argument("--url", default=None, help="a running server (default: start `digitpad serve` on a free port)")
    ap.add_argument("--direct", action="store_true", help="in-process preprocess_bytes + Predictor, no HTTP")
    ap.add_argument("--model", default=None, help="model file (default: the shipped one)")
    ap.add_argument("--split", choices=["holdout", "dev", "all"], default="holdout",
                    help="writers to read (split_by_writer seed 0; holdout: never used for tuning)")
    ap.add_argument("--styles", default=None, help="comma-separated style names (default: all)")
    ap.add_argument("--limit", type=int, default=None, help="drawings per style (spread over the writers)")
    ap.add_argument("--threshold", type=float, default=None,
                    help="uncertain threshold for --direct (default: the model's own, else Settings().uncertain_threshold)")
    ap.add_argument("--failures", type=Path, default=None, help="folder for PNG grids of misread inputs")
    args = ap.parse_args()
    if not args.pendigits or not Path(args.pendigits).is_file():
        raise SystemExit("pass --pendigits PATH (or set DIGITPAD_PENDIGITS) to trajectories-dev.jsonl.gz")

    records = pendigits.load(args.pendigits)
    dev, holdout = pendigits.split_by_writer(records, seed=0)
    records = {"holdout": holdout, "dev": dev, "all": records}[args.split]
    if args.limit and args.limit < len(records):
        idx = np.linspace(0, len(records) - 1, args.limit).round().astype(int)  # spread over writers
        records = [records[i] for i in idx]
    names = args.styles.split(",") if args.styles else list(pendigits.STYLES)
    unknown = [n for n in names if n not in pendigits.STYLES]
    if unknown:
        raise SystemExit(f"unknown style(s) {unknown}; known: {', '.join(pendigits.STYLES)}")
    threshold = args.threshold

    from digitpad.predict import Predictor

    # A model trained on pendigits writers (``digitpad train --pendigits``) must not be scored on them.
    data = Predictor(args.model).metadata.get("data", {})
    split = data.get("handwriting", {}).get("writer_split", {}).get("pendigits", {})
    seen = set(data.get("extra", {}).get("writers", [])) | set(split.get("train", [])) | set(split.get("val", []))
    overlap = seen & {r["writer"] for r in records}
    if overlap:
        print(f"WARNING: the model trained on {len(overlap)} of these writers: not a held-out measurement",
              file=sys.stderr)
    reader = DirectReader(args.model, threshold) if args.direct else HttpReader(args.url, args.model)
    mode = "direct" if args.direct else "http"
    if args.failures:
        args.failures.mkdir(parents=True, exist_ok=True)
    per_style, all_conf, all_ok = {}, [], []
    t_start = time.perf_counter()
    try:
        print(f"{'style':24s} {'n':>6s} {'accuracy':>9s} {'flagged':>9s} {'empty':>6s}  {'s':>5s}", flush=True)
        for name in names:
            style = pendigits.STYLES[name]
            mime = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}[style.format]
            t0 = time.perf_counter()
            reads = []
            for i in range(0, len(records), 256):
                chunk = records[i: i + 256]
                reads += reader.read([pendigits.render(r, style) for r in chunk], mime)
            labels = np.array([r["label"] for r in records])
            digits = np.array([-1 if x["digit"] is None else x["digit"] for x in reads])
            conf = np.array([x["confidence"] for x in reads], dtype=np.float64)
            ok = digits == labels
            uncertain = np.array([x["status"] in ("uncertain", "not_digit") for x in reads])  # flagged in any way
            empty = int(sum(x["status"] == "empty" for x in reads))
            per_style[name] = {"n": len(records), "accuracy": round(float(ok.mean()), 4),
                               "uncertain": round(float(uncertain.mean()), 4), "empty": empty}
            all_conf.append(conf)
            all_ok.append(ok)
            print(f"{name:24s} {len(records):6d} {ok.mean():9.2%} {uncertain.mean():9.2%} {empty:6d}  "
                  f"{time.perf_counter() - t0:5.0f}", flush=True)
            if args.failures:
                save_failures(args.failures / f"{name}.png", records, style, reads)
    finally:
        reader.close()

    conf, ok = np.concatenate(all_conf), np.concatenate(all_ok)
    worst = min(per_style, key=lambda k: per_style[k]["accuracy"])
    print(f"{'overall':24s} {len(ok):6d} {ok.mean():9.2%}   (worst style: {worst} "
          f"{per_style[worst]['accuracy']:.2%})")
    rows = threshold_table(conf, ok)
    print("\nconfidence threshold: flagged uncertain, accuracy of the rest, errors caught, correct flagged")
    for r in rows:
        print(f"  {r['threshold']:.2f}  flagged {r['flagged']:6.2%}  accuracy {r['accuracy_kept']:7.2%}  "
              f"caught {r['errors_caught']:4d}/{r['errors']}  correct flagged {r['correct_flagged']:4d}")
    rec = recommend(rows)
    print(f"recommended uncertain_threshold: {rec:.2f} (lowest with >= 99% of the confident readings right)")
    result = {
        "bench": "pendigits_accuracy", "mode": mode, "model": reader.version, "split": args.split,
        "writers": len({r["writer"] for r in records}), "writers_seen_in_training": len(overlap),
        "drawings_per_style": len(records),
        "overall": round(float(ok.mean()), 4), "worst_style": worst, "styles": per_style,
        "thresholds": rows, "recommended_threshold": rec, "seconds": round(time.perf_counter() - t_start, 1),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "date": time.strftime("%Y-%m-%d"),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()

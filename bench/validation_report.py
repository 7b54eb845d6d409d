"""Compare models on VALIDATION writers only: what every recipe choice is decided on.

    .venv/bin/python bench/validation_report.py runs/a/model.onnx runs/b/model.onnx
    .venv/bin/python bench/validation_report.py runs/*/model.onnx --json

Each model reads MNIST's validation split (the 5,000 images ``digitpad.data.split_train_val``
carves from the training set with the default seed) and the handwriting corpus's *val* writers
(``digitpad.corpus``, cached), never a test image or a test writer. Per model: MNIST val
accuracy (read as digits), pen digits of the val writers (UNIPEN, pendigits) with their errors
and flags under the model's own thresholds, its expected calibration error, the non-digits of
the val writers (letters, symbols, doodles: flagged, not_digit, AUROC of digit_likelihood) and
the number symbols' 21-class accuracy, and the val writers' digits redrawn in hand styles
(``CorpusSpec(variants_only=True)``: slashed zeros, barred sevens...; the val writers are nearly
all read right as they wrote, so the styles are where recipes differ). Prints a table and one
JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

from digitpad import corpus, thresholds
from digitpad.data import load_split, split_train_val
from digitpad.predict import Predictor
from digitpad.recipe import TrainConfig
from digitpad.scorecard import scorecard


def probabilities(p: Predictor, images: np.ndarray) -> np.ndarray:
    return np.concatenate([p.predict_batch(images[i: i + 1000]) for i in range(0, len(images), 1000)])


def report(path: str, mnist_val: tuple[np.ndarray, np.ndarray], val: corpus.Corpus, styled: corpus.Corpus) -> dict:
    p = Predictor(path, threads=0)
    t = p.metadata.get("thresholds") or thresholds.DEFAULT
    pm = probabilities(p, mnist_val[0])
    card = scorecard(val, probabilities(p, val.images), t)
    d, nd = card["digits"], card["not_digits"]
    allnd = nd["all non-digits"]
    ps = probabilities(p, styled.images)[:, :10].argmax(1) == styled.labels
    per_style = {s: float(ps[styled.hand_style == s].mean()) for s in sorted(set(styled.hand_style.tolist()))}
    return {
        "model": path, "version": p.version, "temperature": p.metadata.get("calibration", {}).get("temperature"),
        "thresholds": {k: t[k] for k in ("not_digit", "doubtful_digit", "uncertain") if k in t},
        "mnist_val": float((pm[:, :10].argmax(1) == mnist_val[1]).mean()),
        "unipen_val": d["unipen"]["accuracy"], "pendigits_val": d["pendigits"]["accuracy"],
        "pen_val": d["all pen"]["accuracy"], "pen_errors": d["all pen"]["errors"],
        "pen_errors_flagged": d["all pen"]["errors_flagged"], "pen_correct_flagged": d["all pen"]["correct_flagged"],
        "pen_flagged": d["all pen"]["flagged"], "pen_ece": d["all pen"]["ece"],
        "nondigit_flagged": allnd["flagged"], "nondigit_not_digit": allnd["not_digit"],
        "nondigit_auroc": allnd.get("auroc"), "nondigit_far99": allnd.get("false_accept_at_99"),
        "number_symbols": card.get("number_symbols", {}).get("accuracy"),
        "styled": float(ps.mean()), "per_style": per_style,
        "per_lab": d["unipen"]["per_lab"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+", help="digitpad .onnx files")
    ap.add_argument("--data-dir", default=os.environ.get("DIGITPAD_DATA_DIR"), help="MNIST folder")
    ap.add_argument("--pendigits", default=os.environ.get("DIGITPAD_PENDIGITS"), help="pendigits .jsonl.gz")
    ap.add_argument("--unipen", default=os.environ.get("DIGITPAD_UNIPEN"), help="the UNIPEN folder")
    ap.add_argument("--cache", default=os.environ.get("DIGITPAD_CORPUS_CACHE") or str(corpus.default_cache_dir()))
    ap.add_argument("--json", action="store_true", help="only the JSON line")
    args = ap.parse_args()
    _, mnist_val = split_train_val(*load_split("train", args.data_dir), TrainConfig())
    val = corpus.build(corpus.CorpusSpec("val"), pendigits_path=args.pendigits, unipen_dir=args.unipen,
                       cache_dir=Path(args.cache), jobs=2)
    styled = corpus.build(corpus.CorpusSpec("val", variants_only=True), pendigits_path=args.pendigits,
                          unipen_dir=args.unipen, cache_dir=Path(args.cache), jobs=2)
    rows = [report(m, mnist_val, val, styled) for m in args.models]
    if not args.json:
        cols = [("mnist_val", "MNIST val"), ("unipen_val", "UNIPEN"), ("pendigits_val", "pendigits"),
                ("pen_errors", "pen err"), ("pen_errors_flagged", "err flag"), ("pen_correct_flagged", "ok flag"),
                ("pen_ece", "ECE"), ("nondigit_not_digit", "nd not_d"), ("nondigit_flagged", "nd flag"),
                ("nondigit_auroc", "AUROC"), ("nondigit_far99", "FA@99"), ("number_symbols", "symbols"),
                ("styled", "styled")]
        print(f"validation writers: {len(val):,} corpus images (val split), {len(mnist_val[1]):,} MNIST val images")
        print(f"{'model':34s}" + "".join(f"{h:>10s}" for _, h in cols))
        for r in rows:
            cells = "".join(f"{'-':>10s}" if r[k] is None else f"{r[k]:>10d}" if isinstance(r[k], int)
                            else f"{r[k]:>10.4f}" if k in ("pen_ece", "nondigit_auroc") else f"{r[k]:>10.2%}" for k, _ in cols)
            print(f"{r['version'][:34]:34s}{cells}")
        for r in rows:
            print(f"  {r['version']}: T {r['temperature']}, thresholds {r['thresholds']}, per lab "
                  + ", ".join(f"{lab} {v['accuracy']:.2%} ({v['n']})" for lab, v in r["per_lab"].items())
                  + "; hand-style variants: " + ", ".join(f"{k} {v:.1%}" for k, v in r["per_style"].items()))
    print(json.dumps({"bench": "validation_report", "models": rows}))


if __name__ == "__main__":
    main()

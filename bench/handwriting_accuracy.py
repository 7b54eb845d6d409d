"""Every hand and "not a digit": models on the held-out writers of the handwriting corpus.

    .venv/bin/python bench/handwriting_accuracy.py                          # the shipped model, test writers
    .venv/bin/python bench/handwriting_accuracy.py --model old.onnx --model new.onnx   # before / after
    .venv/bin/python bench/handwriting_accuracy.py --model runs/x/model.onnx --split val
    .venv/bin/python bench/handwriting_accuracy.py --limit 30 --no-cache    # cheap mode

Images come from ``digitpad.corpus`` (``CorpusSpec(split)``: every source's writers of that
split, on the page's canvas, preprocessed exactly as the server does; cached, see
bench/build_corpus.py), read in-process by ``Predictor`` (what the server does minus HTTP),
with the statuses of ``digitpad.thresholds.read`` and the thresholds stored in the model (a
10-class model: ``uncertain`` below ``--threshold``, the default of `reading.Thresholds`;
flags override). Per model (``digitpad.scorecard``):

- real digits (UNIPEN and pendigits writers of the split): accuracy overall, per lab, per hand
  style where the drawing shows one (``handstyles.detect_style``), the top confusions, how the
  errors and the correct readings are flagged, the expected calibration error of the
  confidence and its reliability table;
- hand-style variants (``CorpusSpec(variants_only=True)``: the same digits with a slashed zero,
  a barred seven, a flag or a foot on a one, an open or closed four drawn in): accuracy per style;
- not digits (letters other than the digit-like ones, symbols outside the number alphabet,
  doodles per kind) and, apart, the number symbols, digit-like letters and near-number symbols:
  the share flagged, the share answered not_digit, the AUROC of ``digit_likelihood`` against
  the real digits and the share still accepted where 99% of the real digits are;
- the number symbols' 21-class reading (for whole numbers).

Prints tables and one JSON line (all models).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from digitpad import corpus, thresholds
from digitpad.predict import Predictor
from digitpad.reading import Thresholds
from digitpad.scorecard import scorecard

HEADERS = {"false_accept_at_99": "FA@99%acc"}


def probabilities(p: Predictor, images: np.ndarray) -> np.ndarray:
    return np.concatenate([p.predict_batch(images[i: i + 1000]) for i in range(0, len(images), 1000)]) \
        if len(images) else np.zeros((0, len(p.labels)), np.float32)


def print_table(title: str, rows: dict[str, dict], cols: list[str]) -> None:
    print(f"\n{title}")
    print(f"  {'':22s}" + "".join(f"{HEADERS.get(c, c):>11s}" for c in cols))
    for k, v in rows.items():
        cells = "".join(f"{'-':>11s}" if v.get(c) is None else f"{v[c]:>11.4f}" if c == "auroc"
                        else f"{v[c]:>11.2%}" if isinstance(v[c], float) else f"{v[c]!s:>11s}" for c in cols)
        print(f"  {k:22s}{cells}")


def model_thresholds(p: Predictor, args) -> dict[str, float]:
    """The thresholds the server would read with (the model's own, or Thresholds' defaults for a
    10-class model), overridden by the flags."""
    t = Thresholds.of(p.metadata, uncertain=args.threshold, not_digit=args.not_digit)
    t = replace(t, doubtful=args.doubtful) if args.doubtful is not None else t
    return {"not_digit": t.not_digit, "doubtful_digit": t.doubtful, "uncertain": t.uncertain}


def report(p: Predictor, c: corpus.Corpus, v: corpus.Corpus, args) -> dict:
    t = model_thresholds(p, args)
    card = scorecard(c, probabilities(p, c.images), t)
    rv = thresholds.read(probabilities(p, v.images), t)
    ok, flagged = rv["digit"] == v.labels, rv["status"] != "ok"
    card["hand_style_variants"] = {s: {"n": int(m.sum()), "accuracy": round(float(ok[m].mean()), 4),
                                       "flagged": round(float(flagged[m].mean()), 4)}
                                   for s in sorted(set(v.hand_style.tolist())) if (m := v.hand_style == s).any()}
    return {"model": p.version, "classes": len(p.labels), **card}


def show(r: dict, split: str) -> None:
    print(f"\n=== model {r['model']} ({r['classes']} classes), {split} writers, thresholds {r['thresholds']}")
    for name in ("unipen", "pendigits", "all pen"):
        d = r["digits"].get(name)
        if not d:
            continue
        print(f"\n{name} digits: {d['n']}{' from ' + str(d['writers']) + ' writers' if 'writers' in d else ''}: "
              f"accuracy {d['accuracy']:.2%}, {d['errors']} errors, {d['errors_flagged'] or 0:.0%} of them flagged, "
              f"{d['correct_flagged']:.2%} of the correct flagged; {d['not_digit']:.2%} answered not_digit, "
              f"{d['flagged']:.2%} flagged in all; ECE {d['ece']:.4f}")
        if "per_lab" in d:
            print_table(f"{name} per lab", d["per_lab"], ["n", "accuracy", "flagged"])
            print_table(f"{name} per hand style (detected)", d["per_hand_style"], ["n", "accuracy", "flagged"])
            print("  top confusions (label->read): " + ", ".join(f"{k} {n}" for k, n in d["top_confusions"]))
    rel = r["digits"].get("all pen", {}).get("reliability", [])
    if rel:
        print("\nreliability (all pen digits): confidence bin, n, mean confidence, accuracy")
        for row in rel:
            print(f"  {row['bin'][0]:.2f}-{row['bin'][1]:.2f} {row['n']:6d} {row['confidence']:8.2%} {row['accuracy']:8.2%}")
    print_table("hand-style variants of the same digits (drawn in)", r["hand_style_variants"], ["n", "accuracy", "flagged"])
    print_table("not digits: flagged (any), not_digit, AUROC and false accepts at 99% digit acceptance",
                r["not_digits"], ["n", "flagged", "not_digit", "auroc", "false_accept_at_99"])
    print_table("doodles per kind", r["doodle_kinds"], ["n", "flagged", "not_digit"])
    print_table("digit-like letters (reported apart)", r["digit_like"], ["n", "flagged", "not_digit"])
    if "number_symbols" in r:
        s = r["number_symbols"]
        print(f"\nnumber symbols read as themselves: {s['accuracy']:.2%} of {s['n']} ("
              + ", ".join(f"{k} {v:.0%}" for k, v in s["per_symbol"].items()) + ")")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pendigits", default=os.environ.get("DIGITPAD_PENDIGITS"), help="pendigits .jsonl.gz")
    ap.add_argument("--unipen", default=os.environ.get("DIGITPAD_UNIPEN"), help="the UNIPEN folder")
    ap.add_argument("--cache", default=os.environ.get("DIGITPAD_CORPUS_CACHE") or str(corpus.default_cache_dir()),
                    help="corpus cache folder (default: $DIGITPAD_CORPUS_CACHE or the per-user cache dir)")
    ap.add_argument("--no-cache", action="store_true")
    ap.add_argument("--model", action="append", default=None, help="model file, repeatable (default: the shipped one)")
    ap.add_argument("--split", choices=["test", "val"], default="test", help="writers to read (default: test)")
    ap.add_argument("--styles", default=None, help="canvas styles, comma-separated (default: canvas-280)")
    ap.add_argument("--limit", type=int, default=None, help="records per source (cheap mode)")
    ap.add_argument("--threshold", type=float, default=None, help="uncertain below this confidence (default: the model's)")
    ap.add_argument("--not-digit", type=float, default=None, help="not_digit below this digit likelihood (default: the model's)")
    ap.add_argument("--doubtful", type=float, default=None, help="uncertain below this digit likelihood (default: the model's)")
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    if not args.pendigits or not args.unipen:
        raise SystemExit("pass --pendigits and --unipen (or set DIGITPAD_PENDIGITS and DIGITPAD_UNIPEN)")
    data = {"pendigits_path": args.pendigits, "unipen_dir": args.unipen,
            "cache_dir": None if args.no_cache else Path(args.cache), "jobs": args.jobs}
    styles = tuple(args.styles.split(",")) if args.styles else None
    t0 = time.perf_counter()
    c = corpus.build(corpus.CorpusSpec(args.split, styles=styles, limit=args.limit), **data)
    v = corpus.build(corpus.CorpusSpec(args.split, styles=styles, limit=args.limit, variants_only=True), **data)
    t_data = time.perf_counter() - t0
    results = []
    for path in args.model or [None]:
        p = Predictor(path, threads=0)
        split = p.metadata.get("data", {}).get("handwriting", {}).get("writer_split", {})
        seen = {w for s in split.values() for k in ("train", "val") for w in s.get(k, [])} & set(c.writer.tolist())
        if seen and args.split == "test":
            print(f"WARNING: {p.version} trained or chose on {len(seen)} of these writers: not a held-out measurement")
        r = report(p, c, v, args)
        r["writers_seen"] = len(seen)
        show(r, args.split)
        results.append(r)
    print(json.dumps({"bench": "handwriting_accuracy", "split": args.split, "models": results,
                      "seconds": {"data": round(t_data, 1), "total": round(time.perf_counter() - t0, 1)},
                      "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
                      "date": time.strftime("%Y-%m-%d")}))


if __name__ == "__main__":
    main()

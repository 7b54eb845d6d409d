"""Every hand and "not a digit": a model on the held-out writers of the handwriting corpus.

    .venv/bin/python bench/handwriting_accuracy.py                    # the shipped model, test writers
    .venv/bin/python bench/handwriting_accuracy.py --model runs/x/model.onnx --split val
    .venv/bin/python bench/handwriting_accuracy.py --limit 30 --no-cache # cheap mode

Images come from ``digitpad.corpus`` (``CorpusSpec(split)``: every source's writers of that
split, on the page's canvas, preprocessed exactly as the server does; cached, see
bench/build_corpus.py), read in-process by ``Predictor`` (what the server does minus HTTP).
Reports:

- real digits (UNIPEN and pendigits writers of the split): accuracy overall, per lab, per hand
  style where the drawing shows one (``handstyles.detect_style``), the top confusions, and
  how the errors and the correct readings are flagged;
- hand-style variants (``CorpusSpec(variants_only=True)``: the same test digits with a
  slashed zero, a barred seven, a flag or a foot on a one, an open or closed four drawn in):
  accuracy per style;
- not digits (letters other than the digit-like ones, symbols outside the number alphabet,
  doodles per kind) and, apart, the number symbols, digit-like letters and near-number
  symbols: the share flagged.

Statuses: a 10-class model (today's) answers ``uncertain`` below ``--threshold`` (default:
Settings().uncertain_threshold) and ``ok`` above. A 21-class model (charset.CLASSES) answers
``not_digit`` when the ten digit classes hold less than ``--not-digit`` of the probability
(digit_likelihood), else ``uncertain`` / ``ok`` on the top digit's probability renormalised
over the digits. Prints tables and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections import Counter
from pathlib import Path

import numpy as np

from digitpad import charset, corpus
from digitpad.settings import Settings

NON_DIGIT = ("letter", "symbol", "doodle")


def read(predictor, images: np.ndarray, threshold: float, not_digit: float) -> dict[str, np.ndarray]:
    """digit (N,), confidence (N,), digit_likelihood (N,) and status (N,) of each image."""
    probs = np.concatenate([predictor.predict_batch(images[i: i + 512]) for i in range(0, len(images), 512)])
    digits = probs[:, :10]
    likelihood = digits.sum(axis=1)
    renorm = digits / np.maximum(likelihood[:, None], 1e-12)
    conf = renorm.max(axis=1)
    status = np.where(conf < threshold, "uncertain", "ok")
    if probs.shape[1] > 10:
        status = np.where(likelihood < not_digit, "not_digit", status)
    return {"digit": renorm.argmax(axis=1), "confidence": conf, "digit_likelihood": likelihood, "status": status}


def digit_report(c: corpus.Corpus, r: dict[str, np.ndarray], by: str) -> dict[str, dict]:
    """Per value of column ``by``: n, accuracy, share flagged (any status but ok)."""
    out = {}
    for key in sorted(set(getattr(c, by))):
        m = getattr(c, by) == key
        ok = r["digit"][m] == c.labels[m]
        out[str(key)] = {"n": int(m.sum()), "accuracy": round(float(ok.mean()), 4),
                         "flagged": round(float((r["status"][m] != "ok").mean()), 4)}
    return out


def flag_report(c: corpus.Corpus, r: dict[str, np.ndarray], mask: np.ndarray) -> dict:
    st = r["status"][mask]
    return {"n": int(mask.sum()), "flagged": round(float((st != "ok").mean()), 4) if mask.any() else None,
            "not_digit": round(float((st == "not_digit").mean()), 4) if mask.any() else None}


def print_table(title: str, rows: dict[str, dict], cols: list[str]) -> None:
    print(f"\n{title}")
    print(f"  {'':22s}" + "".join(f"{c:>11s}" for c in cols))
    for k, v in rows.items():
        cells = "".join(f"{v[c]:>11.2%}" if isinstance(v[c], float) else f"{v[c]!s:>11s}" for c in cols)
        print(f"  {k:22s}{cells}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pendigits", default=os.environ.get("DIGITPAD_PENDIGITS"), help="pendigits .jsonl.gz")
    ap.add_argument("--unipen", default=os.environ.get("DIGITPAD_UNIPEN"), help="the UNIPEN folder")
    ap.add_argument("--cache", default=os.environ.get("DIGITPAD_CORPUS_CACHE") or str(corpus.default_cache_dir()),
                    help="corpus cache folder (default: $DIGITPAD_CORPUS_CACHE or the per-user cache dir)")
    ap.add_argument("--no-cache", action="store_true")
    ap.add_argument("--model", default=None, help="model file (default: the shipped one)")
    ap.add_argument("--split", choices=["test", "val"], default="test", help="writers to read (default: test)")
    ap.add_argument("--styles", default=None, help="canvas styles, comma-separated (default: canvas-280)")
    ap.add_argument("--limit", type=int, default=None, help="records per source (cheap mode)")
    ap.add_argument("--threshold", type=float, default=None, help="uncertain below this (default: Settings())")
    ap.add_argument("--not-digit", type=float, default=0.5, help="21 classes: not_digit below this digit likelihood")
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    if not args.pendigits or not args.unipen:
        raise SystemExit("pass --pendigits and --unipen (or set DIGITPAD_PENDIGITS and DIGITPAD_UNIPEN)")
    threshold = args.threshold if args.threshold is not None else Settings().uncertain_threshold
    data = {"pendigits_path": args.pendigits, "unipen_dir": args.unipen,
            "cache_dir": None if args.no_cache else Path(args.cache), "jobs": args.jobs}
    styles = tuple(args.styles.split(",")) if args.styles else None
    t0 = time.perf_counter()
    c = corpus.build(corpus.CorpusSpec(args.split, styles=styles, limit=args.limit), **data)
    v = corpus.build(corpus.CorpusSpec(args.split, styles=styles, limit=args.limit, variants_only=True), **data)
    t_data = time.perf_counter() - t0

    from digitpad.predict import Predictor

    predictor = Predictor(args.model, threads=0)
    r, rv = read(predictor, c.images, threshold, args.not_digit), read(predictor, v.images, threshold, args.not_digit)

    result: dict = {"bench": "handwriting_accuracy", "model": predictor.version, "split": args.split,
                    "threshold": threshold, "classes": int(predictor.predict_batch(c.images[:1]).shape[1])}
    for name, source in (("unipen", "unipen-digits"), ("pendigits", "pendigits")):
        m = (c.source == source) & (c.category == "digit")
        sub, rs = c.subset(m), {k: x[m] for k, x in r.items()}
        ok = rs["digit"] == sub.labels
        flagged = rs["status"] != "ok"
        confusions = Counter(f"{a}->{b}" for a, b, good in zip(sub.labels, rs["digit"], ok, strict=True) if not good)
        result[name] = {
            "n": int(m.sum()), "writers": len(set(sub.writer)), "accuracy": round(float(ok.mean()), 4),
            "errors": int((~ok).sum()), "errors_flagged": round(float(flagged[~ok].mean()), 4) if (~ok).any() else None,
            "correct_flagged": round(float(flagged[ok].mean()), 4),
            "per_lab": digit_report(sub, rs, "lab"), "per_hand_style": digit_report(sub, rs, "hand_style"),
            "top_confusions": confusions.most_common(10)}
    result["hand_style_variants"] = digit_report(v, rv, "hand_style")
    cats = {}
    for cat in (*NON_DIGIT, "number-symbol", "digit-like", "near-number"):
        cats[cat] = flag_report(c, r, c.category == cat)
    nd = np.isin(c.category, NON_DIGIT)
    cats["all non-digits"] = flag_report(c, r, nd)
    result["not_digits"] = cats
    result["doodle_kinds"] = {k: flag_report(c, r, (c.category == "doodle") & (c.hand_style == k))
                              for k in sorted(set(c.hand_style[c.category == "doodle"]))}
    result["digit_like"] = {ch: flag_report(c, r, (c.category == "digit-like") & (c.char == ch))
                            for ch in sorted(charset.DIGIT_LIKE) if ((c.category == "digit-like") & (c.char == ch)).any()}
    result["seconds"] = {"data": round(t_data, 1), "total": round(time.perf_counter() - t0, 1)}
    result["machine"] = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    result["date"] = time.strftime("%Y-%m-%d")

    print(f"model {predictor.version} ({result['classes']} classes), {args.split} writers, "
          f"uncertain below {threshold}")
    for name in ("unipen", "pendigits"):
        d = result[name]
        print(f"\n{name} digits: {d['n']} from {d['writers']} writers: accuracy {d['accuracy']:.2%}, "
              f"{d['errors']} errors, {d['errors_flagged'] or 0:.0%} of them flagged, "
              f"{d['correct_flagged']:.2%} of the correct flagged")
        print_table(f"{name} per lab", d["per_lab"], ["n", "accuracy", "flagged"])
        print_table(f"{name} per hand style (detected)", d["per_hand_style"], ["n", "accuracy", "flagged"])
        print("  top confusions (label->read): " + ", ".join(f"{k} {n}" for k, n in d["top_confusions"]))
    print_table("hand-style variants of the same digits (drawn in)", result["hand_style_variants"],
                ["n", "accuracy", "flagged"])
    print_table("not digits: share flagged (any) / not_digit", cats, ["n", "flagged", "not_digit"])
    print_table("doodles per kind", result["doodle_kinds"], ["n", "flagged", "not_digit"])
    print_table("digit-like letters (reported apart)", result["digit_like"], ["n", "flagged", "not_digit"])
    print(json.dumps(result))


if __name__ == "__main__":
    main()

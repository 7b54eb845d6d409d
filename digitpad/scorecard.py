"""A model's figures on the handwriting corpus's writers of one split (numpy; no torch).

    card = scorecard(c, probs, thresholds)   # c: digitpad.corpus.Corpus, probs (N, C) of its images

One function for the bench (bench/handwriting_accuracy.py), the training run's metadata and the
notebook, so that they report the same thing:

- ``digits``: real digits per source (UNIPEN, pendigits): accuracy, per lab and per hand style,
  top confusions, how errors and correct readings are flagged, calibration of the confidence;
- ``not_digits``: per category (letters, symbols, doodles, all three; number symbols,
  digit-like letters and near-number symbols apart): share flagged, share not_digit, and how
  well ``digit_likelihood`` separates them from the real digits (AUROC, and the share still
  accepted when 99% of the real digits are);
- ``number_symbols``: the 21-class reading of - . , / : ( ) + $ % (for whole numbers).
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from . import calibration, charset
from .thresholds import read

NON_DIGIT = ("letter", "symbol", "doodle")
SOURCES = {"unipen": "unipen-digits", "pendigits": "pendigits"}


def auroc(pos: np.ndarray, neg: np.ndarray) -> float | None:
    """P(a positive scores above a negative), ties counting half (Mann-Whitney U / (n+ n-))."""
    pos, neg = np.asarray(pos, np.float64), np.asarray(neg, np.float64)
    if not len(pos) or not len(neg):
        return None
    _, inverse, counts = np.unique(np.concatenate([pos, neg]), return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    ranks = ((ends - counts + 1 + ends) / 2)[inverse]  # average rank of each value, ties shared
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def false_accept(pos: np.ndarray, neg: np.ndarray, acceptance: float = 0.99) -> float | None:
    """Share of ``neg`` scoring at or above the score that accepts ``acceptance`` of ``pos``."""
    if not len(pos) or not len(neg):
        return None
    cut = np.quantile(np.asarray(pos, np.float64), 1 - acceptance)
    return float((np.asarray(neg) >= cut).mean())


def _by(column: np.ndarray, ok: np.ndarray, flagged: np.ndarray) -> dict[str, dict]:
    out = {}
    for key in sorted(set(column.tolist())):
        m = column == key
        out[str(key)] = {"n": int(m.sum()), "accuracy": round(float(ok[m].mean()), 4),
                         "flagged": round(float(flagged[m].mean()), 4)}
    return out


def _flags(status: np.ndarray, mask: np.ndarray) -> dict:
    st = status[mask]
    return {"n": int(mask.sum()), "flagged": round(float((st != "ok").mean()), 4) if mask.any() else None,
            "not_digit": round(float((st == "not_digit").mean()), 4) if mask.any() else None}


def scorecard(c, probs: np.ndarray, thresholds: dict[str, float]) -> dict:
    """The figures of ``probs`` (N, C), the model's probabilities of ``c.images``."""
    probs = np.asarray(probs, np.float64)
    r = read(probs, thresholds)
    status, likelihood = r["status"], r["digit_likelihood"]
    real = c.category == "digit"
    out: dict = {"thresholds": dict(thresholds), "digits": {}, "not_digits": {}}
    for name, source in SOURCES.items():
        m = real & (c.source == source) & ~c.augmented
        if not m.any():
            continue
        labels = c.labels[m].astype(int)
        ok = r["digit"][m] == labels
        flagged = status[m] != "ok"
        conf = r["confidence"][m]
        out["digits"][name] = {
            "n": int(m.sum()), "writers": len(set(c.writer[m].tolist())), "accuracy": round(float(ok.mean()), 4),
            "errors": int((~ok).sum()),
            "errors_flagged": round(float(flagged[~ok].mean()), 4) if (~ok).any() else None,
            "correct_flagged": round(float(flagged[ok].mean()), 4),
            "not_digit": round(float((status[m] == "not_digit").mean()), 4),
            "flagged": round(float(flagged.mean()), 4),
            "ece": round(calibration.ece(conf, ok), 4),
            "per_lab": _by(c.lab[m], ok, flagged), "per_hand_style": _by(c.hand_style[m], ok, flagged),
            "top_confusions": Counter(f"{a}->{b}" for a, b, good in zip(labels, r["digit"][m], ok, strict=True)
                                      if not good).most_common(10),
        }
    pen = real & ~c.augmented
    if pen.any():
        labels = c.labels[pen].astype(int)
        ok = r["digit"][pen] == labels
        flagged = status[pen] != "ok"
        out["digits"]["all pen"] = {
            "n": int(pen.sum()), "accuracy": round(float(ok.mean()), 4), "errors": int((~ok).sum()),
            "errors_flagged": round(float(flagged[~ok].mean()), 4) if (~ok).any() else None,
            "correct_flagged": round(float(flagged[ok].mean()), 4),
            "not_digit": round(float((status[pen] == "not_digit").mean()), 4), "flagged": round(float(flagged.mean()), 4),
            "ece": round(calibration.ece(r["confidence"][pen], ok), 4),
            "reliability": calibration.reliability(r["confidence"][pen], ok)}
    digit_scores = likelihood[pen]
    cats = {}
    for cat in (*NON_DIGIT, "all non-digits", "number-symbol", "digit-like", "near-number"):
        m = np.isin(c.category, NON_DIGIT) if cat == "all non-digits" else c.category == cat
        row = _flags(status, m)
        if probs.shape[1] > calibration.DIGITS and m.any():
            a, f = auroc(digit_scores, likelihood[m]), false_accept(digit_scores, likelihood[m])
            row.update(auroc=None if a is None else round(a, 4), false_accept_at_99=None if f is None else round(f, 4))
        cats[cat] = row
    out["not_digits"] = cats
    doodle = c.category == "doodle"
    out["doodle_kinds"] = {k: _flags(status, doodle & (c.hand_style == k)) for k in sorted(set(c.hand_style[doodle].tolist()))}
    out["digit_like"] = {ch: _flags(status, (c.category == "digit-like") & (c.char == ch))
                         for ch in sorted(charset.DIGIT_LIKE) if ((c.category == "digit-like") & (c.char == ch)).any()}
    sym = c.category == "number-symbol"
    if sym.any() and probs.shape[1] > calibration.DIGITS:
        guess = probs[sym].argmax(axis=1)
        out["number_symbols"] = {"n": int(sym.sum()), "accuracy": round(float((guess == c.labels[sym]).mean()), 4),
                                 "per_symbol": {ch: round(float((guess[c.char[sym] == ch] == charset.class_index(ch)).mean()), 4)
                                                for ch in charset.NUMBER_SYMBOLS if (c.char[sym] == ch).any()}}
    return out


def summary(card: dict) -> dict:
    """The headline figures of a scorecard (what a model's metadata keeps)."""
    d, nd = card["digits"], card["not_digits"]
    keep = ("n", "accuracy", "errors", "errors_flagged", "correct_flagged", "not_digit", "flagged", "ece")
    out = {name: {k: v.get(k) for k in keep if k in v} for name, v in d.items()}
    for name in ("unipen", "pendigits"):
        if name in d:
            out[name]["per_lab"] = {lab: v["accuracy"] for lab, v in d[name]["per_lab"].items()}
    out["not_digits"] = {cat: v for cat, v in nd.items()}
    if "number_symbols" in card:
        out["number_symbols"] = card["number_symbols"]["accuracy"]
    return out

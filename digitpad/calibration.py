"""Honest confidence: temperature scaling fit on validation writers, and how to check it (numpy).

    t = fit_temperature(logits, labels)            # minimises the NLL of softmax(logits / t)
    p = digit_probabilities(softmax(logits / t))   # what the API shows: the ten digits, renormalised
    ece(p.max(1), p.argmax(1) == labels)           # expected calibration error, 15 equal bins
    reliability(conf, correct)                     # the table behind a reliability diagram

A network trained with cross-entropy (and more so with label smoothing) is not calibrated: its
top probability says 0.9 where it is right 99.8% of the time, or 0.999 where it is right 97%.
One scalar fixes most of it (Guo et al. 2017, "On Calibration of Modern Neural Networks"):
divide the logits by ``t`` before the softmax, with ``t`` chosen to minimise the negative
log-likelihood on held-out data. The exporter bakes ``1/t`` into the last layer (its weights and
bias), so the ONNX file's softmax is calibrated for the server and the browser alike.
"""

from __future__ import annotations

import numpy as np

DIGITS = 10
ECE_BINS = 15


def softmax(logits: np.ndarray, t: float = 1.0) -> np.ndarray:
    """(N, C) logits -> (N, C) probabilities of softmax(logits / t), in float64."""
    z = np.asarray(logits, np.float64) / t
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def nll(logits: np.ndarray, labels: np.ndarray, t: float = 1.0) -> float:
    """Mean negative log-likelihood of ``labels`` (N,) under softmax(logits / t)."""
    z = np.asarray(logits, np.float64) / t
    z -= z.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-log_p[np.arange(len(labels)), labels].mean())


def fit_temperature(logits: np.ndarray, labels: np.ndarray, lo: float = 0.05, hi: float = 20.0) -> float:
    """The temperature minimising ``nll`` (golden-section search over log t; the NLL is
    unimodal in t). ``logits`` (N, C), ``labels`` (N,) class indices."""
    a, b = np.log(lo), np.log(hi)
    g = (np.sqrt(5) - 1) / 2
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = nll(logits, labels, np.exp(c)), nll(logits, labels, np.exp(d))
    for _ in range(60):
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = nll(logits, labels, np.exp(c))
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = nll(logits, labels, np.exp(d))
    return float(np.exp((a + b) / 2))


def digit_probabilities(probs: np.ndarray) -> np.ndarray:
    """(N, C) class probabilities -> (N, 10): the ten digits' renormalised over the digits (the
    API's ``probabilities``: what the model says *if* it is a digit)."""
    d = np.asarray(probs, np.float64)[:, :DIGITS]
    return d / np.maximum(d.sum(axis=1, keepdims=True), 1e-30)


def reliability(conf: np.ndarray, correct: np.ndarray, bins: int = ECE_BINS) -> list[dict]:
    """Per equal-width confidence bin: n, mean confidence, accuracy (bins with no reading left out)."""
    conf, correct = np.asarray(conf, np.float64), np.asarray(correct, bool)
    which = np.clip((conf * bins).astype(int), 0, bins - 1)
    rows = []
    for b in range(bins):
        m = which == b
        if m.any():
            rows.append({"bin": [b / bins, (b + 1) / bins], "n": int(m.sum()),
                         "confidence": float(conf[m].mean()), "accuracy": float(correct[m].mean())})
    return rows


def ece(conf: np.ndarray, correct: np.ndarray, bins: int = ECE_BINS) -> float:
    """Expected calibration error: sum over bins of (share of readings) x |accuracy - confidence|."""
    n = len(conf)
    return float(sum(r["n"] / n * abs(r["accuracy"] - r["confidence"]) for r in reliability(conf, correct, bins))) if n else 0.0


def digit_calibration(probs: np.ndarray, labels: np.ndarray) -> dict:
    """ECE, NLL and accuracy of the API's digit reading (``digit_probabilities``) on real digits."""
    p = digit_probabilities(probs)
    conf, correct = p.max(axis=1), p.argmax(axis=1) == labels
    return {"n": int(len(labels)), "accuracy": float(correct.mean()), "ece": ece(conf, correct),
            "nll": float(-np.log(np.maximum(p[np.arange(len(labels)), labels], 1e-30)).mean()),
            "mean_confidence": float(conf.mean())}

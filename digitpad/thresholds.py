"""The statuses of a reading, from a model's class probabilities and its stored thresholds (numpy).

    r = read(probs, thresholds)    # probs (N, C): 21 classes (charset.CLASSES), or 10 (older models)
    r["digit"], r["confidence"], r["digit_likelihood"], r["status"]

The rule (the model's metadata carries the numbers as ``thresholds``; the server may override):

    digit_likelihood = sum of the ten digit probabilities            (is it a digit at all?)
    probabilities    = the ten digit probabilities / digit_likelihood (which digit, if it is one)
    digit, confidence = argmax and max of probabilities
    status = "not_digit"  if digit_likelihood <  not_digit
             "uncertain"  if confidence < uncertain  or  digit_likelihood < doubtful_digit
             "ok"         otherwise

A 10-class model has digit_likelihood 1: only ``uncertain`` applies.

``choose`` picks the three numbers on *validation*'s real digits, from budgets of how
many real digits each flag may cost (``BUDGETS``): the thresholds are as strict as those
budgets allow, and what they then catch (errors, letters, doodles) is measured on held-out
writers, never used to choose.
"""

from __future__ import annotations

import numpy as np

from .calibration import digit_probabilities

DIGITS = 10
STATUSES = ("ok", "uncertain", "not_digit")
# Shares of validation's real digits (MNIST val + val writers) each flag may take. The targets on
# held-out writers are <= 0.5% not_digit, <= 1.5% of correct readings uncertain and <= 2% flagged
# in all: the budgets leave room for writers who differ from the validation ones. New writers
# read harder than the validation ones (digitnet-2.1 under budgets of 1% / 1.5% flagged 2.2% of
# the test writers' correct readings), so the budgets are a third to a half of the targets.
BUDGETS = {"not_digit": 0.0025, "uncertain_correct": 0.005, "flagged": 0.01}
RULE = ("digit_likelihood = the ten digit probabilities' sum; confidence = the top digit's probability "
        "renormalised over the digits; not_digit if digit_likelihood < not_digit, else uncertain if "
        "confidence < uncertain or digit_likelihood < doubtful_digit, else ok")
DEFAULT = {"not_digit": 0.5, "doubtful_digit": 0.5, "uncertain": 0.6}


def read(probs: np.ndarray, thresholds: dict[str, float]) -> dict[str, np.ndarray]:
    """(N, C) probabilities -> digit (N,), confidence (N,), digit_likelihood (N,), status (N,) str."""
    probs = np.asarray(probs, np.float64)
    likelihood = probs[:, :DIGITS].sum(axis=1)
    p = digit_probabilities(probs)
    conf = p.max(axis=1)
    return {"digit": p.argmax(axis=1), "confidence": conf, "digit_likelihood": likelihood,
            "status": statuses(conf, likelihood, thresholds)}


def statuses(confidence: np.ndarray, likelihood: np.ndarray, thresholds: dict[str, float]) -> np.ndarray:
    """The rule itself (the server's ``reading.Thresholds`` calls it too): (N,) confidence and
    digit_likelihood -> (N,) status strings."""
    confidence, likelihood = np.asarray(confidence), np.asarray(likelihood)
    uncertain = (confidence < thresholds["uncertain"]) | (likelihood < thresholds.get("doubtful_digit", 0.0))
    return np.where(likelihood < thresholds.get("not_digit", 0.0), "not_digit", np.where(uncertain, "uncertain", "ok"))


def choose(probs: np.ndarray, labels: np.ndarray, budgets: dict[str, float] | None = None) -> dict[str, float]:
    """Thresholds from validation writers' real digits: ``probs`` (N, C), ``labels`` (N,) 0-9.

    1. not_digit: the largest value that answers at most ``budgets["not_digit"]`` of them not_digit;
    2. uncertain: the largest that flags at most ``budgets["uncertain_correct"]`` of the correct
       readings (among those not already not_digit);
    3. doubtful_digit: the largest (>= not_digit) with at most ``budgets["flagged"]`` flagged in all
       (not_digit itself where steps 1-2 already flag more: the errors they catch count too).
    Each on a 0.005 grid (a threshold is a round number, not a point between two drawings).
    """
    b = {**BUDGETS, **(budgets or {})}
    probs = np.asarray(probs, np.float64)
    likelihood = probs[:, :DIGITS].sum(axis=1)
    p = digit_probabilities(probs)
    conf, correct = p.max(axis=1), p.argmax(axis=1) == labels
    n = len(labels)
    grid = np.round(np.arange(0.005, 1.0, 0.005), 3)

    def largest(ok) -> float:
        good = [t for t in grid if ok(t)]
        return float(good[-1]) if good else 0.0

    t_nd = largest(lambda t: (likelihood < t).sum() <= b["not_digit"] * n)
    kept = likelihood >= t_nd
    n_correct = max(int((correct & kept).sum()), 1)
    t_unc = largest(lambda t: ((conf < t) & correct & kept).sum() <= b["uncertain_correct"] * n_correct)
    flagged = lambda t: (likelihood < t_nd) | (conf < t_unc) | (likelihood < t)  # noqa: E731
    t_doubt = max(t_nd, largest(lambda t: flagged(t).sum() <= b["flagged"] * n))
    return {"not_digit": t_nd, "doubtful_digit": t_doubt, "uncertain": t_unc}


def flag_figures(probs: np.ndarray, labels: np.ndarray, thresholds: dict[str, float]) -> dict:
    """On real digits (labels 0-9): accuracy, shares answered not_digit / flagged, the share of
    errors flagged and of correct readings flagged."""
    r = read(probs, thresholds)
    ok = r["digit"] == labels
    flagged = r["status"] != "ok"
    return {"n": int(len(labels)), "accuracy": float(ok.mean()),
            "not_digit": float((r["status"] == "not_digit").mean()), "flagged": float(flagged.mean()),
            "errors": int((~ok).sum()), "errors_flagged": float(flagged[~ok].mean()) if (~ok).any() else None,
            "correct_flagged": float(flagged[ok].mean()) if ok.any() else None}

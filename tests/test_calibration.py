"""Honest confidence and the statuses: temperature scaling, ECE, thresholds, the scorecard's
AUROC, and the epoch mix of a training run (numpy, plus torch where the network is involved)."""

from __future__ import annotations

import numpy as np
import pytest

from digitpad import calibration, thresholds, trainset
from digitpad.scorecard import auroc, false_accept


def sample(rng: np.random.Generator, logits: np.ndarray, t: float) -> np.ndarray:
    """Labels drawn from softmax(logits / t): data for which ``t`` is the true temperature."""
    p = calibration.softmax(logits, t)
    return (p.cumsum(1) > rng.random((len(p), 1))).argmax(1)


@pytest.mark.parametrize("true_t", [0.5, 1.0, 2.5])
def test_fit_temperature_recovers_the_temperature_that_made_the_labels(true_t: float):
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 4, (20_000, 10))
    labels = sample(rng, logits, true_t)
    t = calibration.fit_temperature(logits, labels)
    assert t == pytest.approx(true_t, rel=0.05)
    assert calibration.nll(logits, labels, t) <= min(calibration.nll(logits, labels, s) for s in (t * 0.8, t * 1.25))


def test_ece_is_small_when_calibrated_and_large_when_overconfident():
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 3, (20_000, 10))
    labels = sample(rng, logits, 1.0)
    p = calibration.softmax(logits)
    good = calibration.ece(p.max(1), p.argmax(1) == labels)
    sharp = calibration.softmax(logits, 0.3)  # the same ranking, claimed far more sure
    bad = calibration.ece(sharp.max(1), sharp.argmax(1) == labels)
    assert good < 0.02 < 0.1 < bad
    rows = calibration.reliability(p.max(1), p.argmax(1) == labels)
    assert sum(r["n"] for r in rows) == len(labels)


def test_digit_probabilities_renormalise_over_the_digits():
    probs = np.array([[0.3, 0.1] + [0.0] * 8 + [0.0] * 10 + [0.6]])  # 21 classes, 60% "other"
    p = calibration.digit_probabilities(probs)
    assert p.shape == (1, 10) and p[0, 0] == pytest.approx(0.75) and p.sum() == pytest.approx(1.0)


def test_read_applies_the_rule():
    t = {"not_digit": 0.4, "doubtful_digit": 0.7, "uncertain": 0.8}
    rows = np.zeros((4, 21))
    rows[0, 3], rows[0, 20] = 0.95, 0.05  # clear 3
    rows[1, 3], rows[1, 5], rows[1, 20] = 0.5, 0.4, 0.1  # a digit, unsure which: 0.56 < 0.8
    rows[2, 3], rows[2, 20] = 0.6, 0.4  # sure which digit, but is it one? 0.6 < doubtful 0.7
    rows[3, 3], rows[3, 20] = 0.3, 0.7  # not a digit
    r = thresholds.read(rows, t)
    assert r["status"].tolist() == ["ok", "uncertain", "uncertain", "not_digit"]
    assert r["digit"].tolist() == [3, 3, 3, 3] and r["digit_likelihood"] == pytest.approx([0.95, 0.9, 0.6, 0.3])
    ten = thresholds.read(rows[:, :10] / rows[:, :10].sum(1, keepdims=True), t)  # a 10-class model
    assert ten["status"].tolist() == ["ok", "uncertain", "ok", "ok"]


def test_choose_keeps_to_its_budgets():
    rng = np.random.default_rng(2)
    n = 4000
    labels = rng.integers(0, 10, n)
    logits = rng.normal(0, 1, (n, 21))
    logits[np.arange(n), labels] += rng.gamma(4.0, 3.0, n)  # ~99% right, some unsure, a few wrong
    logits[:, 20] += rng.normal(0, 3, n)  # and a few look like non-digits
    probs = calibration.softmax(logits)
    t = thresholds.choose(probs, labels)
    f = thresholds.flag_figures(probs, labels, t)
    b = thresholds.BUDGETS
    assert 0.97 < f["accuracy"] < 0.995, f
    assert f["not_digit"] <= b["not_digit"], (t, f)
    # In all, at most the budget, unless steps 1-2 alone (with the errors they catch) flag more.
    floor = thresholds.flag_figures(probs, labels, dict(t, doubtful_digit=t["not_digit"]))["flagged"]
    assert f["flagged"] <= max(b["flagged"], floor) + 1e-9, (t, f)
    assert 0 < t["not_digit"] <= t["doubtful_digit"] and 0 < t["uncertain"] < 1, t
    r = thresholds.read(probs, t)
    ok, unc = r["digit"] == labels, r["confidence"] < t["uncertain"]
    assert (unc & ok).sum() <= b["uncertain_correct"] * ok.sum() + 1
    # Each threshold is the largest on its grid: one step more breaks its budget.
    looser = dict(t, not_digit=t["not_digit"] + 0.005)
    assert (thresholds.read(probs, looser)["status"] == "not_digit").mean() > b["not_digit"]


def test_auroc_and_false_accepts_against_brute_force():
    rng = np.random.default_rng(3)
    pos, neg = rng.normal(1, 1, 300).round(1), rng.normal(0, 1, 200).round(1)  # rounded: ties
    pairs = (pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean()
    assert auroc(pos, neg) == pytest.approx(pairs)
    cut = np.quantile(pos, 0.01)
    assert false_accept(pos, neg) == pytest.approx((neg >= cut).mean())
    assert (pos >= cut).mean() >= 0.99


def test_epoch_counts_share_an_epoch_between_the_groups():
    groups = np.array([0] * 600 + [1] * 300 + [2] * 100)
    assert trainset.epoch_counts(groups, handwriting_share=0.3, negative_share=0.2) == [500, 300, 200, 0]
    assert trainset.epoch_counts(groups, handwriting_share=0.5, negative_share=0.1, epoch_images=2000) == [800, 1000, 200, 0]
    assert trainset.epoch_counts(np.zeros(50, int), handwriting_share=0.5, negative_share=0.1) == [50, 0, 0, 0]
    # The reader's candidates take their share of the epoch; their number does not lengthen it.
    with_reader = np.concatenate([groups, np.full(4000, trainset.READER)])
    assert trainset.epoch_counts(with_reader, handwriting_share=0.3, negative_share=0.2, reader_share=0.1) == [400, 300, 200, 100]
    with pytest.raises(ValueError):
        trainset.epoch_counts(groups, handwriting_share=0.8, negative_share=0.3)


def test_mixed_epoch_draws_each_group_its_count():
    torch = pytest.importorskip("torch")
    from digitpad.fit import mixed_epoch

    groups = torch.tensor([0] * 600 + [1] * 300 + [2] * 100)
    idx = mixed_epoch(groups, [500, 300, 250], torch.Generator().manual_seed(0))
    got = torch.bincount(groups[idx], minlength=3).tolist()
    assert got == [500, 300, 250] and len(set(idx[groups[idx] == 0].tolist())) == 500  # sub-sampled, no repeats
    neg = idx[groups[idx] == 2]
    assert len(set(neg.tolist())) == 100  # repeated: every negative at least twice
    assert torch.bincount(neg, minlength=1000)[900:].min() >= 2


def test_baked_temperature_divides_the_logits():
    torch = pytest.importorskip("torch")
    from digitpad.model import bake_temperature, build_model

    model = build_model().eval()
    x = torch.randn(4, 1, 28, 28)
    with torch.no_grad():
        before = model(x)
        after = bake_temperature(model, 2.5)(x)
    assert torch.allclose(after, before / 2.5, atol=1e-5)

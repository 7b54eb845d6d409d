"""Fit the number reader's candidate verifier (``digitpad.verifier.WEIGHTS``) and its per-character
bonus (``numbers.CHAR_BONUS``) on composed numbers of the TRAIN writers (the project's writer split; val and test writers never seen).

    .venv/bin/python bench/numbers_fit.py                      # fit, then print WEIGHTS and the bonus table
    .venv/bin/python bench/numbers_fit.py --n 300 --model path/to/model.onnx

Every candidate character the reader considers (``numbers.candidates``) is labelled against the
composed number's ground truth: it is "one character" when at least PURITY of its ink belongs to
one character and it holds at least COVER of that character's ink (pixel ownership from
``Sample.ownership``, at the reader's working resolution). A logistic regression (Newton's
method, small L2) on ``verifier.features`` of the tall candidates gives WEIGHTS; then whole-string
accuracy on a second set of train writers' numbers is printed for several CHAR_BONUS values. Paste them into
digitpad/verifier.py and numbers.py (a retrained model needs a refit: the features include its
probabilities).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time

import numpy as np

from digitpad import compose, numbers, runs, verifier
from digitpad.decode import decode
from digitpad.predict import Predictor
from digitpad.readercrops import COVER, PURITY, SCHEMES, owner, truth_view


def samples(hands: list[compose.Hand], n: int, seed: int, templates: list[str]) -> list[compose.Sample]:
    r = random.Random(seed)
    out = []
    for i in range(n):
        for _ in range(50):
            hand = r.choice(hands)
            text = compose.random_text(r, hand, r.choice(templates))
            if text:
                break
        out.append(compose.compose(hand, text, r.choice(list(compose.LAYOUTS)), r.choice(SCHEMES), seed=seed + i))
    return out


def candidate_rows(sample: compose.Sample, model: Predictor) -> tuple[list[np.ndarray], list[int]]:
    """Features and labels (1: exactly one character) of one number's tall candidates."""
    view = truth_view(sample)
    if view is None:
        return [], []
    page, line, pieces, own, total = view
    cands = numbers.candidates(page, pieces, line)
    todo = [c for c in cands if c.image is not None]
    probs = model.predict_batch(np.stack([c.image for c in todo])) if todo else []
    by_id = {id(c): p for c, p in zip(todo, probs)}
    feats, labels = [], []
    area = numbers.component_areas(pieces)
    spans = [p for p in pieces if p.height >= numbers.TALL * line.height]
    for c in cands:
        numbers.score(c, by_id.get(id(c)), list(model.labels), c.parts, line, area, spans)
        if c.feats is None:
            continue
        y0, y1, x0, x1 = c.mask_box
        k, purity, cover = owner(own[y0:y1, x0:x1][runs.paint(*runs.joined(pieces[c.i:c.j]), c.mask_box)], total)
        feats.append(c.feats)
        labels.append(int(k >= 0 and purity >= PURITY and cover >= COVER))
    return feats, labels


def fit_logistic(X: np.ndarray, y: np.ndarray, l2: float = 1e-2, iters: int = 30) -> np.ndarray:
    """Newton's method for logistic regression with an L2 penalty (not on the bias)."""
    w = np.zeros(X.shape[1])
    reg = np.full(X.shape[1], l2)
    reg[0] = 0.0
    for _ in range(iters):
        p = 1 / (1 + np.exp(-(X @ w)))
        g = X.T @ (p - y) + reg * w
        Hm = (X * (p * (1 - p))[:, None]).T @ X + np.diag(reg) + 1e-9 * np.eye(len(w))
        step = np.linalg.solve(Hm, g)
        w -= step
        if np.abs(step).max() < 1e-6:
            break
    return w


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--unipen", default=os.environ.get("DIGITPAD_UNIPEN", "../shared/data/unipen"))
    ap.add_argument("--pendigits", default=os.environ.get("DIGITPAD_PENDIGITS",
                                                          "../shared/data/pendigits/trajectories-dev.jsonl.gz"))
    ap.add_argument("--model", default=None)
    ap.add_argument("--n", type=int, default=600, help="numbers to fit on (and as many, /2, to check)")
    ap.add_argument("--bonus", default="-1,-0.5,0,0.5,1,1.5")
    args = ap.parse_args(argv)
    model = Predictor(args.model)
    hands = compose.load_hands(args.unipen, args.pendigits, split="train")
    t = time.time()
    fit_set = samples(hands, args.n, 1000, list(compose.TEMPLATES))
    X, y = [], []
    for s in fit_set:
        f, lab = candidate_rows(s, model)
        X += f
        y += lab
    X, y = np.array(X), np.array(y, np.float64)
    print(f"{len(fit_set)} numbers, {len(y)} candidates ({y.mean():.1%} one character), {time.time() - t:.0f} s",
          file=sys.stderr)
    w = fit_logistic(X, y)
    p = 1 / (1 + np.exp(-(X @ w)))
    print(f"train accuracy {((p > 0.5) == y).mean():.3f}", file=sys.stderr)
    verifier.WEIGHTS = {k: float(v) for k, v in zip(verifier.FEATURES, w)}
    print("WEIGHTS = {" + ", ".join(f'"{k}": {v:.4g}' for k, v in verifier.WEIGHTS.items()) + "}")
    check = samples(hands, args.n // 2, 5000, list(compose.TEMPLATES))
    for bonus in [float(b) for b in args.bonus.split(",")]:
        numbers.CHAR_BONUS = bonus
        by: dict[str, list[bool]] = {}
        for s in check:
            got = numbers.read_number(decode(s.image), model).text
            by.setdefault(s.layout, []).append(got == s.text)
        print(f"CHAR_BONUS {bonus:5.2f}: " + "  ".join(f"{k} {np.mean(v):.1%}" for k, v in sorted(by.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Probe (torch; the `train` extra): would a sequence model read touching digits that the
reader's cuts cannot? A small CRNN + CTC is trained on digit strings composed of the TRAIN
writers' characters (every layout, touching most often, every scheme), then reads the digit
strings that `numbers_accuracy.py --split val --n 200` reads (each epoch: the val writers) and,
once at the end, those of `--split test` (the test writers), beside the reader.

    .venv/bin/python bench/sequence_probe.py --train 20000 --epochs 12 --out crnn.pt   # ~22 min on 2 cores
    .venv/bin/python bench/sequence_probe.py --load crnn.pt                            # its figures again

Its input is the reader's own view of the ink (`segment.ink_page`: the page's soft ink, paper
and rulings removed), cropped to the ink and scaled to HEIGHT rows. Nothing here is served: the
figures say whether a sequence model is worth building into the reader.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import torch
from numbers_accuracy import (  # (bench/, beside this file)
    DIGIT_SEED,
    SEPARATOR_SEED,
    SEPARATOR_TEMPLATES,
    separator_hands,
)
from PIL import Image
from torch import nn

from digitpad import compose, engines, numbers
from digitpad.decode import decode
from digitpad.predict import Predictor
from digitpad.segment import ink_page
from digitpad.seqtrain import CRNN, one_epoch  # (what the package trains with; the probe's own view and alphabet)

HEIGHT, MAX_W = 32, 512  # input rows; widest input (columns)
DIGITS = "0123456789"  # the classes (--symbols: and compose.SEPARATORS); the CTC blank is the last
LAYOUT_WEIGHTS = {"spaced": 1, "tight": 1, "touching": 2}


def view(png: bytes) -> np.ndarray | None:
    """The reader's soft ink of one image, cropped to the ink and scaled to HEIGHT rows: (HEIGHT, w) float32."""
    page = ink_page(decode(png), engines.default())
    if page is None or not page.mask.any():
        return None
    ys, xs = np.nonzero(page.mask)
    v = page.v[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    h, w = v.shape
    pad = max(1, h // 8)  # a margin of an eighth of the ink's height all round
    v = np.pad(v, pad)
    h, w = v.shape
    w2 = max(8, min(MAX_W, round(w * HEIGHT / h)))
    im = Image.fromarray((v * 255).astype(np.uint8)).resize((w2, HEIGHT), Image.BILINEAR)
    return np.asarray(im, np.float32) / 255.0


def _make(args: tuple[list, int, int, list[str]]) -> list[tuple[np.ndarray, str]]:
    hands, start, stop, templates = args
    out = []
    layouts = [k for k, n in LAYOUT_WEIGHTS.items() for _ in range(n)]
    for seed in range(start, stop):
        r = random.Random(seed)
        text = None
        while not text:
            hand = r.choice(hands)
            text = compose.random_text(r, hand, r.choice(templates))
        s = compose.compose(hand, text, r.choice(layouts), r.choice(list(compose.SCHEMES)), seed=seed)
        x = view(s.image)
        if x is not None:
            out.append((x, text.replace(" ", "")))
    return out


def make_set(hands: list, n: int, seed: int, jobs: int, templates: list[str]) -> list[tuple[np.ndarray, str]]:
    bounds = np.linspace(seed, seed + n, jobs + 1).astype(int)
    with ProcessPoolExecutor(jobs) as pool:
        parts = list(pool.map(_make, [(hands, int(a), int(b), templates) for a, b in zip(bounds[:-1], bounds[1:])]))
    return [x for p in parts for x in p]


def batch(items: list[tuple[np.ndarray, str]], alphabet: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    w = max(x.shape[1] for x, _ in items)
    w = (w + 3) // 4 * 4
    xs = np.zeros((len(items), 1, HEIGHT, w), np.float32)
    for i, (x, _) in enumerate(items):
        xs[i, 0, :, : x.shape[1]] = x
    targets = torch.tensor([alphabet.index(c) for _, t in items for c in t], dtype=torch.long)
    lens = torch.tensor([len(t) for _, t in items], dtype=torch.long)
    in_lens = torch.tensor([max(1, x.shape[1] // 4) for x, _ in items], dtype=torch.long)
    return torch.from_numpy(xs), targets, lens, in_lens


def greedy(logp: torch.Tensor, in_lens: torch.Tensor, alphabet: str) -> list[tuple[str, float]]:
    """CTC best path of each (T, B, classes) column -> (string, confidence): the product over
    its characters of the highest probability among the frames that emitted each."""
    blank = len(alphabet)
    p = logp.exp()
    best = p.argmax(-1).T.tolist()  # (B, T)
    out = []
    for b, (seq, n) in enumerate(zip(best, in_lens.tolist())):
        s, conf, prev = [], [], blank
        for t, k in enumerate(seq[:n]):
            q = float(p[t, b, k])
            if k != blank and k != prev:
                s.append(alphabet[k])
                conf.append(q)
            elif k != blank:
                conf[-1] = max(conf[-1], q)
            prev = k
        out.append(("".join(s), float(np.prod(conf)) if conf else 0.0))
    return out


def read_all(model: CRNN, items: list[tuple[np.ndarray, str]], alphabet: str) -> list[tuple[str, float]]:
    """Each string read alone, as a server would (in a batch, the shorter ones' padding would
    reach the bidirectional GRU)."""
    model.eval()
    got = []
    with torch.no_grad():
        for item in items:
            x, _, _, in_lens = batch([item], alphabet)
            got += greedy(model(x), in_lens, alphabet)
    return got


def bench_items(hands: list, n: int, symbols: bool) -> list[tuple[str, compose.Sample]]:
    """(kind, sample): the digit strings ``numbers_accuracy.py --n N`` reads of these hands (its
    seeds, schemes and order) and, with ``symbols``, its strings with separators."""
    schemes = list(compose.SCHEMES)
    out = [("digits", s) for s in compose.samples(hands, n, list(compose.DIGIT_TEMPLATES), DIGIT_SEED, schemes)]
    if symbols:
        out += [("separators", s) for s in compose.samples(separator_hands(hands), n // 2, SEPARATOR_TEMPLATES,
                                                           SEPARATOR_SEED, schemes)]
    return out


def train(model: CRNN, data: list, vals: list[tuple[str, compose.Sample]], val_set: list, epochs: int, t0: float,
          alphabet: str) -> list[tuple[str, float]]:
    """Adam on a one-cycle schedule, CTC loss, batches of 64 strings of similar width; the val
    strings read after each epoch (printed: they choose nothing). -> the last epoch's val readings."""
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    steps = epochs * ((len(data) + 63) // 64)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 2e-3, total_steps=steps)
    ctc = nn.CTCLoss(blank=len(alphabet), zero_infinity=True)
    order = sorted(range(len(data)), key=lambda i: data[i][0].shape[1])  # similar widths share a batch
    chunks = [order[i:i + 64] for i in range(0, len(order), 64)]
    rng = random.Random(0)
    for epoch in range(epochs):
        rng.shuffle(chunks)
        total = one_epoch(model, (batch([data[i] for i in idx], alphabet) for idx in chunks), ctc, opt, sched)
        got = read_all(model, val_set, alphabet)
        by = {f"{kind} {lay}": np.mean([g == t for (g, _), (k, s), (_, t) in zip(got, vals, val_set)
                                        if k == kind and s.layout == lay])
              for kind in dict(vals) for lay in compose.LAYOUTS}
        print(f"epoch {epoch + 1}: loss {total / len(data):.3f}; val exact " +
              " / ".join(f"{lay} {100 * v:.1f}%" for lay, v in by.items()) + f" ({time.time() - t0:.0f} s)", flush=True)
    return got


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--train", type=int, default=20000, help="composed training strings")
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--n", type=int, default=200, help="val strings per layout (as numbers_accuracy.py --n)")
    ap.add_argument("--symbols", action="store_true",
                    help="the separators are characters too: trained on every template, read on the strings with separators as well")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--out", help="save the trained weights here (a torch state dict)")
    ap.add_argument("--load", help="read these saved weights instead of training (--out of an earlier run)")
    args = ap.parse_args(argv)
    torch.manual_seed(0)
    alphabet = DIGITS + (compose.SEPARATORS if args.symbols else "")
    templates = list(compose.TEMPLATES if args.symbols else compose.DIGIT_TEMPLATES)
    uni, pen = os.environ["DIGITPAD_UNIPEN"], os.environ["DIGITPAD_PENDIGITS"]
    t0 = time.time()
    vals = bench_items(compose.load_hands(uni, pen, split="val"), args.n, args.symbols)
    val_set = [(view(s.image), s.text.replace(" ", "")) for _, s in vals]
    model = CRNN(len(alphabet) + 1)
    if args.load:
        model.load_state_dict(torch.load(args.load))
        got = read_all(model, val_set, alphabet)
    else:
        train_hands = compose.load_hands(uni, pen, split="train", styles=True)
        data = make_set(train_hands, args.train, 50000, args.jobs, templates)
        print(f"{len(data)} training strings of {len(train_hands)} train hands, {len(val_set)} val strings "
              f"({time.time() - t0:.0f} s)", flush=True)
        got = train(model, data, vals, val_set, args.epochs, t0, alphabet)
    if args.out:
        torch.save(model.state_dict(), args.out)
    # Beside the reader, on the same images: the val writers', then (once) the test writers'.
    test = bench_items(compose.load_hands(uni, pen, split="test"), args.n, args.symbols)
    test_got = read_all(model, [(view(s.image), s.text.replace(" ", "")) for _, s in test], alphabet)
    reader_model = Predictor(None)  # the served digit model, read once for both
    print(json.dumps({"val": beside(vals, got, reader_model), "test": beside(test, test_got, reader_model)}))


def beside(items: list[tuple[str, compose.Sample]], got: list[tuple[str, float]], reader_model: Predictor) -> dict:
    """Exact strings per kind and layout: the reader's, the sequence model's, either's (an
    oracle's bound), the sequence model's where the reader doubts a character (confidence below
    0.89, the model's uncertain threshold), and the more confident of the two whole strings."""
    rules = ("reader", "sequence", "either", "sequence_where_reader_doubts", "more_confident")
    rows: dict[str, dict] = {}
    for (kind, s), (g, conf) in zip(items, got):
        t = s.text.replace(" ", "")
        rd = numbers.read_number(decode(s.image), reader_model)
        a, b = rd.text.replace(" ", "") == t, g == t
        doubt = min((c.confidence for c in rd.characters), default=0.0) < 0.89
        row = rows.setdefault(f"{kind} {s.layout}", dict.fromkeys(("n",) + rules, 0))
        row["n"] += 1
        for rule, right in zip(rules, (a, b, a or b, b if doubt else a, b if conf > rd.confidence else a)):
            row[rule] += right
    return rows

if __name__ == "__main__":
    main()

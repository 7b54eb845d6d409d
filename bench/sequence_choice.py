"""The val measures a sequence model is chosen on, beside ``numbers_accuracy.py --split val``:
more tight and touching digit strings (another seed), and the same layouts drawn with heavier
pens than any scheme has (a marker's 22-32 px pen on digits 60-110 px tall, where loops fill
in), read by the number reader with each sequence model given (step 10).

    .venv/bin/python bench/sequence_choice.py                                # the shipped model
    .venv/bin/python bench/sequence_choice.py runs/a.onnx runs/b.onnx --n 400

Writers: the val split of ``handwriting.writer_splits`` (``--split test`` only to report, never
to choose). Prints one line per model and one JSON line.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from digitpad import compose, numbers, paper  # noqa: E402
from digitpad.decode import decode  # noqa: E402
from digitpad.predict import Predictor  # noqa: E402
from digitpad.sequence import SequenceModel  # noqa: E402

SEED = 777  # not the seeds numbers_accuracy.py reads
HEAVY = {"heavy": ((70, 110), (22, 32)), "heavier": ((60, 90), (22, 30))}  # digit height, pen (px)


def heavy_samples(hands: list[compose.Hand], n: int) -> list[compose.Sample]:
    """``n`` tight and touching digit strings (alternately) in the HEAVY pens (alternately)."""
    for name, (height, pen) in HEAVY.items():  # (paper.SCHEMES is what compose draws with)
        paper.SCHEMES.setdefault(name, dataclasses.replace(paper.SCHEMES["marker"], height=height, pen=pen))
    r, out = random.Random(SEED), []
    for i in range(n):
        text = None
        while text is None:
            hand = r.choice(hands)
            text = compose.random_text(r, hand, r.choice(list(compose.DIGIT_TEMPLATES)))
        out.append(compose.compose(hand, text, ("tight", "touching")[i % 2], list(HEAVY)[i // 2 % 2], seed=SEED + i))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="*", help="sequence .onnx files (default: the shipped one)")
    ap.add_argument("--n", type=int, default=400, help="strings per layout (more), and heavy strings in all")
    ap.add_argument("--split", choices=["val", "test"], default="val")
    ap.add_argument("--unipen", default=os.environ.get("DIGITPAD_UNIPEN"))
    ap.add_argument("--pendigits", default=os.environ.get("DIGITPAD_PENDIGITS"))
    args = ap.parse_args(argv)
    hands = compose.load_hands(args.unipen, args.pendigits, split=args.split)
    more = [s for s in compose.samples(hands, args.n, list(compose.DIGIT_TEMPLATES), SEED, list(compose.SCHEMES))
            if s.layout != "spaced"]
    cases = [(f"more {s.layout}", s) for s in more] + [(f"{s.scheme} {s.layout}", s) for s in heavy_samples(hands, args.n)]
    images = [decode(s.image) for _, s in cases]
    predictor, rows = Predictor(None), {}
    for path in args.models or [None]:
        seq = SequenceModel(path)
        right, total = Counter(), Counter()
        for (group, s), img in zip(cases, images, strict=True):
            right[group] += numbers.read_number(img, predictor, sequence=seq).text == s.text
            total[group] += 1
        rows[seq.version if path is None else path] = {g: right[g] / total[g] for g in total}
        print(f"{seq.version} ({path or 'shipped'}): " + ", ".join(f"{g} {right[g]}/{total[g]}" for g in total), flush=True)
    print(json.dumps({"split": args.split, "n": args.n, "exact": rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

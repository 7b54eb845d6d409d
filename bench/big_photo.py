"""A number small in a big phone photo: digit strings of held-out writers, drawn on the page's canvas,
then written ``--lines`` pixels tall on a sheet that a 12 MP phone photographs whole
(``paper.in_a_big_photo``: a 4032 x 3024 JPEG, uneven light, noise).

    .venv/bin/python bench/big_photo.py                       # test writers
    .venv/bin/python bench/big_photo.py --split val --n 20    # val writers

Such a JPEG is decoded at 1/8 (``decode.DRAFT_SIDE``), where a 100-pixel line is 12 pixels; step 1 of
reading a number decodes it again, finer, where its ink is small (``Decoded.finer``). Prints per line
height the share read exactly (and as the drawing itself reads) and the p50 time of ``POST /api/read``'s
work (decode + read, in-process), and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time

from held_out import add_writer_flags, parse_writer_flags  # (bench/: the script's own folder)

from digitpad import compose
from digitpad.numberreading import number_reader_for
from digitpad.paper import in_a_big_photo
from digitpad.predict import Predictor
from digitpad.reading import reader_for
from digitpad.settings import Settings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_writer_flags(ap)
    ap.add_argument("--n", type=int, default=40, help="digit strings (3-7 digits, spaced)")
    ap.add_argument("--lines", default="60,100,200,300", help="line heights in the photo's pixels")
    args = parse_writer_flags(ap)
    settings = Settings()
    reader = number_reader_for(settings, reader_for(settings, Predictor()))
    hands = compose.load_hands(args.unipen, args.pendigits, split=args.split)
    lines = [int(v) for v in args.lines.split(",")]
    r = random.Random(0)
    right, alike, ms = {h: 0 for h in lines}, {h: 0 for h in lines}, {h: [] for h in lines}
    for i in range(args.n):
        text = compose._digits(r, r.randint(3, 7))
        drawing = compose.compose(r.choice(hands), text, "spaced", "pad", seed=i).image
        alone = reader.read(drawing)["text"]
        for h in lines:
            photo = in_a_big_photo(drawing, h, seed=i)
            t0 = time.perf_counter()
            got = reader.read(photo)["text"]
            ms[h].append((time.perf_counter() - t0) * 1000)
            right[h] += got == text
            alike[h] += got == alone
    print(f"{args.split} writers: {args.n} digit strings, each written on the pad and as a 12 MP photo of its sheet")
    print(f"{'line (px)':<10} {'exact':>7} {'as drawn':>9} {'p50 ms':>8}")
    for h in lines:
        print(f"{h:<10} {100 * right[h] / args.n:6.1f}% {100 * alike[h] / args.n:8.1f}% {statistics.median(ms[h]):8.1f}")
    print(json.dumps({"split": args.split, "n": args.n, "exact": {h: right[h] / args.n for h in lines},
                      "as_drawn": {h: alike[h] / args.n for h in lines},
                      "p50_ms": {h: statistics.median(ms[h]) for h in lines}}))


if __name__ == "__main__":
    main()

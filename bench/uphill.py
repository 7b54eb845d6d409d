"""Numbers written uphill or downhill: composed digit strings of held-out writers turned whole by a
few degrees on the page's canvas (``paper.uphill``), read as ``POST /api/read`` reads them, with
step 4a (``digitpad.level``: the line turned level) and without it, in the same run.

    .venv/bin/python bench/uphill.py --split val              # choose here (validation writers)
    .venv/bin/python bench/uphill.py --split test             # report here
    .venv/bin/python bench/uphill.py --n 20 --angles -10,10   # a quick look

Positive angles run uphill (counter-clockwise), negative downhill. ``compose`` itself draws each
line drifting up to 4 degrees either way, so 0 is already a little off level. "Without" is the
same reader with ``level.LEVEL_MIN`` set past any tilt. Prints a table (exact whole-string
accuracy per layout and angle) and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import math
import time

from held_out import add_writer_flags, parse_writer_flags  # (bench/: the script's own folder)

from digitpad import compose, level
from digitpad.numberreading import number_reader_for
from digitpad.paper import uphill
from digitpad.predict import Predictor
from digitpad.reading import reader_for
from digitpad.settings import Settings

SEED = 400  # the digit strings' seed (not numbers_accuracy's)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_writer_flags(ap)
    ap.add_argument("--n", type=int, default=60, help="digit strings per layout")
    ap.add_argument("--angles", default="0,-5,5,-10,10,-15,15", help="degrees, comma-separated")
    ap.add_argument("--level-min", type=float, default=level.LEVEL_MIN,
                    help="tan of the least tilt step 4a turns level (default: the reader's LEVEL_MIN)")
    args = parse_writer_flags(ap)
    angles = [float(a) for a in args.angles.split(",")]
    settings = Settings()
    reader = number_reader_for(settings, reader_for(settings, Predictor(settings.model, threads=1)))
    hands = compose.load_hands(args.unipen, args.pendigits, split=args.split)
    t0 = time.perf_counter()
    right: dict[tuple[str, float, bool], int] = {}
    count: dict[str, int] = {}
    on, shipped = args.level_min, level.LEVEL_MIN
    for s in compose.samples(hands, args.n, list(compose.DIGIT_TEMPLATES), SEED, ["pad"]):
        count[s.layout] = count.get(s.layout, 0) + 1
        for a in angles:
            image = uphill(s.image, a) if a else s.image
            for turned in (False, True):
                level.LEVEL_MIN = on if turned else math.inf  # without step 4a: no tilt is past it
                got = reader.read(image)["text"]
                key = (s.layout, a, turned)
                right[key] = right.get(key, 0) + (got == s.text)
    level.LEVEL_MIN = shipped
    print(f"{args.split} writers, {sum(count.values())} digit strings on the page's canvas, turned; "
          f"exact string without / with step 4a\n")
    print("| layout | n | " + " | ".join(f"{a:+g} deg" for a in angles) + " |")
    print("|---|---|" + "---|" * len(angles))
    rows = []
    for layout, n in count.items():
        cells = [(right[(layout, a, False)] / n, right[(layout, a, True)] / n) for a in angles]
        print(f"| {layout} | {n} | " + " | ".join(f"{w:.1%} / **{x:.1%}**" for w, x in cells) + " |")
        rows.append({"layout": layout, "n": n, "angles": angles, "without": [w for w, _ in cells],
                     "with": [x for _, x in cells]})
    print(json.dumps({"split": args.split, "model": reader.reader.predictor.version, "level_min": on,
                      "rows": rows, "seconds": round(time.perf_counter() - t0)}))


if __name__ == "__main__":
    main()

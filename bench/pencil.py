"""Numbers written in pencil and photographed: composed numbers of held-out writers in thin grey
graphite whose grain speckles the strokes (``paper.PENCILS``), read as ``POST /api/read`` reads them,
with the mask grown through the weaker ink where the grain broke the strokes (``segment`` step 1,
``runs.hysteresis``) and without it, in the same run; a pen's photo (``photo``) beside them.

    .venv/bin/python bench/pencil.py --split val              # choose here (validation writers)
    .venv/bin/python bench/pencil.py --split test             # report here
    .venv/bin/python bench/pencil.py --n 20 --schemes pencil-photo   # a quick look

"Without" is the same reader with ``segment.JOINS`` set past any count. Digit strings (``compose.
DIGIT_TEMPLATES``) and strings with separators (the writers who wrote some) are counted apart.
Prints a table (exact whole-string accuracy per scheme, kind and layout) and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import math
import time

from held_out import add_writer_flags, parse_writer_flags  # (bench/: the script's own folder)
from numbers_accuracy import SEPARATOR_TEMPLATES, separator_hands

from digitpad import compose, segment
from digitpad.numberreading import number_reader_for
from digitpad.predict import Predictor
from digitpad.reading import reader_for
from digitpad.settings import Settings

SEED = 500  # the strings' seed (not numbers_accuracy's)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_writer_flags(ap)
    ap.add_argument("--n", type=int, default=60, help="strings per layout, scheme and kind")
    ap.add_argument("--schemes", default="photo,pencil-photo,pencil-light", help="comma-separated (paper.scheme)")
    args = parse_writer_flags(ap)
    settings = Settings()
    reader = number_reader_for(settings, reader_for(settings, Predictor(settings.model, threads=1)))
    hands = compose.load_hands(args.unipen, args.pendigits, split=args.split)
    kinds = {"digits": (hands, list(compose.DIGIT_TEMPLATES)),
             "separators": (separator_hands(hands), SEPARATOR_TEMPLATES)}
    t0 = time.perf_counter()
    rows, shipped = [], segment.JOINS
    print(f"{args.split} writers, exact string without / with the mask grown where the grain broke the strokes\n")
    print("| scheme | kind | n | " + " | ".join(compose.LAYOUTS) + " |")
    print("|---|---|---|" + "---|" * len(compose.LAYOUTS))
    for scheme in args.schemes.split(","):
        for kind, (who, templates) in kinds.items():
            right: dict[tuple[str, bool], int] = {}
            count: dict[str, int] = {}
            for s in compose.samples(who, args.n, templates, SEED, [scheme]):
                count[s.layout] = count.get(s.layout, 0) + 1
                for joined in (False, True):
                    segment.JOINS = shipped if joined else math.inf  # without: no count reaches it
                    right[(s.layout, joined)] = right.get((s.layout, joined), 0) + (reader.read(s.image)["text"] == s.text)
            segment.JOINS = shipped
            cells = [(right[(lay, False)] / n, right[(lay, True)] / n) for lay, n in count.items()]
            print(f"| {scheme} | {kind} | {args.n} | " + " | ".join(f"{w:.1%} / **{x:.1%}**" for w, x in cells) + " |")
            rows.append({"scheme": scheme, "kind": kind, "n": args.n, "layouts": list(count),
                         "without": [w for w, _ in cells], "with": [x for _, x in cells]})
    print(json.dumps({"split": args.split, "model": reader.reader.predictor.version, "rows": rows,
                      "seconds": round(time.perf_counter() - t0)}))


if __name__ == "__main__":
    main()

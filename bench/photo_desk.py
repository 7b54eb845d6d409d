"""Photos of numbers with the desk in the frame (the sheet with the desk all round it, or turned on it), a
shadow across the sheet, or taken with the phone held askew.

    .venv/bin/python bench/photo_desk.py                      # held-out (test) writers
    .venv/bin/python bench/photo_desk.py --split val --n 20   # val writers

Composed numbers of held-out writers (``--n`` per layout: digit strings and strings with separators,
``compose.TEMPLATES``), photographed on plain, ruled and squared paper (``paper.SCHEMES``' photos:
uneven light, noise, a phone's JPEG), and the real held-out numbers as photos. Each is read as
``POST /api/read`` reads it (``NumberReader``), as photographed (the sheet fills the frame) and as
``paper.on_a_desk`` shows the same photo lying on a desk (``DESK_VIEWS``: a dark, grey or white desk
all round the sheet, a twelfth of the image's long side; the sheet turned 5 degrees on a desk of its
corner's colour), and as ``paper.in_shadow`` shows it with a shadow's edge across the sheet, hard
(~2 px) or soft (``SOFT`` of the width), and as ``paper.askew`` shows it taken with the phone turned
``ASKEW`` degrees (the sheet's rules at that tilt, the desk in the frame's corners). A desk along the whole edge of the image is what
preprocessing step 3b must not take for the paper; a shadow's hard edge is a step in the light
that no smooth background follows, and step 3d fits one on each side. Prints, per view, the
exact-string accuracy and the share read as the sheet alone was, and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from digitpad import compose
from digitpad.numberreading import number_reader_for
from digitpad.paper import DESK_VIEWS, askew, in_shadow, on_a_desk
from digitpad.predict import Predictor
from digitpad.reading import reader_for
from digitpad.settings import Settings

sys.path.insert(0, str(Path(__file__).resolve().parent))
from held_out import add_writer_flags, parse_writer_flags  # noqa: E402 (bench/, the script's own folder)
from numbers_accuracy import VETTED  # noqa: E402 (the vetted labels of the real numbers)

PHOTOS = ["photo", "ruled-photo", "squared-photo"]
SOFT = 0.05  # a soft shadow's edge: blurred over this share of the image's width
ASKEW = (3, 6, 9)  # the phone turned this many degrees from the sheet's lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_writer_flags(ap)
    ap.add_argument("--n", type=int, default=40, help="composed numbers per layout")
    ap.add_argument("--seed", type=int, default=0)
    args = parse_writer_flags(ap)

    settings = Settings()
    reader = number_reader_for(settings, reader_for(settings, Predictor()))
    records = compose.load_records(args.unipen, args.pendigits, split=args.split)
    hands = compose.hands_of(records)
    cases = [(s.text, s.image) for s in compose.samples(hands, args.n, list(compose.TEMPLATES), args.seed, PHOTOS)]
    composed = len(cases)
    vetted = json.loads(VETTED.read_text())
    for r in records["numbers"]:
        if r["id"] not in vetted["exclude"]:
            cases.append((vetted["correct"].get(r["id"], {}).get("label", r["label"]), compose.render_record(r, "photo")))

    views = ("as photographed", *DESK_VIEWS, "shadow", "soft shadow", *(f"askew {a} degrees" for a in ASKEW))
    shown = {"as photographed": lambda image: image, "shadow": in_shadow,
             "soft shadow": lambda image: in_shadow(image, soft=SOFT),
             **{v: (lambda image, v=v: on_a_desk(image, v)) for v in DESK_VIEWS},
             **{f"askew {a} degrees": (lambda image, a=a: askew(image, a)) for a in ASKEW}}
    right = dict.fromkeys(views, 0)
    alike = dict.fromkeys(views, 0)
    t0 = time.perf_counter()
    for k, (text, image) in enumerate(cases):
        alone = None
        for view in views:
            got = reader.read(shown[view](image))["text"]
            alone = got if alone is None else alone
            right[view] += got.replace(" ", "") == text.replace(" ", "")  # (labels have no spaces)
            alike[view] += got == alone
        print(f"\r{k + 1}/{len(cases)} numbers, {time.perf_counter() - t0:.0f} s", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    n = len(cases)
    print(f"{args.split} writers: {n} photos of numbers ({composed} composed on plain, ruled and squared paper, "
          f"{n - composed} real), each read as photographed, on a desk, in a shadow and askew")
    print(f"{'view':<18} {'exact':>7} {'as the sheet alone':>19}")
    for v in views:
        print(f"{v:<18} {100 * right[v] / n:6.1f}% {100 * alike[v] / n:18.1f}%")
    print(json.dumps({"split": args.split, "n": n, "exact": {v: right[v] / n for v in views},
                      "as_alone": {v: alike[v] / n for v in views}}))


if __name__ == "__main__":
    main()

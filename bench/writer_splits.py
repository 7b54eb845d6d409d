"""The one writer split of the handwriting data (digitpad.handwriting.writer_splits), per lab.

    .venv/bin/python bench/writer_splits.py            # DIGITPAD_PENDIGITS, DIGITPAD_UNIPEN
    .venv/bin/python bench/writer_splits.py --unipen ../shared/data/unipen --json

Prints per lab the writers of train / val / test and their samples per source, then one
JSON line (writer -> split) with --json.
"""

from __future__ import annotations

import argparse
import json
import os
from collections import Counter

from digitpad import handwriting, pendigits


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pendigits", default=os.environ.get("DIGITPAD_PENDIGITS"), help="pendigits .jsonl.gz")
    ap.add_argument("--unipen", default=os.environ.get("DIGITPAD_UNIPEN"), help="the UNIPEN folder")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="also print writer -> split as one JSON line")
    args = ap.parse_args()
    counts: dict[str, Counter] = {}
    if args.pendigits:
        for r in pendigits.load(args.pendigits):
            counts.setdefault(r["writer"], Counter())["pendigits"] += 1
    if args.unipen:
        counts.update(handwriting.unipen_writers(args.unipen))
    splits = handwriting.writer_splits(pendigits_path=args.pendigits, unipen_dir=args.unipen, seed=args.seed)
    print(handwriting.split_table(splits, counts))
    if args.json:
        print(json.dumps({"bench": "writer_splits", "seed": args.seed, "splits": splits}))


if __name__ == "__main__":
    main()

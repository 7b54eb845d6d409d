"""Build (or load from the cache) the handwriting corpus of digitpad.corpus for one or more
splits, and print what is in it.

    .venv/bin/python bench/build_corpus.py                        # train, val, test; 2 processes
    .venv/bin/python bench/build_corpus.py --split test --limit 20 --no-cache   # cheap mode
    .venv/bin/python bench/build_corpus.py --split test --styles canvas-280,photo-jpeg --hand-styles

Data from --pendigits / --unipen (default: $DIGITPAD_PENDIGITS, $DIGITPAD_UNIPEN); the cache
folder from --cache (default: $DIGITPAD_CORPUS_CACHE, else the per-user cache dir). Prints, per
split, images per category and source, the build time, the cache file, and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from digitpad import corpus


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pendigits", default=os.environ.get("DIGITPAD_PENDIGITS"), help="pendigits .jsonl.gz")
    ap.add_argument("--unipen", default=os.environ.get("DIGITPAD_UNIPEN"), help="the UNIPEN folder")
    ap.add_argument("--cache", default=os.environ.get("DIGITPAD_CORPUS_CACHE") or str(corpus.default_cache_dir()),
                    help="cache folder (default: $DIGITPAD_CORPUS_CACHE or the per-user cache dir)")
    ap.add_argument("--no-cache", action="store_true", help="build without reading or writing the cache")
    ap.add_argument("--split", default="train,val,test", help="comma-separated splits")
    ap.add_argument("--styles", default=None, help="comma-separated canvas styles (default: per split)")
    ap.add_argument("--hand-styles", action=argparse.BooleanOptionalAction, default=None,
                    help="add hand-style variants of 0/1/4/7 (default: train only)")
    ap.add_argument("--limit", type=int, default=None, help="at most N records per source (cheap mode)")
    ap.add_argument("--jobs", type=int, default=2, help="rendering processes")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if not args.pendigits or not args.unipen:
        raise SystemExit("pass --pendigits and --unipen (or set DIGITPAD_PENDIGITS and DIGITPAD_UNIPEN)")
    result = {"bench": "build_corpus", "splits": {}}
    for split in args.split.split(","):
        spec = corpus.CorpusSpec(split, styles=tuple(args.styles.split(",")) if args.styles else None,
                                 hand_styles=args.hand_styles, limit=args.limit, seed=args.seed)
        t0 = time.perf_counter()
        c = corpus.build(spec, pendigits_path=args.pendigits, unipen_dir=args.unipen,
                         cache_dir=None if args.no_cache else Path(args.cache), jobs=args.jobs)
        seconds = time.perf_counter() - t0
        summary = c.summary()
        print(f"== {split}: {len(c)} images ({int((c.labels >= 0).sum())} trainable, "
              f"{int(c.augmented.sum())} augmented) in {seconds:.0f} s; styles {c.spec['styles']}")
        for cat, by_source in summary.items():
            print(f"  {cat:14s} " + ", ".join(f"{src} {n}" for src, n in by_source.items()))
        result["splits"][split] = {"images": len(c), "seconds": round(seconds, 1), "summary": summary,
                                   "writers": len(set(c.writer))}
    print(json.dumps(result))


if __name__ == "__main__":
    main()

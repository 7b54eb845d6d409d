"""Contact sheets of the handwriting corpus: what the model is taught, as 28x28 images.

    .venv/bin/python bench/handwriting_sheets.py                       # train split -> runs/sheets/
    .venv/bin/python bench/handwriting_sheets.py --split test --out test-output/sheets

Writes one PNG per group (each number class, letters, other symbols, digit-like letters, each
doodle kind, each hand style beside its original) from the cached corpus (bench/build_corpus.py
builds it), 2x enlarged, with a text file naming every tile (id, char, source, canvas style).
Look at them before training: a slash that misses its zero or a dot the size of a digit
shows at once.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
from PIL import Image

from digitpad import charset, corpus

COLS = 24


def sheet(c: corpus.Corpus, idx: np.ndarray, path: Path, n: int, seed: int = 0) -> None:
    if len(idx) == 0:
        return
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(idx, size=min(n, len(idx)), replace=False))
    rows = (len(idx) + COLS - 1) // COLS
    grid = np.full((rows * 30, COLS * 30), 70, np.uint8)
    for k, i in enumerate(idx):
        y, x = divmod(k, COLS)
        grid[y * 30 + 1: y * 30 + 29, x * 30 + 1: x * 30 + 29] = c.images[i]
    Image.fromarray(grid).resize((grid.shape[1] * 2, grid.shape[0] * 2), Image.NEAREST).save(path)
    path.with_suffix(".txt").write_text("".join(
        f"{c.id[i]}\t{c.char[i]}\t{c.source[i]}\t{c.writer[i]}\t{c.canvas_style[i]}\t{c.hand_style[i]}\n" for i in idx))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pendigits", default=os.environ.get("DIGITPAD_PENDIGITS"), help="pendigits .jsonl.gz")
    ap.add_argument("--unipen", default=os.environ.get("DIGITPAD_UNIPEN"), help="the UNIPEN folder")
    ap.add_argument("--cache", default=os.environ.get("DIGITPAD_CORPUS_CACHE") or str(corpus.default_cache_dir()))
    ap.add_argument("--split", default="train", choices=["train", "val", "test"])
    ap.add_argument("--out", type=Path, default=Path("runs/sheets"))
    ap.add_argument("--per-sheet", type=int, default=192, help="tiles per sheet")
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    if not args.pendigits or not args.unipen:
        raise SystemExit("pass --pendigits and --unipen (or set DIGITPAD_PENDIGITS and DIGITPAD_UNIPEN)")
    c = corpus.build(corpus.CorpusSpec(args.split), pendigits_path=args.pendigits, unipen_dir=args.unipen,
                     cache_dir=Path(args.cache), jobs=args.jobs)
    out = args.out / args.split
    out.mkdir(parents=True, exist_ok=True)
    natural = ~c.augmented
    for k, name in enumerate(charset.CLASSES[:20]):
        safe = {".": "dot", ",": "comma", "/": "slash", ":": "colon", "(": "lparen", ")": "rparen",
                "+": "plus", "$": "dollar", "%": "percent", "-": "minus"}.get(name, name)
        sheet(c, np.nonzero((c.labels == k) & natural)[0], out / f"class-{k:02d}-{safe}.png", args.per_sheet)
    for cat in ("letter", "symbol", "digit-like", "near-number"):
        sheet(c, np.nonzero(c.category == cat)[0], out / f"{cat}.png", args.per_sheet)
    for kind in sorted(set(c.hand_style[c.category == "doodle"])):
        sheet(c, np.nonzero((c.category == "doodle") & (c.hand_style == kind))[0], out / f"doodle-{kind}.png", 48)
    for style in sorted(set(c.hand_style[c.augmented])):
        sheet(c, np.nonzero(c.augmented & (c.hand_style == style))[0], out / f"hand-{style}.png", args.per_sheet)
    print(f"sheets of {len(c)} images in {out}")


if __name__ == "__main__":
    main()

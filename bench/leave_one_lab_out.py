"""Leave one lab out: train without every writer of a UNIPEN lab, read all of that lab's digits.

    .venv/bin/python bench/leave_one_lab_out.py                          # art gmd pri syn val, short recipe
    .venv/bin/python bench/leave_one_lab_out.py --labs gmd --epochs 1 --epoch-images 2000 --limit 1000  # cheap

The writer split holds a few writers of each lab out, but the lab itself is seen in training
(its other writers). A new user comes from a lab nobody saw: other tablets, another country's
way of writing. So for each lab X, a model is trained on MNIST and the handwriting corpus minus
every writer of X (train and validation writers alike: ``trainset.load_handwriting(exclude_labs=...)``),
with a shorter recipe than the shipped one (the same for every lab: ``--epochs``,
``--epoch-images``, ``--limit`` MNIST images; the rest of the shipped recipe), then reads every
digit of X, from all three splits, on the page's canvas. Beside it, "lab seen": one more model
of the same recipe trained with every lab's train writers in (``--out``/all-labs), reading the
same digits (its figure mixes X's train writers, which it learned, with X's val and test
writers); and the shipped model (or ``--model``), a reference of the full recipe (it learned X's
train writers too; a 10-class model saw no UNIPEN lab at all).

Results go to ``--out``/<lab>/ (best.pt, metrics.jsonl, result.json; a lab with a result, or a
model with its ``done`` file, is not trained again on a re-run) and one JSON line at the end.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from pathlib import Path

import numpy as np

from digitpad import corpus, trainset
from digitpad.predict import Predictor
from digitpad.recipe import TrainConfig

LABS = ("art", "gmd", "pri", "syn", "val")


def lab_digits(lab: str, data: dict) -> tuple[np.ndarray, np.ndarray]:
    """Every real digit of ``lab`` (train, val and test writers), as drawn on the page's canvas."""
    images, labels = [], []
    for split in ("train", "val", "test"):
        c = corpus.build(corpus.CorpusSpec(split), **data)
        m = (c.lab == lab) & (c.category == "digit") & ~c.augmented & (c.canvas_style == "canvas-280")
        images.append(c.images[m])
        labels.append(c.labels[m].astype(np.int64))
    return np.concatenate(images), np.concatenate(labels)


def train_short(name: str, exclude: tuple[str, ...], cfg: TrainConfig, args, data: dict):
    """The shorter recipe on MNIST + the corpus minus every writer of ``exclude``; -> the
    validation-chosen network (torch), trained once per ``--out``/<name>."""
    from digitpad.fit import load_best
    from digitpad.train import train

    out = Path(args.out) / name
    if not (out / "done").is_file():
        hw = trainset.load_handwriting(exclude_labs=exclude, reader_numbers=cfg.reader_numbers, **data)
        assert not set(exclude) & (set(hw.train.lab.tolist()) | set(hw.val.lab.tolist()))
        train(cfg, data_dir=args.data_dir, out_dir=out, handwriting=hw, export=False, progress=not args.no_progress)
        (out / "done").write_text(json.dumps({"train_images": int(len(hw.train))}))
    return load_best(out)


def accuracy(model, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(N,) digit read by a torch network (argmax over the ten digit classes)."""
    import torch

    from digitpad.fit import predict_logits, tensors

    torch.set_num_threads(os.cpu_count() or 1)
    return predict_logits(model, tensors(x, y)[0]).numpy()[:, :10].argmax(1)


def run_lab(lab: str, cfg: TrainConfig, args, data: dict, reference: Predictor, seen_model) -> dict:
    out = Path(args.out) / lab
    done = out / "result.json"
    if done.is_file():
        return json.loads(done.read_text())
    x, y = lab_digits(lab, data)
    t0 = time.perf_counter()
    guess = accuracy(train_short(lab, (lab,), cfg, args, data), x, y)
    seen = accuracy(seen_model, x, y)
    ref = reference.predict_batch(x)[:, :10].argmax(1)
    result = {"lab": lab, "digits": int(len(y)), "writers_left_out": sorted({str(w) for w in _writers(lab, data)}),
              "accuracy_lab_unseen": float((guess == y).mean()), "errors": int((guess != y).sum()),
              "per_digit": {str(d): float((guess[y == d] == d).mean()) for d in range(10) if (y == d).any()},
              "accuracy_lab_seen": float((seen == y).mean()),
              "reference": reference.version, "reference_accuracy": float((ref == y).mean()),
              "seconds": round(time.perf_counter() - t0)}
    done.write_text(json.dumps(result, indent=2))
    return result


def _writers(lab: str, data: dict) -> set:
    out = set()
    for split in ("train", "val", "test"):
        c = corpus.build(corpus.CorpusSpec(split), **data)
        out |= set(c.writer[(c.lab == lab) & (c.category == "digit")].tolist())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--labs", default=",".join(LABS), help="comma-separated UNIPEN labs")
    ap.add_argument("--data-dir", default=os.environ.get("DIGITPAD_DATA_DIR"), help="MNIST folder")
    ap.add_argument("--pendigits", default=os.environ.get("DIGITPAD_PENDIGITS"), help="pendigits .jsonl.gz")
    ap.add_argument("--unipen", default=os.environ.get("DIGITPAD_UNIPEN"), help="the UNIPEN folder")
    ap.add_argument("--cache", default=os.environ.get("DIGITPAD_CORPUS_CACHE") or str(corpus.default_cache_dir()))
    ap.add_argument("--out", default="runs/lolo", help="one folder per lab")
    ap.add_argument("--epochs", type=int, default=4, help="the shorter recipe: epochs")
    ap.add_argument("--epoch-images", type=int, default=40_000, help="the shorter recipe: images per epoch")
    ap.add_argument("--limit", type=int, default=None, help="MNIST training images (default: all)")
    ap.add_argument("--model", default=None, help="reference model read on the same digits (default: the shipped one)")
    ap.add_argument("--no-progress", action="store_true")
    ap.add_argument("--json-out", type=Path, default=None, help="also write the JSON result here "
                    "(the notebook reads notebooks/leave_one_lab_out.json)")
    args = ap.parse_args()
    data = {"pendigits_path": args.pendigits, "unipen_dir": args.unipen, "cache_dir": Path(args.cache), "jobs": 2}
    cfg = dataclasses.replace(TrainConfig(), epochs=args.epochs, epoch_images=args.epoch_images, limit=args.limit)
    reference = Predictor(args.model, threads=0)
    seen_model = train_short("all-labs", (), cfg, args, data)  # the same recipe, every lab's train writers in
    rows = [run_lab(lab, cfg, args, data, reference, seen_model) for lab in args.labs.split(",")]
    print(f"leave one lab out: {cfg.epochs} epochs of {cfg.epoch_images:,} images, MNIST limit {cfg.limit}; "
          f"reference {reference.version}")
    print(f"  {'lab':6s}{'digits':>8s}{'writers':>9s}{'lab unseen':>12s}{'errors':>8s}{'lab seen':>10s}{'reference':>11s}")
    for r in rows:
        print(f"  {r['lab']:6s}{r['digits']:>8d}{len(r['writers_left_out']):>9d}{r['accuracy_lab_unseen']:>12.2%}"
              f"{r['errors']:>8d}{r['accuracy_lab_seen']:>10.2%}{r['reference_accuracy']:>11.2%}")
    n = sum(r["digits"] for r in rows)

    def mean(key: str) -> float:
        return sum(r[key] * r["digits"] for r in rows) / n

    print(f"  {'all':6s}{n:>8d}{'':>9s}{mean('accuracy_lab_unseen'):>12.2%}{sum(r['errors'] for r in rows):>8d}"
          f"{mean('accuracy_lab_seen'):>10.2%}{mean('reference_accuracy'):>11.2%}")
    result = {"bench": "leave_one_lab_out", "recipe": cfg.to_dict(), "labs": rows,
              "date": time.strftime("%Y-%m-%d")}
    if args.json_out:
        args.json_out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()

"""Commands that make models (need the ``train`` extra: torch, onnx).

    digitpad train [--epochs N --limit N --out DIR --resume --ship] [--pendigits PATH]
    digitpad ensemble RUN... [--out DIR] [--ship]
    digitpad finetune [--model PATH] [--out DIR] [--epochs N --limit N]
    digitpad quantize MODEL.onnx [--out MODEL.int8.onnx] [--ship]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from ..errors import DataError, DigitpadError
from .common import data_flag, db_flag, model_flag, need_torch, settings_from
from .feedback import open_store

# ------------------------------------------------------------------ train


def cmd_train(args: argparse.Namespace) -> int:
    need_torch()
    from dataclasses import replace

    from ..train import TrainConfig, train

    s = settings_from(args)
    cfg = TrainConfig()
    for name in ("epochs", "limit", "batch_size", "lr", "seed", "split_seed", "threads", "val_size",
                 "rotate_deg", "shear", "elastic_p", "thickness_p"):
        if getattr(args, name) is not None:
            cfg = replace(cfg, **{name: getattr(args, name)})
    extra = extra_info = None
    if args.pendigits:
        from ..pendigits import TRAIN_STYLES, training_set

        path = Path(args.pendigits)
        if not path.is_file():
            raise DataError(f"no pendigits file at {path}", hint="pass the trajectories .jsonl.gz, "
                            "e.g. --pendigits ../shared/data/pendigits/trajectories-dev.jsonl.gz")
        styles = [n.strip() for n in (args.pendigits_styles or ",".join(TRAIN_STYLES)).split(",") if n.strip()]
        try:
            images, labels, extra_info = training_set(path, styles, limit=args.pendigits_limit,
                                                      jobs=os.cpu_count() or 1)
            extra = (images, labels)
        except ValueError as e:
            raise DataError(str(e), hint="see digitpad.pendigits.STYLES") from None
        print(f"+ {extra_info['images']:,} pen-drawn images: {extra_info['drawings']:,} drawings of "
              f"{len(extra_info['writers'])} dev writers x {len(styles)} styles", file=sys.stderr)
    meta = train(cfg, data_dir=s.data_dir, out_dir=args.out, resume=args.resume, extra=extra,
                 extra_info=extra_info, progress=not args.no_progress, version=args.version)
    m = meta["metrics"]
    print(f"model {meta['version']}: validation {m['val_accuracy']:.2%}, test {m['test_accuracy']:.2%} "
          f"({m['train_seconds']:.0f}s) -> {Path(args.out) / 'model.onnx'}")
    if args.ship:
        _ship(Path(args.out), metrics=[Path(args.out) / "metrics.jsonl"])
    return 0


def cmd_ensemble(args: argparse.Namespace) -> int:
    need_torch()
    from ..train import ensemble

    s = settings_from(args)
    meta = ensemble(args.runs, data_dir=s.data_dir, out_dir=args.out, version=args.version)
    m = meta["metrics"]
    print(f"model {meta['version']} ({len(args.runs)} members): validation {m['val_accuracy']:.2%}, "
          f"test {m['test_accuracy']:.2%} -> {Path(args.out) / 'model.onnx'}")
    if args.ship:
        _ship(Path(args.out), metrics=[Path(r) / "metrics.jsonl" for r in args.runs])
    return 0


def _ship(out: Path, metrics: list[Path]) -> None:
    """Copy a run's model and card (and the members' training metrics) into the package."""
    import shutil

    from ..artifact import float_model_path

    models = float_model_path().parent
    shutil.copy(out / "model.onnx", models / "digitpad.onnx")
    shutil.copy(out / "model.int8.onnx", models / "digitpad.int8.onnx")  # what serving loads
    shutil.copy(out / "MODEL_CARD.md", models / "MODEL_CARD.md")
    for old in models.glob("metrics*.jsonl"):
        old.unlink()
    for i, path in enumerate(metrics):
        shutil.copy(path, models / ("metrics.jsonl" if i == 0 else f"metrics-{i + 1}.jsonl"))
    print(f"shipped to {models}")


def cmd_finetune(args: argparse.Namespace) -> int:
    need_torch()
    from dataclasses import replace

    from ..feedback import load_feedback
    from ..finetune import FinetuneConfig, finetune

    s = settings_from(args)
    cfg = FinetuneConfig()
    for name in ("epochs", "limit", "batch_size", "lr", "holdout", "feedback_share", "seed", "threads"):
        if getattr(args, name) is not None:
            cfg = replace(cfg, **{name: getattr(args, name)})
    if args.all_mnist:
        cfg = replace(cfg, limit=None)
    with open_store(args) as store:
        fs = load_feedback(store, max_pixels=s.max_pixels)
    r = finetune(fs, cfg, model_path=s.model, data_dir=s.data_dir, out_dir=args.out,
                 progress=not args.no_progress, version=args.version)
    if args.json:
        print(json.dumps(r, indent=2))
        return 0

    def pct(v: float | None) -> str:
        return "-" if v is None else f"{v:.2%}"

    fb, b, a = r["feedback"], r["before"], r["after"]
    print(f"fine-tuned {r['base_model']['version']} -> {r['model']['version']} in {r['train_seconds']:.0f}s "
          f"on {fb['train']} feedback images (x{fb['repeat']}) + {r['mnist']['train_images']:,} MNIST images")
    print(f"{'':<28}{'before':>10}{'after':>10}")
    print(f"{'held-out feedback (' + str(fb['holdout']) + ')':<28}{pct(b['holdout_accuracy']):>10}"
          f"{pct(a['holdout_accuracy']):>10}")
    print(f"{'MNIST test (' + format(r['mnist']['test_images'], ',') + ')':<28}{pct(b['mnist_test_accuracy']):>10}"
          f"{pct(a['mnist_test_accuracy']):>10}")
    print(f"model -> {r['model']['path']}, int8 twin -> {r['int8_model']['path']}   "
          f"(serve it: digitpad serve --model {r['int8_model']['path']})")
    return 0


# ------------------------------------------------------------------ quantize


def cmd_quantize(args: argparse.Namespace) -> int:
    from ..artifact import int8_path
    from ..data import load_split
    from ..quantize import calibration_sample, quantize

    try:
        import onnx  # noqa: F401
    except ImportError:
        raise DigitpadError("quantizing needs the onnx package", hint="pip install -e '.[train]'  (or: make install)") from None
    s = settings_from(args)
    if args.ship:
        _check_is_shipped_float(Path(args.model))
    tr_img, _ = load_split("train", s.data_dir)
    te_img, te_lab = load_split("test", s.data_dir)
    out = Path(args.out) if args.out else int8_path(args.model)
    # Calibration reads training images only: the test set measures the result.
    meta = quantize(args.model, out, calibration_sample(tr_img), te_img, te_lab,
                    calibration_source="MNIST training images")
    q = meta["quantization"]
    print(f"model {meta['version']}: test {meta['metrics']['test_accuracy']:.2%} (float "
          f"{q['float_model']['test_accuracy']:.2%}), same digit on {q['argmax_agreement']:.2%} -> {out}")
    if args.ship:  # (checked to be the twin of the shipped float model before quantizing)
        _ship_int8(out, meta)
    return 0


def _check_is_shipped_float(src: Path) -> None:
    """Only the twin of the shipped float model may ship: the package must not pair unrelated files."""
    import hashlib

    from ..artifact import float_model_path

    shipped = float_model_path()
    if not src.is_file() or hashlib.sha256(src.read_bytes()).digest() != hashlib.sha256(shipped.read_bytes()).digest():
        raise DigitpadError(f"--ship: {src} is not the shipped float model ({shipped.name})",
                            hint="ship the float model first (digitpad train --ship), or drop --ship")


def _ship_int8(out: Path, meta: dict) -> None:
    """Install an int8 model as the served one, with its row in the shipped model card."""
    import re
    import shutil

    from ..artifact import float_model_path
    from ..quantize import card_row

    shipped = float_model_path()
    shutil.copy(out, shipped.with_name("digitpad.int8.onnx"))
    card = shipped.with_name("MODEL_CARD.md")
    text, row = card.read_text(), card_row(meta)
    if re.search(r"^\| int8 serving model .*$", text, flags=re.M):
        text = re.sub(r"^\| int8 serving model .*$", lambda _: row, text, count=1, flags=re.M)
    else:  # an older card: the row goes at the end of the first table
        head, sep, rest = text.partition("\n\n## ")
        text = head + "\n" + row + sep + rest
    card.write_text(text)
    print(f"shipped to {shipped.parent}")

# ------------------------------------------------------------------ parsers


def add_commands(sub: argparse._SubParsersAction) -> None:
    def recipe_flags(p: argparse.ArgumentParser) -> None:
        """Seeds and augmentation strengths, shared by train and finetune (defaults: TrainConfig)."""
        p.add_argument("--seed", type=int, default=None, help="random seed for weights, shuffling, augmentation (default 0)")
        p.add_argument("--split-seed", type=int, default=None, help="seed of the validation split (default 0)")
        p.add_argument("--rotate-deg", type=float, default=None, help="augmentation: max rotation (default 10)")
        p.add_argument("--shear", type=float, default=None, help="augmentation: max shear in radians (default 0.15)")
        p.add_argument("--elastic-p", type=float, default=None, help="augmentation: share of elastic warps (default 0.3)")
        p.add_argument("--thickness-p", type=float, default=None, help="augmentation: share thickened/thinned (default 0.3)")

    p = sub.add_parser("train", help="train the CNN on MNIST and export ONNX")
    data_flag(p)
    p.add_argument("--out", default="runs/latest", help="output folder (checkpoint, metrics, model.onnx, card)")
    p.add_argument("--epochs", type=int, default=None, help="epochs (default 20)")
    p.add_argument("--limit", type=int, default=None, help="train on at most N images (cheap mode)")
    p.add_argument("--batch-size", type=int, default=None, help="batch size (default 128)")
    p.add_argument("--lr", type=float, default=None, help="peak learning rate (default 0.1)")
    recipe_flags(p)
    p.add_argument("--val-size", type=int, default=None, help="validation images carved from train (default 5000)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores)")
    p.add_argument("--version", default=None, help="model version string (default: digitnet-DATE)")
    p.add_argument("--pendigits", default=None, metavar="PATH",
                   help="also train on the dev writers of this pendigits .jsonl.gz, rendered as canvases "
                        "(its held-out writers stay unseen, for bench/pendigits_accuracy.py)")
    p.add_argument("--pendigits-styles", default=None,
                   help="comma-separated pendigits.STYLES to render (default: canvas-280,thick-brush-200,small-center-400)")
    p.add_argument("--pendigits-limit", type=int, default=None, help="use the first N dev drawings only (cheap mode)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    p.add_argument("--ship", action="store_true", help="copy the model, card and metrics into the package")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("ensemble", help="combine finished training runs into one model (one ONNX graph)")
    data_flag(p)
    p.add_argument("runs", nargs="+", help="training output folders (each with best.pt and meta.json)")
    p.add_argument("--out", default="runs/ensemble", help="output folder")
    p.add_argument("--version", default=None, help="model version string")
    p.add_argument("--ship", action="store_true", help="copy the model, card and members' metrics into the package")
    p.set_defaults(func=cmd_ensemble)

    p = sub.add_parser("finetune", help="fine-tune a model on the feedback mixed with MNIST (needs torch)")
    data_flag(p)
    model_flag(p)
    db_flag(p)
    p.add_argument("--out", default="runs/finetune", help="output folder (model.onnx, MODEL_CARD.md, finetune.json)")
    p.add_argument("--epochs", type=int, default=None, help="epochs (default 3)")
    p.add_argument("--limit", type=int, default=None, help="MNIST training images mixed in (default 20000)")
    p.add_argument("--all-mnist", action="store_true", help="mix in all 55,000 MNIST training images")
    p.add_argument("--batch-size", type=int, default=None, help="batch size (default 128)")
    p.add_argument("--lr", type=float, default=None, help="peak learning rate (default 0.01)")
    p.add_argument("--holdout", type=float, default=None, help="share of feedback held out to measure on (default 0.2)")
    p.add_argument("--feedback-share", type=float, default=None,
                   help="share of each epoch that is (repeated) feedback (default 0.25)")
    recipe_flags(p)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores)")
    p.add_argument("--version", default=None, help="version of the new model (default: BASE-ftDATE)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_finetune)

    p = sub.add_parser("quantize", help="write the int8 twin of a float model (~3x faster serving; needs onnx)")
    data_flag(p)
    p.add_argument("model", help="a float digitpad .onnx model (e.g. runs/latest/model.onnx)")
    p.add_argument("--out", default=None, help="output file (default: MODEL.int8.onnx beside it)")
    p.add_argument("--ship", action="store_true", help="copy the result into the package as the served model")
    p.set_defaults(func=cmd_quantize)

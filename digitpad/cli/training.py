"""Commands that make models (need the ``train`` extra: torch, onnx).

    digitpad train [--epochs N --limit N --out DIR --resume --ship] [--pendigits PATH --unipen DIR]
    digitpad ensemble RUN... [--out DIR] [--ship]
    digitpad finetune [--model PATH] [--out DIR] [--epochs N --limit N]
    digitpad quantize MODEL.onnx [--out MODEL.int8.onnx] [--ship] [--pendigits F --unipen D]
    digitpad thresholds MODEL.onnx [--pendigits PATH --unipen DIR] [--write]
    digitpad train-sequence --pendigits PATH --unipen DIR [--out FILE.onnx] [--strings N --epochs N]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import types
import typing
from pathlib import Path

from .. import artifact, handwriting
from ..errors import DataError, DigitpadError
from ..recipe import FinetuneConfig, SequenceConfig, TrainConfig
from .common import data_flag, db_flag, model_flag, need_torch, settings_from
from .feedback import open_store

# ------------------------------------------------------------------ recipe flags

RECIPE_DEST = "recipe_"  # config flags live apart from Settings' names (--threads is torch's here)


def recipe_flags(p: argparse.ArgumentParser, config: type) -> None:
    """One flag per field of the dataclass ``config`` (``--field-name``), its help and shown
    default taken from the field: the command accepts exactly the knobs its run uses. Fields are
    grouped under the class that declares them (the run's own knobs, then the inherited ones)."""
    hints = typing.get_type_hints(config)
    groups = {}
    for cls in [c for c in config.__mro__ if dataclasses.is_dataclass(c)]:
        summary = (cls.__doc__ or cls.__name__).strip().splitlines()[0].rstrip(".").replace("``", "")
        groups[cls] = p.add_argument_group(f"{cls.__name__}: {summary[0].lower() + summary[1:]}")
    for f in dataclasses.fields(config):
        if "help" not in f.metadata:
            continue  # not a knob (e.g. TrainConfig.model)
        kind = _flag_type(hints[f.name], f"{config.__name__}.{f.name}")
        shown = "" if f.default is None else f" (default: {f.default})"
        opts = ({"action": argparse.BooleanOptionalAction} if kind is bool
                else {"type": kind, "metavar": {int: "N", float: "X"}.get(kind, "VALUE")})
        groups[_declared_in(config, f.name)].add_argument(
            "--" + f.name.replace("_", "-"), dest=RECIPE_DEST + f.name, default=None,
            help=f.metadata["help"] + shown, **opts)


def recipe_from(args: argparse.Namespace, config: type):
    """The ``config`` dataclass with the recipe flags that were given; the rest stay defaults."""
    given = {f.name: getattr(args, RECIPE_DEST + f.name) for f in dataclasses.fields(config)
             if getattr(args, RECIPE_DEST + f.name, None) is not None}
    return config(**given)


def _declared_in(config: type, name: str) -> type:
    """The most basic dataclass in ``config``'s bases that declares field ``name``."""
    return [c for c in config.__mro__ if name in c.__dict__.get("__annotations__", {})][-1]


def _flag_type(hint: object, name: str) -> type:
    """int, float, str, bool, or one of them | None -> the flag's type."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        hint = inner[0] if len(inner) == 1 else hint
    if hint in (int, float, str, bool):
        return hint
    raise TypeError(f"{name}: no command-line flag for a field of type {hint}")


# ------------------------------------------------------------------ train


def cmd_train(args: argparse.Namespace) -> int:
    need_torch()
    from .. import trainset
    from ..corpus import default_cache_dir
    from ..train import train

    s = settings_from(args)
    cfg = recipe_from(args, TrainConfig)
    hw = heldout = None
    if args.pendigits or args.unipen:
        pen, uni = handwriting_paths(args)
        cache = Path(args.corpus_cache) if args.corpus_cache else default_cache_dir()
        jobs = os.cpu_count() or 1
        hw = trainset.load_handwriting(pendigits_path=pen, unipen_dir=uni, cache_dir=cache,
                                       limit=cfg.handwriting_limit, reader_numbers=cfg.reader_numbers, jobs=jobs)
        if args.heldout:
            heldout = heldout_figures(pen, uni, cache, limit=cfg.handwriting_limit)
        w = hw.info["writers_trained_on"]
        print(f"+ handwriting: {len(hw.train):,} images of {w['pendigits']} pendigits and {w['unipen']} UNIPEN "
              f"train writers; {len(hw.val):,} validation images", file=sys.stderr)
        if hw.reader is not None:
            print(f"+ the reader's candidates of {hw.reader.numbers:,} composed numbers of those writers: "
                  f"{len(hw.reader.labels):,} images ({hw.reader.summary()['other']:,} of them `other`)", file=sys.stderr)
    meta = train(cfg, data_dir=s.data_dir, out_dir=args.out, resume=args.resume, handwriting=hw, heldout=heldout,
                 progress=not args.no_progress, version=args.version)
    m = meta["metrics"]
    print(f"model {meta['version']}: validation {m['val_accuracy']:.2%}, MNIST test {m['test_accuracy']:.2%}, "
          f"temperature {meta['calibration']['temperature']:.3f} ({m['train_seconds']:.0f}s) -> {Path(args.out) / 'model.onnx'}")
    if "heldout" in m:
        h = m["heldout"]
        nd = h["not_digits"]["all non-digits"]
        print("held-out writers: " + ", ".join(f"{k} {h[k]['accuracy']:.2%}" for k in ("unipen", "pendigits") if k in h)
              + f"; non-digits flagged {nd['flagged'] or 0:.1%} (not_digit {nd['not_digit'] or 0:.1%})")
    if args.ship:
        print(f"shipped to {artifact.ship_run(args.out, metrics=[Path(args.out) / 'metrics.jsonl'])}")
    return 0


def heldout_figures(pen: Path, uni: Path, cache: Path, limit: int | None = None):  # noqa: ANN201 (trainset's measure)
    """The handwriting corpus's test writers, read once at the end (train, quantize, thresholds)."""
    from .. import trainset  # (as in each command: the parser stays cheap to build)

    return trainset.heldout_figures(trainset.heldout_corpus(pendigits_path=pen, unipen_dir=uni, cache_dir=cache,
                                                            limit=limit, jobs=os.cpu_count() or 1))


def handwriting_paths(args: argparse.Namespace) -> tuple[Path, Path]:
    """--pendigits FILE and --unipen DIR, both given and both there."""
    if not (args.pendigits and args.unipen):
        raise DataError("--pendigits and --unipen go together (the handwriting corpus reads both)",
                        hint="--pendigits ../shared/data/pendigits/trajectories-dev.jsonl.gz --unipen ../shared/data/unipen")
    pen, uni = Path(args.pendigits), Path(args.unipen)
    if not pen.is_file():
        raise DataError(f"no pendigits file at {pen}", hint="pass the trajectories .jsonl.gz, "
                        "e.g. --pendigits ../shared/data/pendigits/trajectories-dev.jsonl.gz")
    missing = [name for name in handwriting.UNIPEN_FILES.values() if not (uni / name).is_file()]
    if missing:
        raise DataError(f"no UNIPEN files {', '.join(missing)} in {uni}", hint="pass the UNIPEN folder, e.g. --unipen ../shared/data/unipen")
    return pen, uni


def cmd_ensemble(args: argparse.Namespace) -> int:
    need_torch()
    from ..ensemble import ensemble

    s = settings_from(args)
    meta = ensemble(args.runs, data_dir=s.data_dir, out_dir=args.out, version=args.version)
    m = meta["metrics"]
    print(f"model {meta['version']} ({len(args.runs)} members): validation {m['val_accuracy']:.2%}, "
          f"test {m['test_accuracy']:.2%} -> {Path(args.out) / 'model.onnx'}")
    if args.ship:
        print(f"shipped to {artifact.ship_run(args.out, metrics=[Path(r) / 'metrics.jsonl' for r in args.runs])}")
    return 0


def cmd_finetune(args: argparse.Namespace) -> int:
    need_torch()
    from ..feedback import load_feedback
    from ..finetune import finetune

    s = settings_from(args)
    cfg = recipe_from(args, FinetuneConfig)
    if args.all_mnist:
        cfg = dataclasses.replace(cfg, limit=None)
    heldout = {}
    if args.pendigits:
        from .. import pendigits

        held = pendigits.split_by_writer(pendigits.load(args.pendigits))[1][:args.pendigits_limit]
        heldout["pendigits_heldout"] = pendigits.mnist_arrays(held, ["canvas-280"])
    with open_store(args) as store:
        fs = load_feedback(store, max_pixels=s.max_pixels, which=args.train_on)
    r = finetune(fs, cfg, model_path=s.model, data_dir=s.data_dir, out_dir=args.out,
                 progress=not args.no_progress, version=args.version, heldout=heldout)
    if args.json:
        print(json.dumps(r, indent=2))
        return 0

    def pct(v: float | None) -> str:
        return "-" if v is None else f"{v:.2%}"

    fb, b, a, n = r["feedback"], r["before"], r["after"], r["heldout_images"]
    print(f"fine-tuned {r['base_model']['version']} -> {r['model']['version']} in {r['train_seconds']:.0f}s "
          f"on {fb['train']} {args.train_on} feedback images (x{fb['repeat']}) + {r['mnist']['train_images']:,} "
          "MNIST images")
    rows = [("held out, feedback cannot write to it:", None), (f"  MNIST validation ({n['mnist_val']:,})", "mnist_val")]
    if "pendigits_heldout" in n:
        rows.append((f"  pendigits held-out writers ({n['pendigits_heldout']:,})", "pendigits_heldout"))
    rows += [(f"  MNIST test ({r['mnist']['test_images']:,})", "mnist_test"),
             (f"reviewed feedback, held out ({fb['holdout']})", "holdout")]
    print(f"{'':<40}{'before':>10}{'after':>10}")
    for label, key in rows:
        print(label if key is None else f"{label:<40}{pct(b[key + '_accuracy']):>10}{pct(a[key + '_accuracy']):>10}")
    print(f"model -> {r['model']['path']}, int8 twin -> {r['int8_model']['path']}   "
          f"(serve it: digitpad serve --model {r['int8_model']['path']})")
    return 0


# ------------------------------------------------------------------ quantize


def cmd_quantize(args: argparse.Namespace) -> int:
    """Torch-free: onnx and ONNX Runtime's quantization tools only."""
    from ..card import with_heldout, with_int8_row
    from ..corpus import default_cache_dir
    from ..data import load_split
    from ..predict import Predictor
    from ..quantize import calibration_sample, quantize

    try:
        import onnx  # noqa: F401
    except ImportError:
        raise DigitpadError("quantizing needs the onnx package", hint="pip install -e '.[train]'  (or: make install)") from None
    s = settings_from(args)
    if args.ship and not artifact.is_shipped_float(args.model):
        # Only the twin of the shipped float model may ship: the package must not pair unrelated files.
        raise DigitpadError(f"--ship: {args.model} is not the shipped float model ({artifact.float_model_path().name})",
                            hint="ship the float model first (digitpad train --ship), or drop --ship")
    heldout = None
    if args.pendigits or args.unipen:  # the corpus's test writers, measured on the new file (as training does)
        pen, uni = handwriting_paths(args)
        heldout = heldout_figures(pen, uni, default_cache_dir())
    tr_img, _ = load_split("train", s.data_dir)
    te_img, te_lab = load_split("test", s.data_dir)
    out = Path(args.out) if args.out else artifact.int8_path(args.model)
    # Calibration reads training images only: the test set measures the result.
    meta = quantize(args.model, out, calibration_sample(tr_img), te_img, te_lab,
                    calibration_source="MNIST training images", heldout=heldout)
    q = meta["quantization"]
    print(f"model {meta['version']}: test {meta['metrics']['test_accuracy']:.2%} (float "
          f"{q['float_model']['test_accuracy']:.2%}), same digit on {q['argmax_agreement']:.2%} -> {out}")
    if args.ship:  # (checked to be the twin of the shipped float model before quantizing)
        card = with_int8_row(artifact.card_path().read_text(), meta)
        if heldout is not None:
            card = with_heldout(card, Predictor(args.model).metadata, meta)
        print(f"shipped to {artifact.ship_int8(out, card)}")
    return 0


def cmd_thresholds(args: argparse.Namespace) -> int:
    """Torch-free: re-choose a float model's thresholds on validation (``digitpad.rethreshold``)."""
    from .. import rethreshold, trainset
    from ..corpus import default_cache_dir
    from ..data import load_split, split_train_val
    from ..predict import Predictor

    s = settings_from(args)
    model = Path(args.model)
    meta = Predictor(model, threads=0).metadata  # the model's own description, read once
    if "quantization" in meta:
        raise DigitpadError(f"{model} is an int8 model", hint="name the float model: its int8 twin is rewritten with it")
    val = heldout = None
    if args.pendigits or args.unipen:
        pen, uni = handwriting_paths(args)
        cache = Path(args.corpus_cache) if args.corpus_cache else default_cache_dir()
        jobs = os.cpu_count() or 1
        val = trainset.load_handwriting(pendigits_path=pen, unipen_dir=uni, cache_dir=cache, jobs=jobs).val
        if args.write:  # the test writers' figures, measured again under the thresholds written
            heldout = heldout_figures(pen, uni, cache)
    # The model's own validation split (its recipe's seed, size and cheap-mode limit): any other
    # split of MNIST's training set would overlap what the model trained on.
    recipe = meta.get("recipe", {})
    split = TrainConfig(**{k: recipe[k] for k in ("split_seed", "val_size", "limit") if k in recipe})
    _, mnist_val = split_train_val(*load_split("train", s.data_dir), split)
    pool, chosen_on = rethreshold.validation_pool(mnist_val, val)
    old = meta.get("thresholds", {})
    entry = rethreshold.rechoose(model, pool, chosen_on)
    keys = ("not_digit", "doubtful_digit", "uncertain")
    print(f"{model}: budgets {entry['budgets']} on {chosen_on}")
    print("  now:    " + ", ".join(f"{k} {old.get(k, '-')}" for k in keys))
    print("  chosen: " + ", ".join(f"{k} {entry[k]}" for k in keys))
    if not args.write:
        print("(not written: --write stores them)")
        return 0
    twin = artifact.int8_path(model)
    written = rethreshold.write(model, entry, heldout)
    qmeta = rethreshold.write(twin, entry, heldout, float_model=model) if twin.is_file() else None
    shipped = [artifact.card_path()] if artifact.is_shipped_float(model) else []
    cards = sorted({c.resolve() for c in [model.parent / "MODEL_CARD.md", *shipped] if c.is_file()})
    for card in cards:
        artifact.write_atomically(card, rethreshold.update_card(card.read_text(), written, qmeta).encode())
    print("written: " + ", ".join(str(p) for p in [model, *([twin] if qmeta else []), *cards]))
    return 0


# ------------------------------------------------------------------ train-sequence


def cmd_train_sequence(args: argparse.Namespace) -> int:
    need_torch()
    from .. import compose
    from ..data import load_split
    from ..seqtrain import card_path, train

    pen, uni = handwriting_paths(args)
    cfg = recipe_from(args, SequenceConfig)
    train_hands = compose.load_hands(uni, pen, split="train", styles=True)
    val_hands = compose.load_hands(uni, pen, split="val")
    mnist = load_split("train", settings_from(args).data_dir) if cfg.mnist else None
    meta = train(cfg, train_hands, val_hands, args.out, mnist=mnist, log=lambda line: print(line, flush=True))
    print(f"wrote {args.out} and {card_path(args.out)} ({meta['version']}; val writers' strings exact "
          f"{meta['history'][-1]['val_exact']:.1%})")
    return 0


# ------------------------------------------------------------------ parsers


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train the CNN on MNIST and export ONNX")
    data_flag(p)
    p.add_argument("--out", default="runs/latest", help="output folder (checkpoint, metrics, model.onnx, card)")
    recipe_flags(p, TrainConfig)
    p.add_argument("--version", default=None, help="model version string (default: digitnet-DATE)")
    p.add_argument("--pendigits", default=None, metavar="PATH",
                   help="the pendigits .jsonl.gz: with --unipen, train on the handwriting corpus's train writers "
                        "(digitpad.corpus) and choose on its val writers; its test writers are only measured")
    p.add_argument("--unipen", default=None, metavar="DIR", help="the UNIPEN folder (with --pendigits)")
    p.add_argument("--heldout", action=argparse.BooleanOptionalAction, default=True,
                   help="measure the exported files on the corpus's test writers at the end (reported, never "
                        "chosen on; --no-heldout for runs that compare recipes on validation)")
    p.add_argument("--corpus-cache", default=None, metavar="DIR",
                   help="where the rendered corpus is cached (default: the per-user cache dir)")
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
    recipe_flags(p, FinetuneConfig)
    p.add_argument("--all-mnist", action="store_true", help="mix in all 55,000 MNIST training images (--limit none)")
    p.add_argument("--feedback", dest="train_on", choices=["accepted", "agreeing"], default="accepted",
                   help="which corrections to train on: accepted by a review (default), or also pending ones the "
                        "live model found plausible (the agreement check: it gave the label >= 0.2)")
    p.add_argument("--pendigits", default=None, metavar="PATH",
                   help="also measure on the held-out writers of this pendigits .jsonl.gz (canvas-280 style)")
    p.add_argument("--pendigits-limit", type=int, default=None, help="measure on the first N held-out drawings only")
    p.add_argument("--version", default=None, help="version of the new model (default: BASE-ftDATE)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_finetune)

    p = sub.add_parser("quantize", help="write the int8 twin of a float model (~3x faster serving; needs onnx)")
    data_flag(p)
    p.add_argument("model", help="a float digitpad .onnx model (e.g. runs/latest/model.onnx)")
    p.add_argument("--out", default=None, help="output file (default: MODEL.int8.onnx beside it)")
    p.add_argument("--ship", action="store_true", help="copy the result into the package as the served model")
    p.add_argument("--pendigits", default=None, metavar="PATH",
                   help="the pendigits .jsonl.gz: with --unipen, measure the result on the handwriting corpus's "
                        "test writers (stored in its metadata and card, as training does)")
    p.add_argument("--unipen", default=None, metavar="DIR", help="the UNIPEN folder (with --pendigits)")
    p.set_defaults(func=cmd_quantize)

    p = sub.add_parser("thresholds", help="re-choose a model's status thresholds on validation writers, without "
                                          "retraining (needs onnx to --write)")
    data_flag(p)
    p.add_argument("model", help="a float digitpad .onnx model (its int8 twin beside it is rewritten too)")
    p.add_argument("--pendigits", default=None, metavar="PATH",
                   help="the pendigits .jsonl.gz: with --unipen, the val writers' pen digits join MNIST's validation "
                        "split (as in training), and the test writers' figures are measured again")
    p.add_argument("--unipen", default=None, metavar="DIR", help="the UNIPEN folder (with --pendigits)")
    p.add_argument("--corpus-cache", default=None, metavar="DIR",
                   help="where the rendered corpus is cached (default: the per-user cache dir)")
    p.add_argument("--write", action="store_true", help="store the chosen thresholds in the model files and cards")
    p.set_defaults(func=cmd_thresholds)

    p = sub.add_parser("train-sequence", help="train the sequence model that reads runs of touching digits "
                                              "(digitpad.sequence; needs torch)")
    p.add_argument("--pendigits", default=None, metavar="PATH", required=True,
                   help="the pendigits .jsonl.gz: strings are composed of the train writers' characters")
    p.add_argument("--unipen", default=None, metavar="DIR", required=True, help="the UNIPEN folder")
    data_flag(p)  # MNIST, for --mnist strings
    p.add_argument("--out", default="runs/sequence.onnx",
                   help="the .onnx to write (digitpad/models/sequence.onnx: the shipped one)")
    recipe_flags(p, SequenceConfig)
    p.set_defaults(func=cmd_train_sequence)

"""The ``digitpad`` command line.

    digitpad train [--epochs N --limit N --out DIR --resume --ship] [--pendigits PATH]
    digitpad evaluate [--model PATH] [--json] [--grid misclassified.png]
    digitpad predict IMAGE|FOLDER|GLOB... [--json]
    digitpad info [--json]
    digitpad serve [--host 127.0.0.1] [--port 8000] [--workers N] [--model PATH] [--no-feedback] [--database-url URL]
    digitpad feedback add --label N IMAGE... | stats [--json] | export --format npz|idx|png-dir OUT
    digitpad finetune [--model PATH] [--out DIR] [--epochs N --limit N]
    digitpad quantize MODEL.onnx [--out MODEL.int8.onnx] [--ship]

Config flows one way: flags -> ``Settings`` (which also reads ``DIGITPAD_*`` env vars) ->
constructor arguments. Errors from the domain print one line plus a hint and exit 1;
argparse usage errors exit 2.
"""

from __future__ import annotations

import argparse
import glob
import json
import logging
import os
import sys
from pathlib import Path

from .errors import DataError, DigitpadError
from .settings import Settings

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"}


def _settings(args: argparse.Namespace) -> Settings:
    """Settings from env vars, overridden by the flags that were given."""
    overrides = {k: v for k, v in vars(args).items() if v is not None and k in Settings.model_fields}
    return Settings(**overrides)


def _need_torch() -> None:
    try:
        import torch  # noqa: F401
    except ImportError:
        raise DigitpadError(
            "training needs PyTorch, which is not installed",
            hint="pip install -e '.[train]'  (or: make install)",
        ) from None


# ------------------------------------------------------------------ train


def cmd_train(args: argparse.Namespace) -> int:
    _need_torch()
    from dataclasses import replace

    from .train import TrainConfig, train

    s = _settings(args)
    cfg = TrainConfig()
    for name in ("epochs", "limit", "batch_size", "lr", "seed", "split_seed", "threads", "val_size",
                 "rotate_deg", "shear", "elastic_p", "thickness_p"):
        if getattr(args, name) is not None:
            cfg = replace(cfg, **{name: getattr(args, name)})
    extra = extra_info = None
    if args.pendigits:
        from .pendigits import TRAIN_STYLES, training_set

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
    _need_torch()
    from .train import ensemble

    s = _settings(args)
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

    models = Path(__file__).parent / "models"
    shutil.copy(out / "model.onnx", models / "digitpad.onnx")
    shutil.copy(out / "model.int8.onnx", models / "digitpad.int8.onnx")  # what serving loads
    shutil.copy(out / "MODEL_CARD.md", models / "MODEL_CARD.md")
    for old in models.glob("metrics*.jsonl"):
        old.unlink()
    for i, path in enumerate(metrics):
        shutil.copy(path, models / ("metrics.jsonl" if i == 0 else f"metrics-{i + 1}.jsonl"))
    print(f"shipped to {models}")


# ------------------------------------------------------------------ evaluate


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .evaluate import evaluate, misclassified_grid
    from .predict import Predictor

    s = _settings(args)
    result = evaluate(Predictor(s.model, threads=0), s.data_dir, limit=args.limit)
    images, labels, guesses, confidences, _ = result.pop("_wrong")
    if args.grid:
        misclassified_grid(images, labels, guesses, confidences).save(args.grid)
        result["grid"] = str(args.grid)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"model {result['model']} on {result['images']:,} MNIST test images")
    print(f"accuracy: {result['accuracy']:.2%} ({result['errors']} errors)")
    print("per class: " + "  ".join(f"{d}:{a:.2%}" for d, a in enumerate(result["per_class_accuracy"])))
    print("confusion (rows: true digit, columns: predicted):")
    print("   " + "".join(f"{d:>6}" for d in range(10)))
    for d, row in enumerate(result["confusion"]):
        print(f"{d:>3}" + "".join(f"{v:>6}" for v in row))
    if args.grid:
        print(f"misclassified digits: {args.grid}")
    return 0


# ------------------------------------------------------------------ predict


def expand_inputs(items: list[str]) -> list[Path]:
    """Files, folders (their images, sorted) and glob patterns -> image paths."""
    paths: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():  # scandir: the entry's type comes with the listing (no stat per file)
            with os.scandir(p) as entries:
                found = sorted(e.path for e in entries
                               if os.path.splitext(e.name)[1].lower() in IMAGE_SUFFIXES and e.is_file())
            paths += map(Path, found)
        elif p.is_file():
            paths.append(p)
        elif glob.has_magic(item):
            matches = sorted(Path(m) for m in glob.glob(item, recursive=True) if Path(m).is_file())
            if not matches:
                raise DigitpadError(f"no files match {item}", hint="check the pattern (quote it to let digitpad expand it)")
            paths += matches
        else:
            raise DigitpadError(f"no such file or folder: {item}", hint="give image files, folders or glob patterns")
    if not paths:
        raise DigitpadError("no images found", hint=f"images end in one of {', '.join(sorted(IMAGE_SUFFIXES))}")
    return paths


def cmd_predict(args: argparse.Namespace) -> int:
    from .predict import Predictor, predict_files

    s = _settings(args)
    paths = expand_inputs(args.images)
    # One onnxruntime thread: batches are predicted while the decoding processes use the cores.
    pred = Predictor(s.model, threads=1)
    rows = predict_files(pred, paths, max_pixels=s.max_pixels, uncertain_threshold=s.uncertain_threshold,
                      batch_size=args.batch_size, jobs=args.jobs)
    if args.json:
        # One row per line: readable, and each row goes through json's C encoder (indent=2 would
        # use the pure-Python one, a sixth of the command's time on 10,000 files).
        sys.stdout.write("[\n" + ",\n".join(json.dumps(r) for r in rows) + "\n]\n")
    else:
        width = max(len(r["file"]) for r in rows)
        print(f"{'file':<{width}}  digit  confidence  status")
        for r in rows:
            digit = "-" if r["digit"] is None else str(r["digit"])
            conf = "" if r["confidence"] is None else f"{r['confidence']:.1%}"
            status = r["status"] if r["status"] != "error" else f"error: {r['error']}"
            print(f"{r['file']:<{width}}  {digit:>5}  {conf:>10}  {status}")
    return 1 if any(r["status"] == "error" for r in rows) else 0


# ------------------------------------------------------------------ info


def cmd_info(args: argparse.Namespace) -> int:
    from .predict import Predictor

    s = _settings(args)
    pred = Predictor(s.model)
    meta = pred.metadata
    if args.json:
        print(json.dumps({"path": str(pred.path), **meta}, indent=2))
        return 0
    m = meta.get("metrics", {})
    print(f"model:      {meta['version']}  ({pred.path})")
    print(f"created:    {meta.get('created')}")
    arch = meta["architecture"]
    members = f"{len(arch['members'])} x " if "members" in arch else ""
    print(f"network:    {arch['name']}: {members}channels {arch['channels']}, {meta.get('parameters', 0):,} parameters")
    print(f"input:      {meta['input']['shape']} {meta['input']['dtype']}: {meta['input']['content']}")
    print(f"normalize:  {meta['normalization']['formula']} (mean {meta['normalization']['mean']}, "
          f"std {meta['normalization']['std']})")
    if m:
        print(f"accuracy:   test {m['test_accuracy']:.2%}, validation {m['val_accuracy']:.2%} "
              f"({m['train_seconds'] / 60:.1f} min training)")
    from .preprocess import engine_description

    print(f"preprocess: {engine_description()}")
    if "quantization" in meta:
        q = meta["quantization"]
        print(f"quantized:  {q['scheme']}; from {q['float_model']['version']} (test "
              f"{q['float_model']['test_accuracy']:.2%}), same digit on {q['argmax_agreement']:.2%} of the test set")
    return 0


# ------------------------------------------------------------------ serve


def cmd_serve(args: argparse.Namespace) -> int:
    import os

    # One thread per numeric library in every server process (set before numpy loads; worker
    # processes inherit it): requests and workers are the parallelism, and BLAS/OpenMP thread
    # pools would only fight them for the cores. ONNX Runtime's own count is DIGITPAD_THREADS (1).
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    from .server import serve

    s = _settings(args)
    if s.feedback:  # an unusable feedback database: one line and a hint now, not a traceback at startup
        from .store import FeedbackStore

        FeedbackStore.open(s.database_url).close()
    serve(s)
    return 0


# ------------------------------------------------------------------ feedback


def _open_store(args: argparse.Namespace):  # noqa: ANN202 (store imported lazily)
    from .store import FeedbackStore

    return FeedbackStore.open(_settings(args).database_url)


def cmd_feedback_add(args: argparse.Namespace) -> int:
    from .feedback import record
    from .predict import Predictor

    if not 0 <= args.label <= 9:
        raise DigitpadError(f"--label must be a digit 0-9, got {args.label}")
    s = _settings(args)
    paths = expand_inputs(args.images)
    predictor = Predictor(s.model)
    with _open_store(args) as store:
        for path in paths:
            fid = record(store, predictor, data=path.read_bytes(), label=args.label, source="upload",
                         max_pixels=s.max_pixels)
            print(f"{path}: stored as feedback {fid} (label {args.label})")
    return 0


def cmd_feedback_stats(args: argparse.Namespace) -> int:
    from .feedback import format_stats

    with _open_store(args) as store:
        st = store.stats()
    print(json.dumps(st, indent=2) if args.json else format_stats(st))
    return 0


def cmd_feedback_export(args: argparse.Namespace) -> int:
    from .feedback import export

    s = _settings(args)
    with _open_store(args) as store:
        fs, paths = export(store, args.format, args.out, gz=args.gzip, stored=args.stored, max_pixels=s.max_pixels)
    skipped = f" ({fs.skipped} skipped: unreadable or empty)" if fs.skipped else ""
    where = paths[0] if args.format == "npz" else args.out
    print(f"exported {len(fs):,} feedback images{skipped} as {args.format} -> {where}")
    return 0


def cmd_finetune(args: argparse.Namespace) -> int:
    _need_torch()
    from dataclasses import replace

    from .feedback import load_feedback
    from .finetune import FinetuneConfig, finetune

    s = _settings(args)
    cfg = FinetuneConfig()
    for name in ("epochs", "limit", "batch_size", "lr", "holdout", "feedback_share", "seed", "threads"):
        if getattr(args, name) is not None:
            cfg = replace(cfg, **{name: getattr(args, name)})
    if args.all_mnist:
        cfg = replace(cfg, limit=None)
    with _open_store(args) as store:
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
    from .data import load_split
    from .quantize import calibration_sample, int8_path, quantize

    try:
        import onnx  # noqa: F401
    except ImportError:
        raise DigitpadError("quantizing needs the onnx package", hint="pip install -e '.[train]'  (or: make install)") from None
    s = _settings(args)
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

    from .predict import float_model_path

    shipped = float_model_path()
    if not src.is_file() or hashlib.sha256(src.read_bytes()).digest() != hashlib.sha256(shipped.read_bytes()).digest():
        raise DigitpadError(f"--ship: {src} is not the shipped float model ({shipped.name})",
                            hint="ship the float model first (digitpad train --ship), or drop --ship")


def _ship_int8(out: Path, meta: dict) -> None:
    """Install an int8 model as the served one, with its row in the shipped model card."""
    import re
    import shutil

    from .predict import float_model_path
    from .quantize import card_row

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


# ------------------------------------------------------------------ parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="digitpad", description="Handwritten digit recognizer (MNIST CNN, ONNX).")
    parser.add_argument("--log-level", default=None, help="logging level (default: info)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def data_flag(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data-dir", default=None, help="folder with the MNIST IDX files (env DIGITPAD_DATA_DIR)")

    def model_flag(p: argparse.ArgumentParser) -> None:
        p.add_argument("--model", default=None, help="digitpad .onnx model (default: the shipped one; env DIGITPAD_MODEL)")

    def db_flag(p: argparse.ArgumentParser) -> None:
        p.add_argument("--database-url", default=None,
                       help="feedback database (env DIGITPAD_DATABASE_URL; default: SQLite in the per-user data dir)")

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

    p = sub.add_parser("evaluate", help="accuracy, per-class accuracy and confusion on the MNIST test set")
    data_flag(p)
    model_flag(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--grid", default="misclassified.png", help="PNG grid of misclassified digits ('' to skip)")
    p.add_argument("--limit", type=int, default=None, help="evaluate the first N test images only")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("predict", help="read digits from image files, folders or globs")
    model_flag(p)
    p.add_argument("images", nargs="+", help="image files, folders or glob patterns")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--batch-size", type=int, default=256, help="images per model call")
    p.add_argument("--jobs", type=int, default=0, help="decoding processes (0 = one per core; one fewer for small files, which decode faster than the model reads them)")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("info", help="show the model's metadata")
    model_flag(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("serve", help="run the web app")
    model_flag(p)
    p.add_argument("--host", default=None, help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default 8000)")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default 1)")
    p.add_argument("--no-feedback", dest="feedback", action="store_false", default=None,
                   help="do not collect corrections (POST /api/feedback answers 403)")
    p.add_argument("--no-access-log", dest="access_log", action="store_false", default=None,
                   help="no log line per request (saves ~0.05 ms of CPU a request)")
    db_flag(p)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("feedback", help="corrections collected by the page: stats, export")
    fsub = p.add_subparsers(dest="feedback_command", required=True, metavar="ACTION")
    q = fsub.add_parser("add", help="record the true digit of image files (as if corrected on the page)")
    db_flag(q)
    model_flag(q)
    q.add_argument("--label", type=int, required=True, help="the digit 0-9 the images really show")
    q.add_argument("images", nargs="+", help="image files, folders or glob patterns")
    q.set_defaults(func=cmd_feedback_add)
    q = fsub.add_parser("stats", help="totals, count per label, live-model accuracy on feedback, confusion")
    db_flag(q)
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q.set_defaults(func=cmd_feedback_stats)
    q = fsub.add_parser("export", help="write the feedback as 28x28 training data")
    db_flag(q)
    q.add_argument("--format", choices=["npz", "idx", "png-dir"], default="npz",
                   help="npz: one file (images, labels, ids); idx: two IDX files in OUT; png-dir: OUT/<label>/<id>.png")
    q.add_argument("out", help="output file (npz) or folder (idx, png-dir)")
    q.add_argument("--gzip", action=argparse.BooleanOptionalAction, default=True, help="gzip the IDX files")
    q.add_argument("--stored", action="store_true",
                   help="export the 28x28 stored at collection time instead of re-preprocessing the originals")
    q.set_defaults(func=cmd_feedback_export)

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
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=(args.log_level or "INFO").upper(), format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except DigitpadError as e:
        print(f"digitpad: error: {e.message}", file=sys.stderr)
        if e.hint:
            print(f"hint: {e.hint}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("digitpad: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())

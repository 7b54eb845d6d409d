"""Commands that read digits with a model file (onnxruntime + numpy + Pillow: no torch).

    digitpad evaluate [--model PATH] [--json] [--grid misclassified.png]
    digitpad predict IMAGE|FOLDER|GLOB... [--json]
    digitpad read IMAGE|FOLDER|GLOB... [--json]         (whole numbers)
    digitpad info [--json]
    digitpad serve [--host 127.0.0.1] [--port 8000] [--workers N] [--model PATH] [--no-feedback] [--database-url URL]
"""

from __future__ import annotations

import argparse
import json
import sys

from ..errors import DigitpadError
from .common import data_flag, db_flag, expand_inputs, model_flag, reader_from, sequence_flags, settings_from

# ------------------------------------------------------------------ evaluate


def cmd_evaluate(args: argparse.Namespace) -> int:
    from ..evaluate import evaluate, misclassified_grid
    from ..predict import Predictor

    s = settings_from(args)
    result = evaluate(Predictor(s.model, threads=0), s.data_dir, limit=args.limit)
    images, labels, guesses, confidences, _ = result.pop("_wrong")
    if args.grid:
        try:
            misclassified_grid(images, labels, guesses, confidences).save(args.grid)
        except (OSError, ValueError) as e:  # no such folder, not writable, not a picture's name
            raise DigitpadError(f"cannot write {args.grid}: {getattr(e, 'strerror', None) or e}",
                                hint="--grid takes a .png file name in an existing folder") from None
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


def cmd_predict(args: argparse.Namespace) -> int:
    from ..batch import read_files

    s = settings_from(args)
    paths = expand_inputs(args.images)
    # One onnxruntime thread: batches are predicted while the decoding processes use the cores.
    rows = read_files(reader_from(s, threads=1), paths, batch_size=args.batch_size, jobs=args.jobs)
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


# ------------------------------------------------------------------ read (whole numbers)


def cmd_read(args: argparse.Namespace) -> int:
    from ..numberreading import number_reader_for

    s = settings_from(args)
    paths = expand_inputs(args.images)
    reader = number_reader_for(s, reader_from(s, threads=1))
    rows = []
    for path in paths:
        row = {"file": str(path), "text": None, "status": "error", "confidence": None, "characters": None, "error": None}
        try:
            answer = reader.read(path.read_bytes())
        except DigitpadError as e:
            row["error"] = e.message
        except OSError as e:
            row["error"] = e.strerror or str(e)
        else:
            row.update(text=answer["text"], status=answer["status"], confidence=answer["confidence"],
                       characters=[{k: c[k] for k in ("char", "confidence", "status", "box", "alternatives")}
                                   for c in answer["characters"]])
        rows.append(row)
    if args.json:
        sys.stdout.write("[\n" + ",\n".join(json.dumps(r) for r in rows) + "\n]\n")
    else:
        width = max(len(r["file"]) for r in rows)
        print(f"{'file':<{width}}  {'number':<20}  confidence  status")
        for r in rows:
            conf = "" if r["confidence"] is None else f"{r['confidence']:.1%}"
            status = r["status"] if r["status"] != "error" else f"error: {r['error']}"
            print(f"{r['file']:<{width}}  {r['text'] or '-':<20}  {conf:>10}  {status}")
    return 1 if any(r["status"] == "error" for r in rows) else 0


# ------------------------------------------------------------------ info


def cmd_info(args: argparse.Namespace) -> int:
    from ..predict import Predictor

    s = settings_from(args)
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
    labels = meta.get("labels") or []
    if len(labels) > 10:
        print(f"classes:    {len(labels)}: {' '.join(labels)}")
    if meta.get("data", {}).get("trained_on"):
        print(f"trained on: {meta['data']['trained_on']}")
    if "calibration" in meta:
        print(f"calibrated: temperature {meta['calibration']['temperature']:.3f} ({meta['calibration']['fit_on']})")
    if "thresholds" in meta:
        t = meta["thresholds"]
        print(f"thresholds: not_digit < {t['not_digit']}, uncertain < {t['uncertain']} "
              f"(or digit likelihood < {t['doubtful_digit']}); settings may override")
    from .. import engines

    print(f"preprocess: {engines.choose(s.preprocess).describe()}")
    from ..sequence import SequenceModel

    seq = SequenceModel(s.sequence_model) if s.sequence else None
    print(f"sequence:   {seq.version} ({seq.path}): touching digits read whole (numbers step 10)" if seq else
          "sequence:   off (numbers are read without step 10)")
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
    from ..web.serve import serve

    s = settings_from(args)
    if s.feedback:  # an unusable feedback database: one line and a hint now, not a traceback at startup
        from ..store import FeedbackStore

        # DIGITPAD_MIGRATE=false (replicas behind a migration step): check the schema, change nothing.
        FeedbackStore.open(s.database_url, migrate_schema=s.migrate).close()
    serve(s)
    return 0

# ------------------------------------------------------------------ parsers


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="accuracy, per-class accuracy and confusion on the MNIST test set")
    data_flag(p)
    model_flag(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--grid", default=None, metavar="PNG", help="also draw the misclassified digits into this PNG file")
    p.add_argument("--limit", type=int, default=None, help="evaluate the first N test images only")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("predict", help="read digits from image files, folders or globs")
    model_flag(p)
    p.add_argument("images", nargs="+", help="image files, folders or glob patterns")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--batch-size", type=int, default=256, help="images per model call")
    p.add_argument("--jobs", type=int, default=0, help="decoding processes (0 = one per core; one fewer for small files, which decode faster than the model reads them)")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("read", help="read whole numbers (digits and - . , / : ( ) + $ %%) from image files, folders or globs")
    model_flag(p)
    sequence_flags(p)
    p.add_argument("images", nargs="+", help="image files, folders or glob patterns")
    p.add_argument("--json", action="store_true", help="machine-readable output (each character with its box)")
    p.set_defaults(func=cmd_read)

    p = sub.add_parser("info", help="show the model's metadata")
    model_flag(p)
    sequence_flags(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("serve", help="run the web app")
    model_flag(p)
    sequence_flags(p)
    p.add_argument("--host", default=None, help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default 8000)")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default 1)")
    p.add_argument("--no-feedback", dest="feedback", action="store_false", default=None,
                   help="do not collect corrections (POST /api/feedback answers 403)")
    p.add_argument("--no-access-log", dest="access_log", action="store_false", default=None,
                   help="no log line per request (saves ~0.05 ms of CPU a request)")
    db_flag(p)
    p.set_defaults(func=cmd_serve)


"""Commands for the corrections people made on the page (the feedback store).

    digitpad feedback add --label N IMAGE...
    digitpad feedback stats [--json]
    digitpad feedback export --format npz|idx|png-dir OUT
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from ..errors import DigitpadError
from .common import db_flag, expand_inputs, model_flag, reader_from, settings_from

if TYPE_CHECKING:
    from ..store import FeedbackStore


def open_store(args: argparse.Namespace) -> FeedbackStore:
    from ..store import FeedbackStore  # (SQLAlchemy: only for the commands that open the store)

    s = settings_from(args)
    return FeedbackStore.open(s.database_url, migrate_schema=s.migrate)


def cmd_feedback_add(args: argparse.Namespace) -> int:
    from ..feedback import record

    if not 0 <= args.label <= 9:
        raise DigitpadError(f"--label must be a digit 0-9, got {args.label}")
    s = settings_from(args)
    paths = expand_inputs(args.images)
    reader = reader_from(s)
    with open_store(args) as store:
        for path in paths:
            fid = record(store, reader, data=path.read_bytes(), label=args.label, source="upload")
            print(f"{path}: stored as feedback {fid} (label {args.label})")
    return 0


def cmd_feedback_stats(args: argparse.Namespace) -> int:
    from ..feedback import format_stats

    with open_store(args) as store:
        st = store.stats()
    print(json.dumps(st, indent=2) if args.json else format_stats(st))
    return 0


def cmd_feedback_export(args: argparse.Namespace) -> int:
    from ..feedback import export

    s = settings_from(args)
    with open_store(args) as store:
        fs, paths = export(store, args.format, args.out, gz=args.gzip, stored=args.stored, max_pixels=s.max_pixels)
    skipped = f" ({fs.skipped} skipped: unreadable or empty)" if fs.skipped else ""
    where = paths[0] if args.format == "npz" else args.out
    print(f"exported {len(fs):,} feedback images{skipped} as {args.format} -> {where}")
    return 0

# ------------------------------------------------------------------ parsers


def add_commands(sub: argparse._SubParsersAction) -> None:
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


"""Commands for the corrections people made on the page (the feedback store).

    digitpad feedback add --label N IMAGE...
    digitpad feedback stats [--json]
    digitpad feedback review [list] [--status pending] [--limit 50]   # what waits for review
    digitpad feedback review accept 12 15 20-30 | --all-pending         # training data from now on
    digitpad feedback review reject 13
    digitpad feedback review --numbers [accept 3 4]                   # the same for corrected numbers
    digitpad feedback add --text 737-1340 number.png                  # a corrected number, from a file
    digitpad feedback delete [--ids 10-20] [--model V] [--before DATE] [--status rejected]
    digitpad feedback export --format npz|idx|png-dir OUT [--status accepted]
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
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

    if (args.label is None) == (args.text is None):
        raise DigitpadError("say what the images show: --label 7 (a digit) or --text 737-1340 (a number)")
    if args.label is not None and not 0 <= args.label <= 9:
        raise DigitpadError(f"--label must be a digit 0-9, got {args.label}")
    s = settings_from(args)
    paths = expand_inputs(args.images)
    reader = reader_from(s)
    with open_store(args) as store:
        if args.text is not None:  # a corrected number, recorded as POST /api/read/feedback records it
            from ..numberfeedback import prepare_number_correction, store_number_correction
            from ..numberreading import number_reader_for

            numbers = number_reader_for(s, reader)
            for path in paths:
                c = prepare_number_correction(numbers, path.read_bytes(), text=args.text)
                fid = store_number_correction(store, c, source="upload")
                print(f"{path}: stored as number feedback {fid} ({args.text!r}, read as {c.reading['text']!r}, "
                      f"boxes: {c.boxes_from or 'none'})")
            return 0
        for path in paths:
            fid = record(store, reader, data=path.read_bytes(), label=args.label, source="upload")
            print(f"{path}: stored as feedback {fid} (label {args.label})")
    return 0


def format_stats(st: dict) -> str:
    """``FeedbackStore.stats()`` as the text ``digitpad feedback stats`` prints."""
    lines = []
    sources = ", ".join(f"{k} {v:,}" for k, v in sorted(st["by_source"].items()))
    lines.append(f"feedback: {st['total']:,} rows" + (f" ({sources})" if sources else ""))
    reviews = ", ".join(f"{k} {st['by_review'].get(k, 0):,}" for k in ("pending", "accepted", "rejected"))
    lines.append(f"review: {reviews}")
    if st["total"]:
        lines.append(f"collected: {st['first']} .. {st['last']}")
    lines.append("per label:  " + "  ".join(f"{d}:{n}" for d, n in enumerate(st["per_label"])))
    if st["rated"]:
        lines.append(f"live model accuracy on feedback: {st['accuracy']:.1%} "
                     f"({st['correct']:,} of {st['rated']:,} readings were right; {st['rated'] - st['correct']:,} corrected)")
        for name, m in sorted(st["by_model"].items()):
            lines.append(f"  {name}: {m['accuracy']:.1%} of {m['rated']:,}")
        lines.append("confusion (rows: true label, columns: what the model read):")
        lines.append("   " + "".join(f"{d:>6}" for d in range(10)))
        for d, row in enumerate(st["confusion"]):
            lines.append(f"{d:>3}" + "".join(f"{v:>6}" for v in row))
    else:
        lines.append("live model accuracy on feedback: - (no readings yet)")
    return "\n".join(lines)


def cmd_feedback_stats(args: argparse.Namespace) -> int:
    with open_store(args) as store:
        st = store.stats()
        by_review = store.numbers.by_review()
    st["numbers"] = {"total": sum(by_review.values()), "by_review": by_review}  # corrected numbers
    if args.json:
        print(json.dumps(st, indent=2))
        return 0
    print(format_stats(st))
    reviews = ", ".join(f"{k} {by_review.get(k, 0):,}" for k in ("pending", "accepted", "rejected"))
    print(f"corrected numbers: {st['numbers']['total']:,} ({reviews}); digitpad feedback review --numbers")
    return 0


def parse_ids(items: list[str]) -> list[int]:
    """``["12", "20-23", "5,6"]`` -> ``[12, 20, 21, 22, 23, 5, 6]``."""
    ids: list[int] = []
    for item in ",".join(items).split(","):
        lo, sep, hi = item.strip().partition("-")
        try:
            a, b = int(lo), int(hi) if sep else int(lo)
        except ValueError:
            raise DigitpadError(f"not a row id or a range of them: {item!r}", hint="give ids like 12, 20-30 or 5,6") from None
        if a < 1 or b < a or b - a > 1_000_000:
            raise DigitpadError(f"not a range of row ids: {item!r}", hint="give ids like 12, 20-30 or 5,6")
        ids += range(a, b + 1)
    return ids


def _list_numbers(store: FeedbackStore, args: argparse.Namespace) -> None:
    from ..curation import agrees_number

    rows = store.numbers.list(limit=args.limit, review=args.status)
    total = store.numbers.count(review=args.status)
    print(f"{total:,} {args.status} numbers" + (f", the newest {len(rows)}:" if rows else ""))
    if rows:
        print(f"{'id':>8}  {'collected':<20} {'text':<20}  {'read':<20}  {'boxes':<6} {'agrees':<6} model")
    for r in rows:
        print(f"{r.id:>8}  {r.created_at:%Y-%m-%d %H:%M:%S}  {r.text:<20}  {r.read_text or '-':<20}  "
              f"{r.boxes_from or 'none':<6} {'yes' if agrees_number(r.text, r.read_scores) else 'no':<6} "
              f"{r.model_version or '-'}")


def cmd_feedback_review(args: argparse.Namespace) -> int:
    from ..curation import agrees

    with open_store(args) as store:
        if args.action == "list" and args.numbers:
            if args.ids or args.all_pending:
                raise DigitpadError("review list takes no ids", hint="digitpad feedback review --numbers accept IDS")
            _list_numbers(store, args)
            return 0
        if args.action == "list":
            if args.ids or args.all_pending:
                raise DigitpadError("review list takes no ids", hint="digitpad feedback review accept IDS")
            rows = store.list(limit=args.limit, review=args.status)
            total = store.count(review=args.status)
            print(f"{total:,} {args.status} rows" + (f", the newest {len(rows)}:" if rows else ""))
            if rows:
                print(f"{'id':>8}  {'collected':<20} {'label':>5}  {'read':>4} {'conf':>5}  {'agrees':<6} model")
            for r in rows:
                probs = store.get(r.id).probabilities
                read = "-" if r.predicted is None else str(r.predicted)
                conf = "-" if r.confidence is None else f"{r.confidence:.2f}"
                print(f"{r.id:>8}  {r.created_at:%Y-%m-%d %H:%M:%S}  {r.label:>5}  {read:>4} {conf:>5}  "
                      f"{'yes' if agrees(r.label, probs) else 'no':<6} {r.model_version or '-'}")
            return 0
        decision = {"accept": "accepted", "reject": "rejected"}[args.action]
        if args.all_pending == bool(args.ids):
            raise DigitpadError(f"say which rows to {args.action}: ids (12 20-30), or --all-pending")
        rows = store.numbers if args.numbers else store
        n = rows.review(None if args.all_pending else parse_ids(args.ids), decision)
    print(f"{n:,} {'numbers' if args.numbers else 'rows'} {decision}")
    return 0


def cmd_feedback_delete(args: argparse.Namespace) -> int:
    from ..curation import Selection

    lo = hi = None
    if args.ids:
        ids = parse_ids([args.ids])
        lo, hi = min(ids), max(ids)
    before = None
    if args.before:
        try:
            before = datetime.fromisoformat(args.before)
        except ValueError:
            raise DigitpadError(f"--before is not a date: {args.before!r}", hint="give 2026-12-01 or 2026-12-01T12:00") from None
        before = before if before.tzinfo else before.replace(tzinfo=UTC)
    with open_store(args) as store:
        selection = Selection(min_id=lo, max_id=hi, model=args.model, before=before, review=args.status)
        n = (store.numbers if args.numbers else store).delete_many(selection)
        rows, size = store.usage()
    what = "numbers" if args.numbers else "rows"
    print(f"deleted {n:,} {what}; {rows:,} rows left ({size / 1e6:,.1f} MB of images)")
    return 0


def cmd_feedback_export(args: argparse.Namespace) -> int:
    from ..feedback import export

    s = settings_from(args)
    with open_store(args) as store:
        fs, paths = export(store, args.format, args.out, gz=args.gzip, stored=args.stored, max_pixels=s.max_pixels,
                           which=args.status)
    skipped = f" ({fs.skipped} skipped: unreadable or empty)" if fs.skipped else ""
    where = paths[0] if args.format == "npz" else args.out
    print(f"exported {len(fs):,} feedback images{skipped} as {args.format} -> {where}")
    return 0

# ------------------------------------------------------------------ parsers


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("feedback", help="corrections collected by the page: stats, review, delete, export")
    fsub = p.add_subparsers(dest="feedback_command", required=True, metavar="ACTION")
    q = fsub.add_parser("add", help="record the true digit of image files (as if corrected on the page)")
    db_flag(q)
    model_flag(q)
    q.add_argument("--label", type=int, default=None, help="the digit 0-9 the images really show")
    q.add_argument("--text", default=None, help="or: the number the images really show (e.g. 737-1340)")
    q.add_argument("images", nargs="+", help="image files, folders or glob patterns")
    q.set_defaults(func=cmd_feedback_add)
    q = fsub.add_parser("stats", help="totals, count per label, live-model accuracy on feedback, confusion")
    db_flag(q)
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q.set_defaults(func=cmd_feedback_stats)
    q = fsub.add_parser("review", help="what waits for review, and accepting or rejecting it (only accepted rows "
                                       "are trained on)")
    db_flag(q)
    q.add_argument("action", nargs="?", choices=["list", "accept", "reject"], default="list",
                   help="list (default), accept or reject")
    q.add_argument("ids", nargs="*", help="row ids or ranges: 12 20-30 5,6")
    q.add_argument("--all-pending", action="store_true", help="accept or reject every pending row")
    q.add_argument("--status", choices=["pending", "accepted", "rejected"], default="pending",
                   help="list the rows in this state (default: pending)")
    q.add_argument("--limit", type=int, default=50, help="list at most this many, newest first (default: 50)")
    q.add_argument("--numbers", action="store_true", help="the corrected numbers (POST /api/read/feedback) "
                                                          "instead of the digits")
    q.set_defaults(func=cmd_feedback_review)
    q = fsub.add_parser("delete", help="delete many rows at once (every criterion given must hold) and give the "
                                       "space back")
    db_flag(q)
    q.add_argument("--ids", default=None, help="an id or a range: 10-20")
    q.add_argument("--model", default=None, help="rows read by this model version")
    q.add_argument("--before", default=None, help="rows collected before this date (ISO 8601; UTC without a zone)")
    q.add_argument("--status", choices=["pending", "accepted", "rejected"], default=None, help="rows in this state")
    q.add_argument("--numbers", action="store_true", help="delete corrected numbers instead of digits")
    q.set_defaults(func=cmd_feedback_delete)
    q = fsub.add_parser("export", help="write the feedback as 28x28 training data")
    db_flag(q)
    q.add_argument("--format", choices=["npz", "idx", "png-dir"], default="npz",
                   help="npz: one file (images, labels, ids); idx: two IDX files in OUT; png-dir: OUT/<label>/<id>.png")
    q.add_argument("out", help="output file (npz) or folder (idx, png-dir)")
    q.add_argument("--gzip", action=argparse.BooleanOptionalAction, default=True, help="gzip the IDX files")
    q.add_argument("--stored", action="store_true",
                   help="export the 28x28 stored at collection time instead of re-preprocessing the stored images")
    q.add_argument("--status", choices=["all", "accepted", "agreeing", "pending", "rejected"], default="all",
                   help="which rows (default: all; agreeing: accepted + pending rows that pass the agreement check)")
    q.set_defaults(func=cmd_feedback_export)


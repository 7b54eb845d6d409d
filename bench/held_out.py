"""The flags of a bench that reads held-out writers' numbers: whose (``--split``), and where the
handwriting is (``--unipen``, ``--pendigits``, or DIGITPAD_UNIPEN and DIGITPAD_PENDIGITS).

    ap = argparse.ArgumentParser(...)
    add_writer_flags(ap)
    args = parse_writer_flags(ap)        # exits with a hint when the data is not given
"""

from __future__ import annotations

import argparse
import os


def add_writer_flags(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--split", default="test", choices=["val", "test"],
                    help="whose numbers: the validation writers (choose here) or the test writers (report here); never train")
    ap.add_argument("--unipen", default=os.environ.get("DIGITPAD_UNIPEN"), help="UNIPEN dir (or DIGITPAD_UNIPEN)")
    ap.add_argument("--pendigits", default=os.environ.get("DIGITPAD_PENDIGITS"),
                    help="pendigits file (or DIGITPAD_PENDIGITS)")


def parse_writer_flags(ap: argparse.ArgumentParser) -> argparse.Namespace:
    args = ap.parse_args()
    if not args.unipen or not args.pendigits:
        ap.error("pass --unipen and --pendigits (or set DIGITPAD_UNIPEN and DIGITPAD_PENDIGITS)")
    return args

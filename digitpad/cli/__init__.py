"""The ``digitpad`` command line: one parser made of the commands of four rooms.

    serving.py    evaluate, predict, info, serve       (onnxruntime: no torch)
    feedback.py   feedback add | stats | export        (the feedback store)
    database.py   db upgrade | check                   (the feedback store's schema: a deployment's migration step)
    training.py   train, ensemble, finetune, quantize  (the train extra)

Config flows one way: flags -> ``Settings`` (which also reads ``DIGITPAD_*`` env vars) ->
constructor arguments. Errors from the domain print one line plus a hint and exit 1;
argparse usage errors exit 2.
"""

from __future__ import annotations

import argparse
import logging
import sys

from ..errors import DigitpadError
from . import database, feedback, serving, training


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="digitpad", description="Handwritten digit recognizer (MNIST CNN, ONNX).")
    parser.add_argument("--log-level", default=None, help="logging level (default: info)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    training.add_commands(sub)
    serving.add_commands(sub)
    feedback.add_commands(sub)
    database.add_commands(sub)
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

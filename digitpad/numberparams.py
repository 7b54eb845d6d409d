"""The number reader's constants and verifier weights as JSON, for its JavaScript twin.

The on-device reader (``static/numbers.js`` and the modules it imports) follows ``segment``,
``level``, ``cuts``, ``glyphs``, ``grammar``, ``verifier``, ``numbers`` and ``sequence`` step by step, but
never declares their numbers itself: it loads ``static/numbers-params.json``, written from these
modules' own UPPER_CASE constants by this module. A test fails when the committed file differs
from what the Python modules say, so a retuned constant or a refitted verifier reaches the
browser by running:

    .venv/bin/python -m digitpad.numberparams        # rewrites digitpad/static/numbers-params.json
"""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import numpy as np

from . import charset, cuts, glyphs, grammar, level, numberreading, numbers, rules, segment, sequence, verifier
from . import preprocess as pp

PATH = Path(__file__).parent / "static" / "numbers-params.json"
MODULES: dict[str, ModuleType] = {"rules": rules, "segment": segment, "level": level, "cuts": cuts, "glyphs": glyphs, "grammar": grammar,
                                  "numbers": numbers, "verifier": verifier, "sequence": sequence}


def _constants(module: ModuleType) -> dict:
    """A module's UPPER_CASE numbers, strings, tuples, dicts and numpy arrays (as lists)."""
    out = {}
    for name, value in vars(module).items():
        if name.isupper() and isinstance(value, (bool, int, float, str, tuple, dict, np.ndarray)):
            out[name] = value.tolist() if isinstance(value, np.ndarray) else list(value) if isinstance(value, tuple) else value
    return out


def params() -> dict:
    """Every constant the JavaScript reader needs, by the Python module that owns it."""
    out = {name: _constants(m) for name, m in MODULES.items()}
    out["preprocess"] = {"MIN_INK_PIXELS": pp.MIN_INK_PIXELS, "MIN_INK_SHARE": pp.MIN_INK_SHARE}
    out["charset"] = {"DIGITS": charset.DIGITS, "NUMBER_ALPHABET": charset.NUMBER_ALPHABET,
                      "OTHER_NAME": charset.OTHER_NAME}
    out["numberreading"] = {"OTHER_CHAR": numberreading.OTHER_CHAR,
                            "IN_NUMBER_NOT_DIGIT": numberreading.IN_NUMBER_NOT_DIGIT}
    return out


def render() -> str:
    """The JSON text of ``params()`` (floats as Python's repr: the same doubles in JavaScript)."""
    return json.dumps(params(), indent=1, sort_keys=True) + "\n"


def main() -> None:
    PATH.write_text(render())


if __name__ == "__main__":
    main()

"""Which code runs the hot steps of preprocessing: an ``Engine`` value, chosen once.

    engine = engines.choose(settings.preprocess)    # "auto" (C when built), "c" or "numpy"
    preprocess.to_mnist(decoded, engine=engine)

The numpy code (``digitpad.inkmap.block_mean``, ``digitpad.fit28.finish``) is the reference.
The optional C extension ``digitpad._fastpre`` (``pip install -e .`` compiles ``_fastpre.c``;
without a compiler the install still succeeds) computes steps 2 and 4-10 bit-identically and
several times faster (tests/test_preprocess_fast.py), and with it plain canvas PNGs are read
by ``digitpad.png`` instead of Pillow. An engine is a plain value handed to whoever
preprocesses (the server's reader, the CLI, the benches): tests pass the one they want.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np

from . import fit28, inkmap, png, runs
from .errors import DigitpadError

log = logging.getLogger(__name__)

NAMES = ("auto", "c", "numpy")
_KINDS = ("empty", "zoom", "done", "empty")  # _fastpre.finish's kinds (3: no ink left at the intermediate resolution)


@dataclass(frozen=True)
class Engine:
    """The functions of steps 2 and 4-10, and whether canvas PNGs skip Pillow."""

    name: str  # "c" or "numpy"
    block_mean: Callable[[np.ndarray, int, float], np.ndarray]  # (H, W) uint8 -> (ceil(H/k), ceil(W/k)) float64
    finish: Callable[..., fit28.Finished]  # fit28.finish's signature
    fast_png: bool  # decode plain PNGs with digitpad.png (only with the C engine: numpy is the plain reference)
    # the number reader's steps 1b, 3 and 6 (fit28.stroke_width, runs.label_runs, runs.candidate_ink)
    stroke_width: Callable[[np.ndarray], float] = fit28.stroke_width  # (h, w) bool -> pixels
    label_runs: Callable[[int, np.ndarray, np.ndarray], tuple[np.ndarray, int]] = runs.label_runs
    candidate_ink: Callable[..., np.ndarray] = runs.candidate_ink  # runs.candidate_ink's signature

    def describe(self) -> str:
        """One line for ``digitpad info`` and the server's startup log."""
        if self.name != "c":
            return ("numpy, ~3x slower with the same results (DIGITPAD_PREPROCESS=numpy, or the C extensions are "
                    "not built: install a C compiler and re-run `pip install -e .`)")
        if not self.fast_png:
            return "C extension digitpad._fastpre; PNGs decoded by Pillow (digitpad._fastpng is not built)"
        return f"C extension digitpad._fastpre; plain PNGs read by digitpad.png ({png.INFLATE} + digitpad._fastpng)"


NUMPY = Engine("numpy", inkmap.block_mean, fit28.finish, fast_png=False)


@cache
def c_engine() -> Engine | None:
    """The C engine, or None when ``digitpad._fastpre`` is missing or was built from other constants."""
    try:
        from . import _fastpre
    except ImportError:
        return None
    if _fastpre.CONSTANTS != fit28.CONSTANTS:  # a stale build: rebuild with `pip install -e .`
        log.warning("digitpad._fastpre was built with other constants (%s); using numpy", _fastpre.CONSTANTS)
        return None

    def block_mean(x: np.ndarray, k: int, divisor: float = 1.0) -> np.ndarray:
        if x.dtype != np.uint8:
            return inkmap.block_mean(x, k, divisor)
        h, w = x.shape
        out = np.empty((-(-h // k), -(-w // k)))  # (ceil(h / k), ceil(w / k))
        # (C reads any row stride at full speed: a crop of the image (ink_page's second pass) is
        # not copied first; other strides are made contiguous, for its fast path.)
        src = x if x.strides[1] == 1 else np.ascontiguousarray(x)
        _fastpre.block_mean(src, k, out, float(divisor))  # the same integer sums and divisions
        return out

    def finish(ink: np.ndarray, noise: float, min_pixels: float, zoom: bool, normalize_stroke: bool) -> fit28.Finished:
        image = np.empty((28, 28), np.uint8)
        kind, y0, y1, x0, x1, stroke = _fastpre.finish(np.ascontiguousarray(ink, dtype=np.float64), float(noise),
                                                       float(min_pixels), bool(zoom), bool(normalize_stroke), image)
        name = _KINDS[kind]
        return fit28.Finished(name, (y0, y1, x0, x1) if name != "empty" else None,
                              image if name == "done" else None, stroke)

    def stroke_width(mask: np.ndarray) -> float:
        return _fastpre.stroke_width(np.ascontiguousarray(mask, dtype=bool))  # the same integer counts

    def label_runs(n: int, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, int]:
        comp = np.empty(n, np.int64)
        k = _fastpre.label_runs(np.ascontiguousarray(a, np.int64), np.ascontiguousarray(b, np.int64), comp)
        return comp, k

    def candidate_ink(mask: np.ndarray, ink: np.ndarray, box: tuple[int, int, int, int], row: np.ndarray,
                      start: np.ndarray, end: np.ndarray) -> np.ndarray:
        y0, y1, x0, x1 = box
        out = np.empty((y1 - y0, x1 - x0))
        _fastpre.candidate_ink(mask, ink, y0, y1, x0, x1, np.ascontiguousarray(row, np.int64),
                               np.ascontiguousarray(start, np.int64), np.ascontiguousarray(end, np.int64), out)
        return out

    if not hasattr(_fastpre, "candidate_ink"):  # built before it existed: that step stays numpy until rebuilt
        log.warning("digitpad._fastpre has no candidate_ink: rebuild it with `pip install -e .`")
        candidate_ink = runs.candidate_ink
    return Engine("c", block_mean, finish, fast_png=png.AVAILABLE, stroke_width=stroke_width, label_runs=label_runs,
                  candidate_ink=candidate_ink)


def choose(name: str = "auto") -> Engine:
    """"auto": the C engine when it is built, else numpy; "c" (an error when it is not built); "numpy"."""
    if name not in NAMES:
        raise DigitpadError(f"unknown preprocessing engine {name!r}", hint=f"use one of {', '.join(NAMES)}")
    if name == "numpy":
        return NUMPY
    engine = c_engine()
    if engine is None:
        if name == "c":
            raise DigitpadError("the C preprocessing engine is not built",
                                hint="install a C compiler and re-run `pip install -e .`, or use --preprocess numpy")
        return NUMPY
    return engine


def default() -> Engine:
    """The engine used when none is passed: ``choose("auto")``."""
    return choose("auto")

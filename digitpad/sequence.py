"""The sequence model: a whole run of digits (and separators, for a model trained with them) read
at once (a CRNN + CTC), for the numbers whose touching digits the reader's cuts cannot separate.

    model = SequenceModel()                   # the shipped digitpad/models/sequence.onnx
    x = view(page)                            # a segment.Page -> (HEIGHT, w) float32, or None
    chars = model.read(x)                     # [Emitted(char, confidence, t0, t1, probs), ...]
    reading = read_sequence(page, line, model)   # a numberresult.Reading (boxes, 28x28 previews)

Its input is the reader's own view of the ink (``segment.ink_page``: paper, rulings and specks
of the scan already removed): the soft ink ``page.v`` cropped to its mask, padded by an eighth
of its height all round and area-resampled (``fit28.resample_area``, twinned in JavaScript) to
HEIGHT rows, the width in proportion (at most MAX_WIDTH columns). The network sees
(1, 1, HEIGHT, W) with W padded to a multiple of STRIDE and answers one frame per STRIDE
columns: (T = W / STRIDE, 1, classes) log-probabilities, the last class CTC's blank.

``read`` is CTC's best path: each frame's most likely class, repeats merged, blanks dropped. A
character's confidence is its best frame's probability of it; its frames t0..t1 are the run of
frames that emitted it. ``read_sequence`` gives each character the page columns between the
cuts with its neighbours (``_cut``: a gap in the ink between their frames, else midway), its
box the ink there, and its 28x28 that ink through preprocessing steps 4-10 (what the reader's
candidates go through): what the page shows for it. The number's grammar (``grammar.rankings``)
has the last word on its characters, as on the reader's. Serving only: onnxruntime + numpy, never
torch (``digitpad.seqtrain`` trains it).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .artifact import sequence_model_path
from .errors import ModelError
from .fit28 import bbox, resample_area
from .grammar import rankings
from .numberresult import Character, Reading, file_box
from .predict import onnx_session
from .segment import Line, Page, finish

HEIGHT = 32  # rows the network sees
MAX_WIDTH = 512  # columns at most (a longer line is squeezed)
STRIDE = 4  # columns per output frame (two 2x2 poolings)
KIND = "sequence"  # the metadata's "kind": a sequence model, not a 28x28 classifier
OTHER = "?"  # its class for a character that is no digit (a letter)


@dataclass
class View:
    """The network's input and where its columns lie on the page."""

    x: np.ndarray  # (HEIGHT, w) float32 in [0, 1]
    y0: int  # the page rows and columns of view pixel (0, 0)'s top-left corner, before the pad
    x0: int
    pad: int  # working px padded on each side of the crop
    scale_x: float  # view columns per working pixel


@dataclass
class Emitted:
    char: str
    confidence: float  # the best of its frames' probability of it
    t0: int  # its first and last frame (inclusive)
    t1: int
    probs: np.ndarray  # (classes,) its best frame's probabilities (the blank last)


def view(page: Page) -> View | None:
    """The page's soft ink as the network's input, or None when there is none."""
    box = bbox(page.mask)
    if box is None:
        return None
    y0, y1, x0, x1 = box
    v = page.v[y0:y1, x0:x1]
    pad = max(1, v.shape[0] // 8)  # a margin of an eighth of the ink's height all round
    v = np.pad(v, pad)
    h, w = v.shape
    s = HEIGHT / h
    w2 = max(8, min(MAX_WIDTH, round(w * s)))
    sx = s if round(w * s) <= MAX_WIDTH else w2 / w
    x = resample_area(resample_area(v, 0, HEIGHT, s, 0.0), 1, w2, sx, 0.0)  # (HEIGHT, w2)
    return View(x.astype(np.float32), y0, x0, pad, sx)


class SequenceModel:
    """Loads a digitpad sequence ``.onnx`` (its metadata: version, alphabet, input size)."""

    def __init__(self, path: str | Path | None = None, *, threads: int = 1) -> None:
        self.path = Path(path) if path is not None else sequence_model_path()
        try:
            self.model_bytes = self.path.read_bytes()
        except OSError as e:
            raise ModelError(f"cannot read the sequence model {self.path}: {e.strerror or e}",
                             hint="pass --sequence-model PATH to a digitpad sequence .onnx file") from e
        self.sha256 = hashlib.sha256(self.model_bytes).hexdigest()
        self.session, meta = onnx_session(self.model_bytes, self.path, threads)
        meta = meta or {}
        if meta.get("kind") != KIND or meta.get("input", {}).get("height") != HEIGHT:
            raise ModelError(f"{self.path} is not a digitpad sequence model of {HEIGHT} rows",
                             hint="train one with `digitpad train-sequence`")
        self.metadata = meta
        self.alphabet: str = meta["alphabet"]
        self.version: str = meta["version"]

    def frames(self, v: View) -> np.ndarray:
        """(T, classes) probabilities, one frame per STRIDE columns of ``v``."""
        h, w = v.x.shape
        x = np.zeros((1, 1, h, -(-w // STRIDE) * STRIDE), np.float32)  # (1, 1, HEIGHT, W)
        x[0, 0, :, :w] = v.x
        logp = self.session.run(None, {"image": x})[0][:, 0]  # (T, classes)
        return np.exp(logp)

    def read(self, v: View) -> list[Emitted]:
        """CTC's best path through ``frames(v)``."""
        return best_path(self.frames(v), self.alphabet)


def best_path(p: np.ndarray, alphabet: str) -> list[Emitted]:
    """(T, classes) probabilities -> the characters of the most likely frame labels."""
    blank = len(alphabet)
    best = p.argmax(1)
    out: list[Emitted] = []
    prev = blank
    for t, k in enumerate(best.tolist()):
        q = float(p[t, k])
        if k != blank and k != prev:
            out.append(Emitted(alphabet[k], q, t, t, p[t]))
        elif k != blank:
            e = out[-1]
            e.t1 = t
            if q > e.confidence:
                e.confidence, e.probs = q, p[t]
        prev = k
    return out


def _cut(cols: np.ndarray, a: Emitted, b: Emitted) -> float:
    """Where neighbours ``a`` and ``b`` part, in view columns: the first column with no ink from
    a's last frame to b's first (both included), else the midpoint between their frames. CTC
    emits a character anywhere over it, often at an edge, so the midpoint can fall inside a
    character that has a gap after it (a 5's tail given to the 1 after it); touching ones have
    no such gap, and there the midpoint parts them best. The view's blank left margin is no gap
    (CTC may emit a first character over it)."""
    first = int(np.argmax(cols > 0)) if cols.any() else len(cols)  # where the margin ends
    lo, hi = max(a.t1 * STRIDE, first), min(len(cols), (b.t0 + 1) * STRIDE)
    empty = np.flatnonzero(cols[lo:hi] == 0)
    return lo + int(empty[0]) + 0.5 if len(empty) else (a.t1 + b.t0 + 1) / 2 * STRIDE


def read_sequence(page: Page, line: Line, model: SequenceModel) -> Reading | None:
    """The page read by the sequence model as a Reading of the characters of its alphabet: digits,
    and a number's separators where its recipe had them (None: no ink, nothing read, or some of
    it no number's character: OTHER). Each character's columns run from its cut with the previous
    character to its cut with the next (``_cut``); its box is the page's ink in them; its
    ``other`` the share of OTHER in its best frame."""
    v = view(page)
    chars = model.read(v) if v is not None else []
    if not chars or any(e.char == OTHER for e in chars):
        return None
    h, w = page.mask.shape
    cols = v.x.sum(0)  # (w,) ink per view column (0: no ink at all)
    edges = [0.0] + [_cut(cols, a, b) for a, b in zip(chars, chars[1:])] + [math.inf]
    found = []  # (emitted, box, 28x28, scores, other) per character
    for e, c0, c1 in zip(chars, edges, edges[1:]):
        # view column c -> working column x0 - pad + c / scale_x
        a = max(0, int(math.floor(v.x0 - v.pad + c0 / v.scale_x)))
        b = max(a, min(w, int(math.ceil(v.x0 - v.pad + c1 / v.scale_x)))) if c1 != math.inf else w  # (no wrap below 0)
        ink = bbox(page.mask[:, a:b])
        if ink is None:
            return None  # a character over no ink: not a reading to show
        by0, by1, bx0, bx1 = ink[0], ink[1], a + ink[2], a + ink[3]
        img = finish(page.ink[by0:by1, bx0:bx1], page.noise, page.engine)
        probs = dict(zip(model.alphabet, e.probs[:-1].tolist()))  # (the blank's share out)
        total = sum(probs.values()) or 1.0
        # every character's share but OTHER's (a digits-only model's: the ten bars)
        scores = {ch: q / (total - probs.get(OTHER, 0.0)) for ch, q in probs.items() if ch != OTHER}
        found.append((e, file_box(page, by0, by1, bx0, bx1), img if img is not None else np.zeros((28, 28), np.uint8),
                      scores, probs.get(OTHER, 0.0) / total))
    out = []
    # The grammar has the last word here too, as on the reader's path ("1408) 975-3621": a straight '(' read as a 1).
    for (e, box, img, scores, other), ranked in zip(found, rankings([f[3] for f in found])):
        ch = ranked[0][0]
        conf = e.confidence if ch == e.char else scores[ch]  # (the best frame's, or the grammar's choice's share)
        out.append(Character(ch, conf, box, [kv for kv in ranked if kv[0] != ch][:3], img, scores, other))
    conf = float(np.prod([c.confidence for c in out]))
    return Reading("".join(c.char for c in out), out, conf, 0, line.aside)

"""Reading one image: file bytes -> a ``Reading`` (the 28x28 the model saw, its probabilities,
a status, timings). The one entry that the server, POST /api/feedback, the CLI and the
benches read images through.

    reader = reader_for(settings, Predictor())   # or Reader(predictor, max_pixels=..., thresholds=...)
    reading = reader.read(data)          # decode -> preprocess -> model; DigitpadError on bad input
    reading.answer()                     # the /api/predict JSON, as a dict

A model has ten digit classes, and may have more after them (``digitpad.charset``: number
symbols and ``other``). A reading shows the digits only: ``probabilities`` are the ten digit
probabilities renormalised over the digits, ``confidence`` the top one's, and
``digit_likelihood`` the total probability of the ten digit classes (1.0 for a digits-only
model). ``Thresholds`` turn them into a status, with the model's own values (chosen on
validation writers, stored in its metadata) unless the settings say otherwise.

The server's event loop splits the same work in two, so that requests arriving together share
one model run (``predict.Batcher``): ``reader.prepare(data)`` (decode + preprocess), then the
batch, then ``reader.conclude(...)``. Every failure inside reading a client's image is a
``DigitpadError`` (a 4xx), never anything else.
"""

from __future__ import annotations

import base64
import logging
import time
from dataclasses import dataclass, replace

import numpy as np

from . import engines, png, thresholds
from .decode import Decoded, decode
from .engines import Engine
from .errors import ModelError
from .predict import Batcher, Predictor
from .preprocess import Preprocessed, preprocess
from .settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Prepared:
    """An image decoded and preprocessed: what the model is about to read."""

    pre: Preprocessed  # .image: (28, 28) uint8, white ink on black
    mime: str  # the file's type, e.g. image/png
    started: float  # perf_counter times of the steps
    decoded: float
    preprocessed: float


def prepare(data: bytes, *, engine: Engine, max_pixels: int) -> Prepared:
    """File bytes -> Prepared (decode + preprocess, timed). Raises only DigitpadError."""
    t0 = time.perf_counter()
    img = decode(data, max_pixels=max_pixels, fast_png=engine.fast_png)
    return prepare_decoded(img, engine=engine, started=t0)


def prepare_decoded(img: Decoded, *, engine: Engine, started: float) -> Prepared:
    """Decoded planes -> Prepared (preprocess, timed from ``started``, when decoding began)."""
    t1 = time.perf_counter()
    pre = preprocess(img, engine)
    return Prepared(pre, img.mime, started, t1, time.perf_counter())


@dataclass(frozen=True)
class Thresholds:
    """How a reading's numbers become its status (the page, the CLI and on-device mode alike)."""

    uncertain: float = 0.6  # the top digit's (renormalised) probability below this: 'uncertain'
    not_digit: float = 0.0  # digit_likelihood below this: 'not_digit'
    doubtful: float = 0.0  # digit_likelihood below this (and not under not_digit): 'uncertain'

    @classmethod
    def of(cls, metadata: dict, *, uncertain: float | None = None, not_digit: float | None = None) -> Thresholds:
        """The model's own thresholds (metadata ``thresholds``), overridden by the ones given."""
        own = metadata.get("thresholds", {})
        t = cls(uncertain=own.get("uncertain", cls.uncertain), not_digit=own.get("not_digit", cls.not_digit),
                doubtful=own.get("doubtful_digit", cls.doubtful))
        if uncertain is not None:
            t = replace(t, uncertain=uncertain)
        if not_digit is not None:
            t = replace(t, not_digit=not_digit)
        return t

    def status(self, confidence: float, likelihood: float, *, empty: bool) -> str:
        """'empty' (no ink), 'not_digit', 'uncertain' or 'ok'."""
        if empty:
            return "empty"
        rule = {"not_digit": self.not_digit, "doubtful_digit": self.doubtful, "uncertain": self.uncertain}
        return str(thresholds.statuses([confidence], [likelihood], rule)[0])


def digit_view(probs: np.ndarray) -> tuple[np.ndarray, float]:
    """A model's (C,) float32 probabilities -> (the 10 digit probabilities renormalised over the
    digits, float32; their total before, the digit likelihood). The digits are classes 0-9."""
    if len(probs) == 10:
        return probs, 1.0
    total = np.float32(0.0)
    for p in probs[:10]:  # left to right in float32, as on-device mode sums them (numpy's sum is pairwise)
        total = np.float32(total + p)
    digits = probs[:10].astype(np.float32) / np.float32(max(total, np.float32(1e-30)))  # (10,) float32
    return digits, float(total)


def check_labels(predictor: Predictor) -> None:
    """A model the reader understands: its first ten classes are the digits 0-9."""
    if list(predictor.labels[:10]) != [str(d) for d in range(10)]:
        raise ModelError(f"{predictor.path}: its first ten classes are not the digits 0-9 ({predictor.labels[:10]})",
                         hint="serve a digitpad model (digitpad train)")


def _ms(t0: float, t1: float) -> float:
    return round((t1 - t0) * 1000, 3)


@dataclass
class Reading:
    """What the model read in one image."""

    prepared: Prepared
    probabilities: list[float]  # (10,) digit probabilities renormalised over the digits, 6 places (zeros when empty)
    digit: int | None  # the most likely digit; None when no ink was found
    confidence: float  # probability of ``digit`` (0 when empty)
    digit_likelihood: float  # total probability of the 10 digit classes (0 when empty)
    status: str  # "ok", "uncertain", "not_digit" or "empty"
    model: str  # version of the model that read it
    timing_ms: dict[str, float]  # decode, preprocess, inference, total
    t_start: float  # perf_counter time the request started (``answer`` sets the final total)

    @property
    def image(self) -> np.ndarray:
        """(28, 28) uint8: exactly what the model saw."""
        return self.prepared.pre.image

    @property
    def empty(self) -> bool:
        return self.prepared.pre.empty

    def answer(self) -> dict:
        """The /api/predict answer (``web.schemas.PredictResponse``'s fields) as a dict."""
        preview = "data:image/png;base64," + base64.b64encode(png.encode_gray(self.image)).decode("ascii")
        self.timing_ms["total"] = _ms(self.t_start, time.perf_counter())
        return {"digit": self.digit, "confidence": self.confidence, "probabilities": self.probabilities,
                "digit_likelihood": self.digit_likelihood, "status": self.status, "preview": preview,
                "model": self.model, "timing_ms": self.timing_ms}


class Reader:
    """Reads images with one model: decode -> preprocess -> model -> Reading."""

    def __init__(self, predictor: Predictor, *, engine: Engine | None = None, max_pixels: int,
                 thresholds: Thresholds | None = None) -> None:
        check_labels(predictor)
        self.predictor = predictor
        self.engine = engine or engines.default()
        self.max_pixels = max_pixels
        self.thresholds = thresholds or Thresholds.of(predictor.metadata)

    def prepare(self, data: bytes) -> Prepared:
        return prepare(data, engine=self.engine, max_pixels=self.max_pixels)

    def conclude(self, prepared: Prepared, probs: np.ndarray | None, inference_ms: float,
                 t_start: float) -> Reading:
        """The model's (C,) probabilities (None when empty) -> the Reading."""
        if probs is None:
            digit, confidence, likelihood, rounded = None, 0.0, 0.0, [0.0] * 10
        else:
            digits, likelihood = digit_view(probs)
            digit = int(digits.argmax())
            confidence, rounded = round(float(digits[digit]), 6), [round(float(v), 6) for v in digits]
            likelihood = round(likelihood, 6)
        status = self.thresholds.status(confidence, likelihood, empty=prepared.pre.empty)
        timing = {"decode": _ms(prepared.started, prepared.decoded),
                  "preprocess": _ms(prepared.decoded, prepared.preprocessed),
                  "inference": round(inference_ms, 3), "total": _ms(t_start, time.perf_counter())}
        # DEBUG: uvicorn's access log already has a line per request; this second one costs ~30 us (~2%).
        log.debug("read %s (%s, confidence %.3f) in %.2f ms", digit, status, confidence, timing["total"])
        return Reading(prepared, rounded, digit, confidence, likelihood, status, self.predictor.version, timing,
                       t_start)

    def read(self, data: bytes, t_start: float | None = None) -> Reading:
        """File bytes -> Reading, all in this thread (safe to run in worker threads)."""
        t_start = time.perf_counter() if t_start is None else t_start
        return self.finish(self.prepare(data), t_start)

    def read_decoded(self, img: Decoded, t_start: float) -> Reading:
        """``read`` of an image already decoded (``numberreading`` reads a lone character so)."""
        return self.finish(prepare_decoded(img, engine=self.engine, started=t_start), t_start)

    def finish(self, prepared: Prepared, t_start: float) -> Reading:
        """The model on a prepared image, in this thread -> Reading."""
        if prepared.pre.empty:
            return self.conclude(prepared, None, 0.0, t_start)
        probs = self.predictor.predict_batch(prepared.pre.image[None])[0]  # (C,)
        return self.conclude(prepared, probs, (time.perf_counter() - prepared.preprocessed) * 1000, t_start)

    async def read_batched(self, data: bytes, batcher: Batcher, t_start: float) -> Reading:
        """``read`` in the event loop, where images that arrive together share one model run."""
        prepared = self.prepare(data)
        if prepared.pre.empty:
            return self.conclude(prepared, None, 0.0, t_start)
        probs, inference_ms = await batcher.predict(prepared.pre.image)
        return self.conclude(prepared, probs, inference_ms, t_start)


def reader_for(settings: Settings, predictor: Predictor) -> Reader:
    """The reader the settings describe: their engine, pixel limit and threshold overrides."""
    return Reader(predictor, engine=engines.choose(settings.preprocess), max_pixels=settings.max_pixels,
                  thresholds=Thresholds.of(predictor.metadata, uncertain=settings.uncertain_threshold,
                                           not_digit=settings.not_digit_threshold))

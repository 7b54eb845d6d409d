"""Reading one image: file bytes -> a ``Reading`` (the 28x28 the model saw, its probabilities,
a status, timings). The one entry that the server, POST /api/feedback, the CLI and the
benches read images through.

    reader = Reader(predictor, engine=engines.choose("auto"), max_pixels=16_000_000, uncertain_threshold=0.6)
    reading = reader.read(data)          # decode -> preprocess -> model; DigitpadError on bad input
    reading.answer()                     # the /api/predict JSON, as a dict

The server's event loop splits the same work in two, so that requests arriving together share
one model run (``predict.Batcher``): ``reader.prepare(data)`` (decode + preprocess), then the
batch, then ``reader.conclude(...)``. Every failure inside reading a client's image is a
``DigitpadError`` (a 4xx), never anything else.
"""

from __future__ import annotations

import base64
import logging
import time
from dataclasses import dataclass

import numpy as np

from . import engines, png
from .decode import decode
from .engines import Engine
from .predict import Batcher, Predictor
from .preprocess import Preprocessed, preprocess

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
    t1 = time.perf_counter()
    pre = preprocess(img, engine)
    return Prepared(pre, img.mime, t0, t1, time.perf_counter())


def status_for(confidence: float | None, *, empty: bool, threshold: float) -> str:
    """'empty' (no ink), 'uncertain' (confidence below threshold) or 'ok'."""
    if empty:
        return "empty"
    return "uncertain" if confidence is not None and confidence < threshold else "ok"


def _ms(t0: float, t1: float) -> float:
    return round((t1 - t0) * 1000, 3)


@dataclass
class Reading:
    """What the model read in one image."""

    prepared: Prepared
    probabilities: list[float]  # (10,) digit probabilities, rounded to 6 places (zeros when empty)
    digit: int | None  # None when no ink was found
    confidence: float  # probability of ``digit`` (0 when empty)
    status: str  # "ok", "uncertain" or "empty"
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
                "status": self.status, "preview": preview, "model": self.model, "timing_ms": self.timing_ms}


class Reader:
    """Reads images with one model: decode -> preprocess -> model -> Reading."""

    def __init__(self, predictor: Predictor, *, engine: Engine | None = None, max_pixels: int,
                 uncertain_threshold: float) -> None:
        self.predictor = predictor
        self.engine = engine or engines.default()
        self.max_pixels = max_pixels
        self.uncertain_threshold = uncertain_threshold

    def prepare(self, data: bytes) -> Prepared:
        return prepare(data, engine=self.engine, max_pixels=self.max_pixels)

    def conclude(self, prepared: Prepared, probs: np.ndarray | None, inference_ms: float,
                 t_start: float) -> Reading:
        """The model's (10,) probabilities (None when empty) -> the Reading."""
        if probs is None:
            digit, confidence, rounded = None, 0.0, [0.0] * 10
        else:
            digit = int(probs.argmax())
            confidence, rounded = round(float(probs[digit]), 6), [round(float(v), 6) for v in probs]
        status = status_for(confidence, empty=prepared.pre.empty, threshold=self.uncertain_threshold)
        timing = {"decode": _ms(prepared.started, prepared.decoded),
                  "preprocess": _ms(prepared.decoded, prepared.preprocessed),
                  "inference": round(inference_ms, 3), "total": _ms(t_start, time.perf_counter())}
        # DEBUG: uvicorn's access log already has a line per request; this second one costs ~30 us (~2%).
        log.debug("read %s (%s, confidence %.3f) in %.2f ms", digit, status, confidence, timing["total"])
        return Reading(prepared, rounded, digit, confidence, status, self.predictor.version, timing, t_start)

    def read(self, data: bytes, t_start: float | None = None) -> Reading:
        """File bytes -> Reading, all in this thread (safe to run in worker threads)."""
        t_start = time.perf_counter() if t_start is None else t_start
        prepared = self.prepare(data)
        if prepared.pre.empty:
            return self.conclude(prepared, None, 0.0, t_start)
        probs = self.predictor.predict_batch(prepared.pre.image[None])[0]  # (10,)
        return self.conclude(prepared, probs, (time.perf_counter() - prepared.preprocessed) * 1000, t_start)

    async def read_batched(self, data: bytes, batcher: Batcher, t_start: float) -> Reading:
        """``read`` in the event loop, where images that arrive together share one model run."""
        prepared = self.prepare(data)
        if prepared.pre.empty:
            return self.conclude(prepared, None, 0.0, t_start)
        probs, inference_ms = await batcher.predict(prepared.pre.image)
        return self.conclude(prepared, probs, inference_ms, t_start)

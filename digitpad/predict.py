"""Predict digits with the exported ONNX model: onnxruntime + numpy only, never torch.

    p = Predictor()                       # the shipped model (its int8 twin, see default_model_path)
    p.predict(img28)                      # img28: (28, 28) uint8, white ink on black
    p.predict_batch(batch)                # (N, 28, 28) uint8 -> (N, 10) probabilities

A Predictor is safe to share between threads: ``InferenceSession.run`` is thread-safe and
the object holds no per-call state.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .artifact import METADATA_KEY, default_model_path
from .errors import ModelError

if TYPE_CHECKING:
    import asyncio

def onnx_session(model_bytes: bytes, path: Path, threads: int, hint: str | None = None) -> tuple[Any, dict | None]:
    """An ONNX Runtime session on a model file's bytes, set up for serving (``threads`` intra-op,
    one inter-op, sequential, all graph optimisations), and the file's digitpad metadata (None:
    it has none). ModelError (with ``hint``) when the bytes are no loadable ONNX model."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    try:
        session = ort.InferenceSession(model_bytes, opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own exception types for bad files
        raise ModelError(f"{path} is not a loadable ONNX model ({type(e).__name__})", hint=hint) from e
    raw = session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
    return session, json.loads(raw) if raw is not None else None


@dataclass(frozen=True)
class Prediction:
    digit: int
    confidence: float
    probabilities: list[float]


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class Predictor:
    """Loads a digitpad ``.onnx`` file; exposes its metadata and predicts 28x28 images.

    ``threads`` is onnxruntime's intra-op thread count. 1 is best for serving (the model
    is tiny, and parallelism comes from requests/workers, not from splitting one image);
    use 0 (onnxruntime's default: all cores) for big offline batches.

    The file is read once: ``model_bytes`` are the bytes the session was built from (the
    server hands exactly those to browsers for on-device reading, whatever happens to the
    file later), ``sha256`` their hash.
    """

    def __init__(self, path: str | Path | None = None, *, threads: int = 1) -> None:
        self.path = Path(path) if path is not None else default_model_path()
        if not self.path.is_file():
            raise ModelError(f"model file not found: {self.path}", hint="pass --model PATH to a digitpad .onnx file")
        try:
            self.model_bytes = self.path.read_bytes()
        except OSError as e:
            raise ModelError(f"cannot read the model file {self.path}: {e.strerror or e}") from e
        self.sha256 = hashlib.sha256(self.model_bytes).hexdigest()
        self.session, metadata = onnx_session(self.model_bytes, self.path, threads,
                                              hint="pass --model PATH to a digitpad .onnx file")
        if metadata is None:
            raise ModelError(f"{self.path} has no digitpad metadata", hint="export models with `digitpad train`")
        self.metadata: dict = metadata
        norm = self.metadata["normalization"]
        self._scale = np.float32(norm["scale"] / norm["std"])
        self._shift = np.float32(norm["mean"] / norm["std"])
        self._input = self.metadata["input"]["name"]
        self._output = self.metadata["output"]["name"]

    @property
    def version(self) -> str:
        return self.metadata["version"]

    @cached_property
    def labels(self) -> list[str]:
        return list(self.metadata.get("labels", [str(i) for i in range(10)]))

    @property
    def input_name(self) -> str:
        return self._input

    def model_input(self, images: np.ndarray) -> np.ndarray:
        """(N, 28, 28) uint8 or float in [0, 255] -> (N, 1, 28, 28) float32, normalised."""
        x = np.asarray(images)
        if x.ndim == 2:
            x = x[None]
        if x.ndim != 3 or x.shape[1:] != (28, 28):
            raise ValueError(f"expected (N, 28, 28) images, got {x.shape}")
        # (pixel / 255 - mean) / std, folded into one multiply-add.
        return (x.astype(np.float32) * self._scale - self._shift)[:, None, :, :]

    def logits(self, images: np.ndarray) -> np.ndarray:
        """(N, 28, 28) uint8 or float in [0, 255] -> (N, 10) float32 logits."""
        return self.session.run([self._output], {self._input: self.model_input(images)})[0]

    def predict_batch(self, images: np.ndarray) -> np.ndarray:
        """(N, 28, 28) -> (N, 10) float32 probabilities."""
        return softmax(self.logits(images)).astype(np.float32)

    def predict(self, image: np.ndarray) -> Prediction:
        """One (28, 28) image -> its Prediction."""
        return prediction_of(self.predict_batch(np.asarray(image)[None])[0])


def prediction_of(p: np.ndarray) -> Prediction:
    """One row of ``predict_batch`` (10,) -> its Prediction."""
    d = int(p.argmax())
    return Prediction(digit=d, confidence=float(p[d]), probabilities=[float(v) for v in p])


class Batcher:
    """Images that arrive together share one model run: ``await batcher.predict(img28)``.

    For one asyncio event loop (a server worker). A busy worker finds several requests ready
    at once (every connection whose bytes came in the same wake-up): each request decodes and
    preprocesses its image, queues it here and waits; the first one queued schedules the run
    for right after them, so the model reads them all in one ``predict_batch``. That pays
    onnxruntime's per-run overhead once and finds the weights still in cache: 0.1-0.2 ms less CPU
    per request under load (BENCHMARKS.md). A lone request is a batch of one, one loop turn
    later. The int8 model's answers do not depend on the batch (a test holds them equal).
    """

    def __init__(self, predictor: Predictor, max_batch: int = 32) -> None:
        self.predictor = predictor
        self.max_batch = max_batch
        self._queue: list[tuple[np.ndarray, asyncio.Future]] = []  # (28, 28) images waiting

    async def predict(self, image: np.ndarray) -> tuple[np.ndarray, float]:
        """One (28, 28) image -> (its probabilities (C,), ms of model time per image of its batch)."""
        import asyncio  # here: `digitpad predict` never needs it

        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.append((image, future))
        if len(self._queue) == 1:
            loop.call_soon(self._run, loop)
        return await future

    def _run(self, loop: asyncio.AbstractEventLoop) -> None:
        batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch:]
        if self._queue:  # more than one batch waiting: the rest gets its own run, next loop turn
            loop.call_soon(self._run, loop)
        batch = [(image, future) for image, future in batch if not future.done()]  # done: timed out
        if not batch:
            return
        t = time.perf_counter()
        try:
            probs = self.predictor.predict_batch(np.stack([image for image, _ in batch]))  # (N, 10)
        except Exception as exc:  # each waiting request answers it (a 500), none hangs
            for _, future in batch:
                future.set_exception(exc)
            return
        ms = (time.perf_counter() - t) * 1000 / len(batch)
        for (_, future), p in zip(batch, probs):
            future.set_result((p, ms))

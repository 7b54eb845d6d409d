"""Reading many image files at once (``digitpad predict``): decoding processes feed a batched model.

    rows = read_files(reader, paths, batch_size=256, jobs=0)   # one dict per path, in order

Each file goes through ``reading.prepare`` (decode + preprocess, the one path every reading
takes) in a pool of processes, while this process runs the model on batches as they fill.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from . import engines
from .errors import DigitpadError
from .reading import Reader, digit_view, prepare

SMALL_FILE_BYTES = 2048


def default_jobs(paths: list[Path]) -> int:
    """Decoding processes for ``read_files``: one per core, but one fewer when the files are
    small (median of a sample <= SMALL_FILE_BYTES, e.g. 28x28 scans). Those decode faster than
    the model reads them (~0.2 ms an image, in this process, one onnxruntime thread), so this
    process needs a core to itself; a 280x280 canvas or a photo takes longer to decode than to read."""
    cores = os.cpu_count() or 1
    sample = paths[:: max(1, len(paths) // 32)][:32]
    sizes = [p.stat().st_size for p in sample if p.is_file()]
    small = bool(sizes) and statistics.median(sizes) <= SMALL_FILE_BYTES
    return max(1, cores - 1) if small else cores


def _load_one(job: tuple[str, str, int]) -> tuple[np.ndarray | None, bool, str | None]:
    """Read + preprocess one file (runs in worker processes): (image28, empty, error)."""
    path, engine, max_pixels = job
    try:
        pre = prepare(Path(path).read_bytes(), engine=engines.choose(engine), max_pixels=max_pixels).pre
    except DigitpadError as e:
        return None, False, e.message
    except OSError as e:
        return None, False, e.strerror or str(e)
    return pre.image, pre.empty, None


def read_files(reader: Reader, paths: list[Path], *, batch_size: int = 256, jobs: int = 0) -> list[dict]:
    """Read many image files: decode/preprocess in ``jobs`` processes (0: ``default_jobs``),
    predict in batches of ``batch_size`` meanwhile.

    Returns one dict per path, in order: file, digit, confidence, digit_likelihood, status,
    probabilities (the ten digits'), and error (for files that could not be read; their status is 'error').
    """
    jobs = jobs or default_jobs(paths)
    work = [(str(p), reader.engine.name, reader.max_pixels) for p in paths]
    rows: list[dict] = [{"file": str(p), "digit": None, "confidence": None, "digit_likelihood": None,
                         "status": "error", "probabilities": None, "error": None} for p in paths]
    pending: list[tuple[int, np.ndarray]] = []  # (row, 28x28 image) waiting for a batch

    def flush() -> None:
        probs = reader.predictor.predict_batch(np.stack([img for _, img in pending]))  # (B, C)
        for (i, _), p in zip(pending, probs):
            digits, likelihood = digit_view(p)
            d = int(digits.argmax())
            rows[i].update(digit=d, confidence=float(digits[d]), digit_likelihood=round(likelihood, 6),
                           probabilities=[round(float(v), 6) for v in digits],
                           status=reader.thresholds.status(float(digits[d]), likelihood, empty=False))
        pending.clear()

    def take(results: Iterable[tuple[np.ndarray | None, bool, str | None]]) -> None:
        # Each batch is predicted as soon as it fills, while the workers go on decoding: the
        # int8 model costs ~0.2 ms an image even in batches, as much as decoding a small PNG.
        for i, (img, empty, err) in enumerate(results):
            if err is not None:
                rows[i]["error"] = err
            elif empty:
                rows[i]["status"] = "empty"
            else:
                pending.append((i, img))
                if len(pending) >= batch_size:
                    flush()
        if pending:
            flush()

    if len(work) >= 64:  # (fewer: not worth starting processes)
        with ProcessPoolExecutor(jobs) as pool:
            take(pool.map(_load_one, work, chunksize=64))  # in order, each as soon as it is ready
    else:
        take(map(_load_one, work))
    return rows

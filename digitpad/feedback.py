"""Stored feedback as training data: load it as arrays, export it as npz, IDX or PNG folders.

    digitpad feedback add --label 7 digit.png [more.png ...]
    digitpad feedback stats [--json]
    digitpad feedback export --format npz feedback.npz
    digitpad feedback export --format idx OUT_DIR        # feedback-{images-idx3,labels-idx1}-ubyte.gz
    digitpad feedback export --format png-dir OUT_DIR    # OUT_DIR/<label>/<id>.png

Images are re-made from the original bytes by ``digitpad.preprocess`` (the current pipeline,
the one the server and training use), so exported arrays match what a model trained on them
will be served. ``stored=True`` exports the 28x28 kept at collection time instead (what the
model of the day saw). numpy + Pillow only: no torch.
"""

from __future__ import annotations

import gzip
import io
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import DigitpadError, InvalidImage
from .preprocess import preprocess_bytes
from .reading import Reader
from .store import FeedbackStore

log = logging.getLogger(__name__)

FORMATS = ("npz", "idx", "png-dir")
IDX_IMAGES = "feedback-images-idx3-ubyte"
IDX_LABELS = "feedback-labels-idx1-ubyte"


@dataclass
class FeedbackSet:
    ids: np.ndarray  # (N,) int64, ascending
    images: np.ndarray  # (N, 28, 28) uint8, white ink on black
    labels: np.ndarray  # (N,) uint8
    skipped: int = 0  # rows the current preprocessing found empty or unreadable

    def __len__(self) -> int:
        return len(self.ids)


def load_feedback(store: FeedbackStore, *, stored: bool = False, max_pixels: int = 40_000_000) -> FeedbackSet:
    """Every row as arrays, oldest first. Rows the current preprocessing rejects are skipped
    (and counted): a correction nobody can read again is not training data."""
    ids: list[int] = []
    images: list[np.ndarray] = []
    labels: list[int] = []
    skipped = 0
    for row in store.iter_for_export():
        if stored:
            img = row.image28
        else:
            try:
                pre = preprocess_bytes(row.image, max_pixels=max_pixels)
            except DigitpadError as e:
                log.warning("feedback %d: cannot preprocess its image (%s); skipped", row.id, e.message)
                skipped += 1
                continue
            if pre.empty:
                log.warning("feedback %d: no ink after preprocessing; skipped", row.id)
                skipped += 1
                continue
            img = pre.image
        ids.append(row.id)
        images.append(img)
        labels.append(row.label)
    return FeedbackSet(
        ids=np.asarray(ids, dtype=np.int64),
        images=np.stack(images).astype(np.uint8) if images else np.zeros((0, 28, 28), np.uint8),
        labels=np.asarray(labels, dtype=np.uint8),
        skipped=skipped,
    )


# ---------------------------------------------------------------- recording


def record(store: FeedbackStore, reader: Reader, *, data: bytes, label: int, source: str) -> int:
    """Store one correction: read ``data`` exactly as /api/predict does (the same ``Reader``: decode,
    preprocess, the live model, so predicted/confidence/probabilities/model are the server's own,
    not a client's), and insert the row. Returns its id once committed."""
    reading = reader.read(data)  # DigitpadError (a 4xx) for anything a client can send
    if reading.empty:
        raise InvalidImage("the image has no ink: nothing to learn from", code="empty_image")
    return store.add(label=label, image_bytes=data, content_type=reading.prepared.mime, image28=reading.image,
                     predicted=reading.digit, confidence=reading.confidence,
                     probabilities=reading.probabilities, model_version=reading.model, source=source)


# ---------------------------------------------------------------- writers


def _atomic_write(path: Path, data: bytes) -> None:
    """Write via a temp file + rename, so an interrupted export never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def idx_bytes(array: np.ndarray) -> bytes:
    """uint8 array -> IDX bytes: magic 0x0000 08 <ndim>, each dim as big-endian uint32, data."""
    a = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, a.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in a.shape)
    return header + a.tobytes()


def write_npz(fs: FeedbackSet, out: Path) -> list[Path]:
    buf = io.BytesIO()
    np.savez_compressed(buf, images=fs.images, labels=fs.labels, ids=fs.ids)
    _atomic_write(out, buf.getvalue())
    return [out]


def write_idx(fs: FeedbackSet, out: Path, *, gz: bool = True) -> list[Path]:
    """Two standard IDX files in ``out`` (readable by ``digitpad.data.parse_idx``)."""
    suffix = ".gz" if gz else ""
    paths = []
    for name, arr in ((IDX_IMAGES, fs.images), (IDX_LABELS, fs.labels)):
        data = idx_bytes(arr)
        if gz:
            data = gzip.compress(data, mtime=0)
        p = out / (name + suffix)
        _atomic_write(p, data)
        paths.append(p)
    return paths


def write_png_dir(fs: FeedbackSet, out: Path) -> list[Path]:
    """``out/<label>/<id>.png``: 28x28 grayscale, white ink on black (like MNIST)."""
    from PIL import Image

    paths = []
    for fid, img, label in zip(fs.ids, fs.images, fs.labels, strict=True):
        p = out / str(int(label)) / f"{int(fid)}.png"
        buf = io.BytesIO()
        Image.fromarray(img, "L").save(buf, "PNG")
        _atomic_write(p, buf.getvalue())
        paths.append(p)
    return paths


def export(store: FeedbackStore, fmt: str, out: str | Path, *, gz: bool = True, stored: bool = False,
           max_pixels: int = 40_000_000) -> tuple[FeedbackSet, list[Path]]:
    """Export every row in ``fmt`` to ``out`` (a file for npz, a folder otherwise)."""
    if fmt not in FORMATS:
        raise DigitpadError(f"unknown export format {fmt!r}", hint=f"use one of {', '.join(FORMATS)}")
    out = Path(out)
    if fmt == "npz" and out.is_dir():
        raise DigitpadError(f"{out} is a folder; npz export writes one file", hint="give a path like feedback.npz")
    if fmt != "npz" and out.exists() and not out.is_dir():
        raise DigitpadError(f"{out} is a file; {fmt} export writes a folder", hint="give a folder path")
    fs = load_feedback(store, stored=stored, max_pixels=max_pixels)
    if fmt == "npz":
        paths = write_npz(fs, out)
    elif fmt == "idx":
        paths = write_idx(fs, out, gz=gz)
    else:
        paths = write_png_dir(fs, out)
    return fs, paths


# ---------------------------------------------------------------- stats, for people


def format_stats(st: dict) -> str:
    """``FeedbackStore.stats()`` as the text ``digitpad feedback stats`` prints."""
    lines = []
    sources = ", ".join(f"{k} {v:,}" for k, v in sorted(st["by_source"].items()))
    lines.append(f"feedback: {st['total']:,} rows" + (f" ({sources})" if sources else ""))
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

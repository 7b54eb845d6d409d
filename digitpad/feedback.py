"""Stored feedback as training data: load it as arrays, export it as npz, IDX or PNG folders.

    digitpad feedback add --label 7 digit.png [more.png ...]
    digitpad feedback stats [--json]
    digitpad feedback export --format npz feedback.npz
    digitpad feedback export --format idx OUT_DIR        # feedback-{images-idx3,labels-idx1}-ubyte.gz
    digitpad feedback export --format png-dir OUT_DIR    # OUT_DIR/<label>/<id>.png, numbers' characters n<id>-<k>.png

A correction is stored as the server re-encodes it, never as the bytes that were sent
(``prepare_correction``): the decoded planes (gray, and alpha when the image has one), as a PNG
of at most ``STORED_MAX_SIDE`` pixels a side (a larger image is first cropped to the ink with a
margin of half the digit's size) and at most ``STORED_MAX_BYTES`` (a 2.8 KB drawing with 10 MB of junk appended is stored as a
few KB). The row's reading (predicted digit, confidence, probabilities, model) is the server's
own reading of that stored image, so what is stored is exactly what was read.

Training data is quarantined (``digitpad.curation``): ``load_feedback`` gives accepted rows by
default. Images are re-made from the stored PNG by ``digitpad.preprocess`` (the current
pipeline, the one the server and training use), so exported arrays match what a model trained
on them will be served. ``stored=True`` exports the 28x28 kept at collection time instead (what
the model of the day saw). numpy + Pillow only: no torch.
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
from PIL import Image

from .curation import agrees
from .decode import decode
from .errors import DigitpadError, InvalidImage
from .numbercrops import NumberCrops, number_crops
from .preprocess import preprocess, preprocess_bytes
from .reading import Reader, Reading
from .store import FeedbackStore

log = logging.getLogger(__name__)

FORMATS = ("npz", "idx", "png-dir")
# Which rows are training data: accepted ones, or (agreeing) also pending rows whose stored
# reading found the label plausible (curation.agrees); "all" is for exports only.
TRAINING_SETS = ("accepted", "agreeing")
STORED_MAX_SIDE = 512
STORED_MAX_BYTES = 256 * 1024
IDX_IMAGES = "feedback-images-idx3-ubyte"
IDX_LABELS = "feedback-labels-idx1-ubyte"


@dataclass
class FeedbackSet:
    ids: np.ndarray  # (N,) int64: the row (digit rows first, ascending; then number rows' crops)
    images: np.ndarray  # (N, 28, 28) uint8, white ink on black
    labels: np.ndarray  # (N,) uint8: class index (charset.CLASSES: a digit's is the digit)
    skipped: int = 0  # rows (or characters) the current preprocessing found empty or unreadable
    # (N,) int16: -1 for a digit row (the whole image); k for the k-th character of a number row
    positions: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.positions is None:
            self.positions = np.full(len(self.ids), -1, np.int16)

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, keep: np.ndarray) -> FeedbackSet:
        """The images where ``keep`` ((N,) bool) is true."""
        return FeedbackSet(ids=self.ids[keep], images=self.images[keep], labels=self.labels[keep],
                           skipped=self.skipped, positions=self.positions[keep])

    def with_crops(self, crops: NumberCrops) -> FeedbackSet:
        """These rows, then a corrected number's per-character crops (``digitpad.numbercrops``)."""
        return FeedbackSet(ids=np.concatenate([self.ids, crops.ids]),
                           images=np.concatenate([self.images, crops.images]),
                           labels=np.concatenate([self.labels, crops.labels]), skipped=self.skipped + crops.skipped,
                           positions=np.concatenate([self.positions, crops.positions]).astype(np.int16))


def _selected(store: FeedbackStore, which: str):  # noqa: ANN202 (an iterator of ExportRow)
    """The rows of ``which``: "accepted", "agreeing" (accepted + pending rows that pass the
    agreement check), "all", or one review state."""
    if which == "all":
        yield from store.iter_for_export()
    elif which == "agreeing":
        for row in store.iter_for_export(review=("accepted", "pending")):
            if row.review == "accepted" or agrees(row.label, row.probabilities):
                yield row
    else:
        yield from store.iter_for_export(review=(which,))


def load_feedback(store: FeedbackStore, *, stored: bool = False, max_pixels: int = 40_000_000,
                  which: str = "accepted", numbers: bool = True) -> FeedbackSet:
    """The rows of ``which`` (default: accepted ones, see ``_selected``) as arrays, oldest first,
    then (``numbers``) each character of the corrected numbers of ``which``, cut by its box
    (``numbercrops.number_crops``; not with ``stored``: no 28x28 was kept for a character).
    Rows the current preprocessing rejects are skipped (and counted): a correction nobody can
    read again is not training data."""
    ids: list[int] = []
    images: list[np.ndarray] = []
    labels: list[int] = []
    skipped = 0
    for row in _selected(store, which):
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
    fs = FeedbackSet(
        ids=np.asarray(ids, dtype=np.int64),
        images=np.stack(images).astype(np.uint8) if images else np.zeros((0, 28, 28), np.uint8),
        labels=np.asarray(labels, dtype=np.uint8),
        skipped=skipped,
    )
    if numbers and not stored:
        fs = fs.with_crops(number_crops(store, which=which, max_pixels=max_pixels))
    return fs


# ---------------------------------------------------------------- recording


@dataclass
class Correction:
    """An image made ready to store: its re-encoding and the server's reading of it."""

    png: bytes  # what the store keeps
    reading: Reading  # of ``png``


def _encode_stored(gray: np.ndarray, alpha: np.ndarray | None) -> tuple[bytes, tuple[int, int]]:
    """(H, W) uint8 planes -> a PNG of at most STORED_MAX_SIDE a side and STORED_MAX_BYTES
    (noise does not compress: such an image is halved until it fits), and its (width, height)."""
    im = Image.fromarray(gray, "L") if alpha is None else Image.merge(
        "LA", (Image.fromarray(gray, "L"), Image.fromarray(alpha, "L")))
    side = STORED_MAX_SIDE
    while True:
        small = im.copy()
        small.thumbnail((side, side), Image.Resampling.LANCZOS)  # (LA: resampled with premultiplied alpha)
        buf = io.BytesIO()
        small.save(buf, "PNG", compress_level=6)
        if buf.tell() <= STORED_MAX_BYTES or side <= 32:
            return buf.getvalue(), small.size
        side //= 2


@dataclass
class Stored:
    """What the store keeps of a client's image: the server's re-encoding, and where it came from."""

    png: bytes
    size: tuple[int, int]  # (width, height) of the client's image, in its file's pixels
    origin: tuple[float, float] = (0.0, 0.0)  # the stored image's top-left corner, in file pixels
    factor: float = 1.0  # stored pixels per file pixel (a crop may have been shrunk to fit)
    stored_size: tuple[int, int] = (0, 0)  # (width, height) of the PNG

    def box_to_stored(self, box: list[int]) -> list[int] | None:
        """A box [x, y, w, h] in the client's image's pixels -> the stored image's pixels (None
        when it falls outside the stored crop)."""
        x0, y0 = (box[0] - self.origin[0]) * self.factor, (box[1] - self.origin[1]) * self.factor
        x1, y1 = x0 + box[2] * self.factor, y0 + box[3] * self.factor
        sw, sh = self.stored_size
        x0, y0, x1, y1 = max(0, round(x0)), max(0, round(y0)), min(sw, round(x1)), min(sh, round(y1))
        return [x0, y0, x1 - x0, y1 - y0] if x1 > x0 and y1 > y0 else None


def reencode(reader: Reader, data: bytes) -> Stored:
    """Client bytes -> the image the store keeps (digits' and numbers' corrections alike).
    DigitpadError (a 4xx) for anything a client can send; ``empty_image`` for no ink."""
    img = decode(data, max_pixels=reader.max_pixels, fast_png=reader.engine.fast_png)
    pre = preprocess(img, reader.engine)
    if pre.empty or pre.bbox is None:
        raise InvalidImage("the image has no ink: nothing to learn from", code="empty_image")
    crop, top, left = img, 0, 0
    H, W = img.shape
    if max(H, W) > STORED_MAX_SIDE:  # (a drawing from the page fits: stored whole, read identically)
        # The ink box (file pixels) -> decoded pixels, grown by half the digit's size on each side.
        x0, y0, x1, y1 = (round(v / img.scale) for v in pre.bbox)
        m = max(x1 - x0, y1 - y0) // 2 + 4
        top, left = max(0, y0 - m), max(0, x0 - m)
        crop = img.crop(top, min(H, y1 + m), left, min(W, x1 + m))
    png, (sw, sh) = _encode_stored(np.ascontiguousarray(crop.gray()),
                                   None if crop.alpha is None else np.ascontiguousarray(crop.alpha))
    return Stored(png, (round(W * img.scale), round(H * img.scale)), (left * img.scale, top * img.scale),
                  sw / (crop.shape[1] * img.scale), (sw, sh))


def prepare_correction(reader: Reader, data: bytes) -> Correction:
    """Client bytes -> the image the store keeps, and the reading of it (CPU only: the server runs
    this in its decode slot, and writes the row outside it). DigitpadError (a 4xx) for anything a
    client can send; ``empty_image`` for an image with no ink."""
    png = reencode(reader, data).png
    reading = reader.read(png)
    if reading.empty:  # (the crop holds the ink that was found: only a pathological image gets here)
        raise InvalidImage("the image has no ink: nothing to learn from", code="empty_image")
    return Correction(png, reading)


def store_correction(store: FeedbackStore, correction: Correction, *, label: int, source: str) -> int:
    """Insert the row (pending review); returns its id once committed."""
    r = correction.reading
    return store.add(label=label, image_bytes=correction.png, content_type="image/png", image28=r.image,
                     predicted=r.digit, confidence=r.confidence, probabilities=r.probabilities,
                     model_version=r.model, source=source)


def record(store: FeedbackStore, reader: Reader, *, data: bytes, label: int, source: str) -> int:
    """Store one correction: ``prepare_correction`` then ``store_correction``. Returns its id."""
    return store_correction(store, prepare_correction(reader, data), label=label, source=source)


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
    np.savez_compressed(buf, images=fs.images, labels=fs.labels, ids=fs.ids, positions=fs.positions)
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
    """``out/<label>/<id>.png`` (a number's character: ``out/<label>/n<id>-<k>.png``, its k-th),
    28x28 grayscale, white ink on black (like MNIST). ``label`` is the class index (a digit's is
    the digit; ``-`` is 10 ... ``%`` 19: charset.CLASSES), a name every file system takes."""
    paths = []
    for fid, img, label, k in zip(fs.ids, fs.images, fs.labels, fs.positions, strict=True):
        p = out / str(int(label)) / (f"{int(fid)}.png" if k < 0 else f"n{int(fid)}-{int(k)}.png")
        buf = io.BytesIO()
        Image.fromarray(img, "L").save(buf, "PNG")
        _atomic_write(p, buf.getvalue())
        paths.append(p)
    return paths


def export(store: FeedbackStore, fmt: str, out: str | Path, *, gz: bool = True, stored: bool = False,
           max_pixels: int = 40_000_000, which: str = "all") -> tuple[FeedbackSet, list[Path]]:
    """Export the rows of ``which`` (default: every row) in ``fmt`` to ``out`` (a file for npz,
    a folder otherwise)."""
    if fmt not in FORMATS:
        raise DigitpadError(f"unknown export format {fmt!r}", hint=f"use one of {', '.join(FORMATS)}")
    out = Path(out)
    if fmt == "npz" and out.is_dir():
        raise DigitpadError(f"{out} is a folder; npz export writes one file", hint="give a path like feedback.npz")
    if fmt != "npz" and out.exists() and not out.is_dir():
        raise DigitpadError(f"{out} is a file; {fmt} export writes a folder", hint="give a folder path")
    fs = load_feedback(store, stored=stored, max_pixels=max_pixels, which=which)
    if fmt == "npz":
        paths = write_npz(fs, out)
    elif fmt == "idx":
        paths = write_idx(fs, out, gz=gz)
    else:
        paths = write_png_dir(fs, out)
    return fs, paths

"""Corrected numbers as training data: each character cut out by its box, labelled with its class.

    crops = number_crops(store, which="accepted")   # NumberCrops: (N, 28, 28) images, (N,) class labels
    crops.ids, crops.positions                      # the row each crop came from, and its place in the string

A stored number (``store.numbers``) keeps the typed string and one box per character (pixels of
the stored image, ``digitpad.numberfeedback``). Each box goes through the one preprocessing
(``preprocess.preprocess_box``: the box's pixels alone on paper, then the same steps as any
image), so a crop is what the model would be served for that character. Labels are class indices
(``charset.CLASSES``: a digit's index is the digit; ``-`` is 10 ... ``%`` 19). Rows without boxes,
and boxes the preprocessing finds empty, are skipped and counted. Which rows: as for digits
(``feedback.load_feedback``): accepted ones by default, or also pending rows that pass the
agreement check (``curation.agrees_number``). numpy + Pillow only: no torch.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from .charset import class_index
from .curation import agrees_number
from .decode import decode
from .errors import DigitpadError
from .preprocess import preprocess_box
from .rows import NumberRecord
from .store import FeedbackStore

log = logging.getLogger(__name__)


@dataclass
class NumberCrops:
    ids: np.ndarray  # (N,) int64: the number row each crop came from
    positions: np.ndarray  # (N,) int16: which character of its string (spaces aside), from 0
    images: np.ndarray  # (N, 28, 28) uint8, white ink on black
    labels: np.ndarray  # (N,) uint8: class index (charset.CLASSES)
    skipped: int = 0  # characters that could not be cut (a row without boxes counts each of its characters)

    def __len__(self) -> int:
        return len(self.ids)


def selected_numbers(store: FeedbackStore, which: str) -> Iterator[NumberRecord]:
    """The number rows of ``which``: "accepted", "agreeing" (accepted + pending rows that pass
    the agreement check), "all", or one review state."""
    if which == "all":
        yield from store.numbers.iter_for_export()
    elif which == "agreeing":
        for row in store.numbers.iter_for_export(review=("accepted", "pending")):
            if row.review == "accepted" or agrees_number(row.text, row.read_scores):
                yield row
    else:
        yield from store.numbers.iter_for_export(review=(which,))


def number_crops(store: FeedbackStore, *, which: str = "accepted", max_pixels: int = 40_000_000) -> NumberCrops:
    """Every character of the rows of ``which``, cut by its box and preprocessed, oldest row first."""
    ids: list[int] = []
    positions: list[int] = []
    images: list[np.ndarray] = []
    labels: list[int] = []
    skipped = 0
    for row in selected_numbers(store, which):
        chars = row.characters
        if row.boxes is None or len(row.boxes) != len(chars):
            log.warning("number feedback %d: no box per character; not cut", row.id)
            skipped += len(chars)
            continue
        try:
            img = decode(row.image, max_pixels=max_pixels)
        except DigitpadError as e:
            log.warning("number feedback %d: cannot decode its image (%s); skipped", row.id, e.message)
            skipped += len(chars)
            continue
        for k, (char, box) in enumerate(zip(chars, row.boxes, strict=True)):
            try:
                pre = preprocess_box(img, box)
            except DigitpadError as e:
                log.warning("number feedback %d, character %d: %s; skipped", row.id, k, e.message)
                skipped += 1
                continue
            if pre.empty:
                skipped += 1
                continue
            ids.append(row.id)
            positions.append(k)
            images.append(pre.image)
            labels.append(class_index(char))
    return NumberCrops(
        ids=np.asarray(ids, dtype=np.int64),
        positions=np.asarray(positions, dtype=np.int16),
        images=np.stack(images).astype(np.uint8) if images else np.zeros((0, 28, 28), np.uint8),
        labels=np.asarray(labels, dtype=np.uint8),
        skipped=skipped,
    )

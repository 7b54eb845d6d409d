"""What reading a whole number gives, and what it needs from a model.

``numbers.read_number`` returns a ``Reading``: the string and its ``Character`` s, each with its
box in the file's pixels, confidence, next best characters, every character's score and the
28x28 the model read. The model is anything ``Classifier``-shaped: ``predict_batch`` and
``labels`` (today's ``predict.Predictor``, or a test's stand-in).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from .level import to_file
from .segment import Page


class Classifier(Protocol):
    """What the reader needs from a model: ``predict_batch`` (N, 28, 28) uint8 -> (N, C)
    probabilities, and the C class names (``labels``: "0".."9", symbols, "other")."""

    labels: list[str]

    def predict_batch(self, images: np.ndarray) -> np.ndarray: ...


@dataclass
class Character:
    char: str
    confidence: float
    box: tuple[int, int, int, int]  # (x, y, w, h) in the file's pixels
    alternatives: list[tuple[str, float]]  # the next best characters and their scores
    image: np.ndarray  # (28, 28) uint8: what the model saw
    scores: dict[str, float] = field(default_factory=dict)  # every character's score (the ten bars)
    other: float | None = None  # the model's P(other) for ``image`` (None: the model did not read it)


@dataclass
class Reading:
    text: str
    characters: list[Character] = field(default_factory=list)
    confidence: float = 0.0  # the product of the characters' confidences
    candidates: int = 0  # images the model read
    aside: int = 0  # pieces of ink set aside as no character's (a frame around the number, an underline)


def file_box(page: Page, y0: int, y1: int, x0: int, x1: int) -> tuple[int, int, int, int]:
    """Working rows y0..y1 and columns x0..x1 of ``page`` -> a Character's box: (x, y, w, h) in the file's pixels
    (on a page turned level, the box around the four corners turned back)."""
    s, (ox, oy) = page.scale, page.origin
    if page.turn is None:
        return int(ox + x0 * s), int(oy + y0 * s), int(math.ceil((x1 - x0) * s)), int(math.ceil((y1 - y0) * s))
    xs, ys = to_file(page, np.array([x0, x1, x0, x1], np.float64), np.array([y0, y0, y1, y1], np.float64))
    left, top = int(max(0.0, xs.min())), int(max(0.0, ys.min()))
    return left, top, int(math.ceil(xs.max() - left)), int(math.ceil(ys.max() - top))

"""Accuracy figures, computed one way for every model file: overall and per class (numpy only).

Training, ensembles, fine-tuning and quantization all store their test figures through
``report``, so a model's metadata means the same thing whichever command wrote it. A set of
digits (MNIST) is read as the API reads a digit: the argmax over the ten digit classes, whatever
else the model knows (``other``, the number symbols).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

DIGITS = 10  # class indices below this are the digits (charset.CLASSES)


class Reader(Protocol):
    def logits(self, images: np.ndarray) -> np.ndarray: ...  # (N, 28, 28) -> (N, classes)


def report(predicted: np.ndarray, labels: np.ndarray, num_classes: int) -> dict:
    """(N,) predicted and (N,) true class indices -> accuracy, per-class accuracy, image count.

    A class with no images (or an empty set) has accuracy None, not NaN: the figures go to JSON.
    """
    predicted, labels = np.asarray(predicted), np.asarray(labels)
    per_class = [float((predicted[labels == c] == c).mean()) if (labels == c).any() else None
                 for c in range(num_classes)]
    return {"accuracy": float((predicted == labels).mean()) if len(labels) else None,
            "per_class_accuracy": per_class, "images": int(len(labels))}


def metrics_entry(name: str, figures: dict) -> dict:
    """A report under a set's name, as stored in ``metrics``: ``{name}_accuracy``,
    ``{name}_per_class_accuracy``, ``{name}_images``."""
    return {f"{name}_{k}": v for k, v in figures.items()}


def predicted_classes(reader: Reader, images: np.ndarray, *, digits_only: bool = False) -> np.ndarray:
    """(N, 28, 28) uint8 -> (N,) class indices, read in batches of 1,000 (a ``Predictor``: ONNX
    Runtime, exactly as served). ``digits_only``: the argmax over the ten digit classes, as the
    API answers ``digit`` (a set of digits, such as MNIST, is read that way)."""
    if len(images) == 0:
        return np.zeros(0, np.int64)
    k = DIGITS if digits_only else None
    return np.concatenate([reader.logits(images[i: i + 1000])[:, :k].argmax(1) for i in range(0, len(images), 1000)])


def digit_set(labels: np.ndarray) -> bool:
    """Whether a labelled set holds digits only (then it is read as digits: ``digits_only``)."""
    return len(labels) == 0 or int(np.max(labels)) < DIGITS

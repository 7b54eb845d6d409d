"""Evaluate a model on the MNIST test set (ONNX Runtime, no torch) and draw its mistakes.

MNIST holds digits only, so each image is read as the API reads a digit: the argmax over the ten
digit classes, with the confidence renormalised over them (a 21-class model's ``other`` and
number symbols take no part; a 10-class model reads the same either way).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .data import load_split
from .predict import Predictor


def evaluate(predictor: Predictor, data_dir: str | Path | None, *, limit: int | None = None) -> dict:
    """Accuracy, per-class accuracy and confusion of ``predictor`` on the MNIST test set.

    Also returns the misclassified images and their labels/guesses/confidences (numpy) under
    ``_wrong`` for drawing; callers drop it before serializing.
    """
    images, labels = load_split("test", data_dir)
    if limit:
        images, labels = images[:limit], labels[:limit]
    probs = np.concatenate([predictor.predict_batch(images[i: i + 1000]) for i in range(0, len(images), 1000)])
    probs = probs[:, :10] / probs[:, :10].sum(axis=1, keepdims=True)  # (N, 10): the digits, renormalised
    guess = probs.argmax(1)
    labels = labels.astype(np.int64)
    confusion = np.zeros((10, 10), dtype=np.int64)  # rows: true digit, columns: predicted
    np.add.at(confusion, (labels, guess), 1)
    wrong = np.flatnonzero(guess != labels)
    return {
        "model": predictor.version,
        "images": int(len(labels)),
        "accuracy": float((guess == labels).mean()),
        "errors": int(len(wrong)),
        "per_class_accuracy": (np.diag(confusion) / np.maximum(confusion.sum(1), 1)).tolist(),
        "confusion": confusion.tolist(),
        "_wrong": (images[wrong], labels[wrong], guess[wrong], probs[wrong].max(1), wrong),
    }


def misclassified_grid(images: np.ndarray, labels: np.ndarray, guesses: np.ndarray,
                       confidences: np.ndarray, *, columns: int = 12, zoom: int = 3) -> Image.Image:
    """A PNG-ready grid: each cell the digit (zoomed, black on white) over 'true->predicted conf'."""
    font = ImageFont.load_default()
    cell_w, img_h, text_h = 28 * zoom + 8, 28 * zoom, 14
    cell_h = img_h + text_h + 6
    n = max(len(images), 1)
    rows = (n + columns - 1) // columns
    grid = Image.new("RGB", (columns * cell_w, rows * cell_h + 20), "white")
    draw = ImageDraw.Draw(grid)
    draw.text((4, 4), f"{len(images)} misclassified (true -> predicted, confidence)", fill="black", font=font)
    for i, (img, t, g, c) in enumerate(zip(images, labels, guesses, confidences)):
        x, y = (i % columns) * cell_w + 4, (i // columns) * cell_h + 22
        tile = Image.fromarray(255 - img).resize((img_h, img_h), Image.NEAREST)
        grid.paste(tile, (x, y))
        draw.text((x, y + img_h + 2), f"{t}->{g} {c:.0%}", fill=(180, 0, 0), font=font)
    return grid

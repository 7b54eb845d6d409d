"""Preprocessing contract (placeholder: constants only; full image -> 28x28 path to come)."""

from __future__ import annotations

import numpy as np

# MNIST training-set pixel statistics on the [0, 1] scale; stored in every model artifact.
MNIST_MEAN = 0.1307
MNIST_STD = 0.3081


def normalize(images: np.ndarray) -> np.ndarray:
    """(N, 28, 28) uint8 (white ink on black) -> (N, 1, 28, 28) float32, model input."""
    x = np.asarray(images, dtype=np.float32)
    if x.ndim == 2:
        x = x[None]
    x = x / 255.0
    return ((x - MNIST_MEAN) / MNIST_STD)[:, None, :, :].astype(np.float32)


# ---------------------------------------------------------------------------------------
# PROVISIONAL image -> 28x28 path (to be replaced by the full pipeline). Public API:
#   decode_image(data, max_pixels) -> PIL.Image  (raises InvalidImage / UnsupportedMediaType / PayloadTooLarge)
#   to_mnist(img) -> Preprocessed(image=(28, 28) uint8 white-on-black, empty=bool)
#   preprocess_bytes(data, max_pixels) -> Preprocessed
import io  # noqa: E402
from dataclasses import dataclass  # noqa: E402

from PIL import Image, ImageOps  # noqa: E402

from .errors import InvalidImage, PayloadTooLarge, UnsupportedMediaType  # noqa: E402

DEFAULT_MAX_PIXELS = 40_000_000
ACCEPTED_FORMATS = {"PNG", "JPEG", "WEBP", "BMP", "GIF"}


@dataclass
class Preprocessed:
    image: np.ndarray  # (28, 28) uint8, white ink on black: exactly what the model sees
    empty: bool  # True when no ink was found (image is then all zeros)


def decode_image(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    try:
        img = Image.open(io.BytesIO(data))
    except Exception as e:
        raise InvalidImage("the data is not an image we can read") from e
    if img.format not in ACCEPTED_FORMATS:
        raise UnsupportedMediaType(f"{img.format} images are not supported; use PNG, JPEG, WebP, BMP or GIF")
    if img.width * img.height > max_pixels:
        raise PayloadTooLarge(f"image is {img.width}x{img.height}, over the {max_pixels:,} pixel limit")
    try:
        img.load()
    except Exception as e:
        raise InvalidImage("the image is truncated or corrupt") from e
    return ImageOps.exif_transpose(img)


def to_mnist(img: Image.Image) -> Preprocessed:
    rgba = img.convert("RGBA")
    bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    gray = np.asarray(Image.alpha_composite(bg, rgba).convert("L"), dtype=np.float32)
    ink = 255.0 - gray if np.median(gray) > 127 else gray
    ink[ink < 40] = 0
    ys, xs = np.nonzero(ink)
    if len(xs) == 0:
        return Preprocessed(np.zeros((28, 28), np.uint8), True)
    crop = ink[ys.min(): ys.max() + 1, xs.min(): xs.max() + 1]
    h, w = crop.shape
    s = 20.0 / max(h, w)
    nh, nw = max(1, round(h * s)), max(1, round(w * s))
    small = np.asarray(Image.fromarray(crop.astype(np.uint8)).resize((nw, nh), Image.LANCZOS), np.float32)
    out = np.zeros((28, 28), np.float32)
    total = small.sum() or 1.0
    cy = (small.sum(1) * np.arange(nh)).sum() / total
    cx = (small.sum(0) * np.arange(nw)).sum() / total
    oy = int(np.clip(round(14 - cy), 0, 28 - nh))
    ox = int(np.clip(round(14 - cx), 0, 28 - nw))
    out[oy: oy + nh, ox: ox + nw] = small
    return Preprocessed(np.clip(out, 0, 255).astype(np.uint8), False)


def preprocess_bytes(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> Preprocessed:
    return to_mnist(decode_image(data, max_pixels=max_pixels))

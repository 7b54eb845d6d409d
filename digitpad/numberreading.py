"""Reading a whole number from image bytes: decode -> ``numbers.read_number`` -> the answer of
``POST /api/read`` (and ``digitpad read``). The number's twin of ``reading.Reader``, sharing its
model, engine, pixel limit and thresholds.

    reader = NumberReader(reader_for(settings, Predictor()))
    answer = reader.read(data)        # {"text": "737-1340", "status": ..., "characters": [...], ...}

Statuses: ``empty`` (no ink), ``not_number`` (no character of a number was found: a letter, a
scribble), ``uncertain`` (some character is doubtful, or is not a character of a number),
``ok``. Each character says the same of itself (``ok``, ``uncertain``, ``other``): a character
outside the number alphabet is shown as ``?``, never as the nearest digit.
"""

from __future__ import annotations

import base64
import logging
import time
from dataclasses import dataclass

from . import numbers, png
from .charset import NUMBER_ALPHABET
from .decode import decode
from .errors import DigitpadError, InvalidImage, PayloadTooLarge
from .reading import Reader

log = logging.getLogger(__name__)

OTHER_CHAR = "?"  # how a character outside the number alphabet is shown


def _ms(t0: float, t1: float) -> float:
    return round((t1 - t0) * 1000, 3)


def _data_url(image28) -> str:  # noqa: ANN001 ((28, 28) uint8)
    return "data:image/png;base64," + base64.b64encode(png.encode_gray(image28)).decode("ascii")


@dataclass
class NumberReader:
    """Reads whole numbers with the model (and settings) of a ``Reader``."""

    reader: Reader

    def read(self, data: bytes, t_start: float | None = None) -> dict:
        """Image file bytes -> the /api/read answer (DigitpadError on bad input)."""
        t0 = time.perf_counter() if t_start is None else t_start
        r = self.reader
        img = decode(data, max_pixels=r.max_pixels, fast_png=r.engine.fast_png)
        t1 = time.perf_counter()
        try:
            found = numbers.read_number(img, r.predictor, r.engine)
        except DigitpadError:
            raise
        except MemoryError as e:
            raise PayloadTooLarge("the image is too large to read") from e
        except Exception as e:  # a client's image never causes a 500 (the log has the traceback)
            log.exception("reading a number failed for a %s image of %s pixels", img.format, img.shape)
            raise InvalidImage("the image could not be read as a number") from e
        t2 = time.perf_counter()
        return self.answer(found, timing={"decode": _ms(t0, t1), "read": _ms(t1, t2)}, t_start=t0)

    def answer(self, found: numbers.Reading, *, timing: dict, t_start: float) -> dict:
        """A ``numbers.Reading`` -> the /api/read JSON (a dict)."""
        t = self.reader.thresholds
        chars = []
        for c in found.characters:
            other = c.char not in NUMBER_ALPHABET
            status = "other" if other else "uncertain" if c.confidence < t.uncertain else "ok"
            chars.append({
                "char": OTHER_CHAR if other else c.char,
                "confidence": round(float(c.confidence), 6),
                "status": status,
                "box": [int(v) for v in c.box],
                "alternatives": [{"char": a, "p": round(float(p), 6)} for a, p in c.alternatives
                                 if a in NUMBER_ALPHABET],
                "probabilities": [round(float(c.scores.get(str(d), 0.0)), 6) for d in range(10)],
                "preview": _data_url(c.image),
            })
        text = "".join(OTHER_CHAR if ch not in NUMBER_ALPHABET + " " else ch for ch in found.text)
        if not chars:
            status = "empty"
        elif all(c["status"] == "other" for c in chars):
            status = "not_number"
        elif any(c["status"] != "ok" for c in chars):
            status = "uncertain"
        else:
            status = "ok"
        timing["total"] = _ms(t_start, time.perf_counter())
        return {"text": text, "status": status, "confidence": round(float(found.confidence), 6),
                "characters": chars, "model": self.reader.predictor.version, "timing_ms": timing}


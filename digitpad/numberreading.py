"""Reading a whole number from image bytes: decode -> ``numbers.read_number`` -> the answer of
``POST /api/read`` (and ``digitpad read``). The number's twin of ``reading.Reader``, sharing its
model, engine, pixel limit and thresholds.

    reader = number_reader_for(settings, reader_for(settings, Predictor()))
    answer = reader.read(data)        # {"text": "737-1340", "status": ..., "characters": [...], ...}

Statuses: ``empty`` (no ink), ``not_number`` (no character of a number was found: a letter, a
scribble), ``uncertain`` (some character is doubtful, or is not a character of a number),
``ok``. Each character says the same of itself (``ok``, ``uncertain``, ``other``): a character
outside the number alphabet is shown as ``?``, never as the nearest digit. Whether it is one is
the model's ``other`` class: a character whose 28x28 the model gives a "number character"
likelihood (1 - P(other)) below the not-digit threshold is ``other``. That threshold was chosen
for characters written alone; among the characters of a number (some of which are not
``other``), a character is ``other`` only below IN_NUMBER_NOT_DIGIT, chosen the same way for
the characters the reader cuts out of numbers, and a small mark (``. , - :``, found by its
place on the line) never is: the model's 28x28 of a dot is a disk.

A lone character that is a digit is read exactly as ``/api/predict`` reads the image (the same
28x28, probabilities and status): a digit through ``/api/read`` is never read differently.
"""

from __future__ import annotations

import base64
import logging
import time
from dataclasses import dataclass, replace

import numpy as np

from . import numbers, png
from .charset import DIGITS, NUMBER_ALPHABET, OTHER_NAME
from .decode import decode
from .errors import DigitpadError, InvalidImage, PayloadTooLarge
from .numberresult import Reading
from .reading import Reader
from .sequence import SequenceModel
from .settings import Settings

log = logging.getLogger(__name__)

OTHER_CHAR = "?"  # how a character outside the number alphabet is shown
# Among a number's characters, "other" below this likelihood: the not-digit budget of isolated
# digits (<= 0.25% of real characters, thresholds.BUDGETS) applied to the characters the reader
# cut out of the val writers' numbers that it read right (2,130; 0.14% at 0.002, 1.2% at the
# isolated digits' 0.2: cut-out characters are odder than digits written alone).
IN_NUMBER_NOT_DIGIT = 0.002


def _ms(t0: float, t1: float) -> float:
    return round((t1 - t0) * 1000, 3)


def _data_url(image28) -> str:  # noqa: ANN001 ((28, 28) uint8)
    return "data:image/png;base64," + base64.b64encode(png.encode_gray(image28)).decode("ascii")


def number_reader_for(settings: Settings, reader: Reader) -> NumberReader:
    """The number reader the settings describe, on ``reader`` (its model, engine and limits)."""
    seq = SequenceModel(settings.sequence_model, threads=settings.threads) if settings.sequence else None
    return NumberReader(reader, seq)


@dataclass
class NumberReader:
    """Reads whole numbers with the model (and settings) of a ``Reader``, and digits that touch
    again with the ``sequence`` model when there is one (``numbers`` step 10)."""

    reader: Reader
    sequence: SequenceModel | None = None

    def read(self, data: bytes, t_start: float | None = None) -> dict:
        """Image file bytes -> the /api/read answer (DigitpadError on bad input)."""
        t0 = time.perf_counter() if t_start is None else t_start
        r = self.reader
        img = decode(data, max_pixels=r.max_pixels, fast_png=r.engine.fast_png)
        t1 = time.perf_counter()
        try:
            found = numbers.read_number(img, r.predictor, r.engine, self.sequence)
        except DigitpadError:
            raise
        except MemoryError as e:
            raise PayloadTooLarge("the image is too large to read") from e
        except Exception as e:  # a client's image never causes a 500 (the log has the traceback)
            log.exception("reading a number failed for a %s image of %s pixels", img.format, img.shape)
            raise InvalidImage("the image could not be read as a number") from e
        lone = None
        if len(found.characters) == 1 and found.characters[0].char in DIGITS and not found.aside:
            lone = self.reader.read_decoded(img, t1)  # one digit: exactly as /api/predict reads it (not
            # one underlined: the line is in the whole image /api/predict reads)
        others = self._others(found, lone)
        t2 = time.perf_counter()
        return self.answer(found, others, lone, timing={"decode": _ms(t0, t1), "read": _ms(t1, t2)}, t_start=t0)

    def _others(self, found: Reading, lone) -> list[bool]:  # noqa: ANN001 (reading.Reading | None)
        """For each character: is it outside the number alphabet (the model's ``other``)?"""
        if lone is not None:
            return [lone.status == "not_digit"]
        labels = list(self.reader.predictor.labels)
        if not found.characters or OTHER_NAME not in labels:
            return [c.char not in NUMBER_ALPHABET for c in found.characters]
        other = [c.other for c in found.characters]  # read with the character (no second model run)
        unread = [k for k, p in enumerate(other) if p is None]  # (marks from geometry alone: a blank 28x28)
        if unread:
            probs = self.reader.predictor.predict_batch(np.stack([found.characters[k].image for k in unread]))  # (N, C)
            for k, p in zip(unread, probs[:, labels.index(OTHER_NAME)].tolist()):
                other[k] = p
        likely = [1.0 - p for p in other]  # a character of a number at all
        cutoff = self.reader.thresholds.not_digit
        alone = [lk < cutoff or c.char not in NUMBER_ALPHABET for c, lk in zip(found.characters, likely)]
        if all(alone):  # no character of a number anywhere: a letter, a word, a scribble
            return alone
        cutoff = min(cutoff, IN_NUMBER_NOT_DIGIT)
        return [c.char not in NUMBER_ALPHABET or (c.char not in numbers.MARKS and lk < cutoff)
                for c, lk in zip(found.characters, likely)]

    def answer(self, found: Reading, others: list[bool], lone, *, timing: dict,  # noqa: ANN001
               t_start: float) -> dict:
        """A ``Reading`` -> the /api/read JSON (a dict)."""
        t = self.reader.thresholds
        if lone is not None and not lone.empty:  # one digit: the single-digit reading's own figures
            c = found.characters[0]
            digit = str(lone.digit) if lone.status != "not_digit" else c.char
            found = replace(found, text=digit, confidence=lone.confidence, characters=[replace(
                c, char=digit, confidence=lone.confidence, image=lone.image,
                scores={str(d): p for d, p in enumerate(lone.probabilities)})])
        chars = []
        for c, other in zip(found.characters, others, strict=True):
            status = "other" if other else "uncertain" if c.confidence < t.uncertain else "ok"
            if lone is not None and not other and lone.status == "uncertain":
                status = "uncertain"
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
        marks = iter(ch["char"] for ch in chars)  # the characters as shown, into the text's non-space places
        text = "".join(ch if ch == " " else next(marks) for ch in found.text)
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
                "characters": chars, "model": self.reader.predictor.version,
                "sequence_model": self.sequence.version if self.sequence is not None else None, "timing_ms": timing}


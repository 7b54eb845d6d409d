"""Recording a corrected number: the image the store keeps, the server's reading of it, and one
box per character of the corrected string (``POST /api/read/feedback``, ``store.numbers``).

    correction = prepare_number_correction(number_reader, data, text="737-1340", client_boxes=boxes)
    fid = store_number_correction(store, correction, source="draw")

The image is stored as digit feedback stores it (``feedback.reencode``: the server's own PNG,
bounded in size), and read again by the server (``NumberReader``) from that stored image, so the
reading, its model version and its boxes are the server's, in the stored image's pixels.

**Boxes.** Export cuts each character out by its box (``digitpad.numbercrops``), so a box must
belong to its character. When the server's reading found as many characters as the corrected
string has (spaces aside), its boxes are used (``boxes_from="server"``): a misread digit is
still in the right place. Otherwise the client's boxes (from the ``/api/read`` answer the page
showed, in the pixels of the image sent) are used when there is one per character, moved into
the stored image's pixels (``client``); they are checked for shape and bounds either way (a 400
when malformed). Else the row has no boxes: it is kept (a person can review it) but not cut.
numpy + Pillow + onnxruntime only: no torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import InvalidImage, InvalidRequest
from .feedback import reencode
from .numberreading import NumberReader
from .rows import NUMBER_TEXT_MAX, check_boxes, check_text
from .store import FeedbackStore


@dataclass
class NumberCorrection:
    png: bytes  # what the store keeps
    text: str  # what the person says it is
    reading: dict[str, Any]  # the /api/read answer for ``png``
    boxes: list[list[int]] | None  # one [x, y, w, h] per character of ``text`` (spaces aside)
    boxes_from: str | None  # "server" or "client"


def read_scores(reading: dict[str, Any]) -> list[dict[str, float]]:
    """Per character of a reading: {char: probability} of its top character and alternatives
    (what the agreement check, ``curation.agrees_number``, reads)."""
    out = []
    for c in reading["characters"]:
        scores = {a["char"]: float(a["p"]) for a in c.get("alternatives", [])}
        scores[c["char"]] = float(c["confidence"])
        out.append(scores)
    return out


def prepare_number_correction(numbers: NumberReader, data: bytes, *, text: str,
                              client_boxes: object = None) -> NumberCorrection:
    """Client bytes + the corrected string (+ the boxes the page had) -> what to store (CPU only:
    the server runs this in feedback's decode slot). DigitpadError (a 4xx) for anything a client
    can send: ``invalid_text``, ``invalid_boxes``, ``empty_image``, bad images."""
    check_text(text)
    n = len(text.replace(" ", ""))
    if client_boxes is not None and (not isinstance(client_boxes, list) or len(client_boxes) > NUMBER_TEXT_MAX):
        raise InvalidRequest(f"boxes must be a list of at most {NUMBER_TEXT_MAX} boxes [x, y, w, h]",
                             code="invalid_boxes")
    stored = reencode(numbers.reader, data)
    if client_boxes is not None:  # checked against the image the client read: garbage is a 400
        width, height = stored.size
        client_boxes = check_boxes(client_boxes, n=len(client_boxes), width=width, height=height)
    reading = numbers.read(stored.png)
    if reading["status"] == "empty":
        raise InvalidImage("the image has no ink: nothing to learn from", code="empty_image")
    boxes, boxes_from = None, None
    if len(reading["characters"]) == n:
        boxes, boxes_from = [list(c["box"]) for c in reading["characters"]], "server"
    elif client_boxes is not None and len(client_boxes) == n:
        moved = [stored.box_to_stored(b) for b in client_boxes]  # (a photo's stored crop is smaller)
        if all(b is not None for b in moved):
            boxes, boxes_from = moved, "client"
    return NumberCorrection(stored.png, text, reading, boxes, boxes_from)


def store_number_correction(store: FeedbackStore, correction: NumberCorrection, *, source: str) -> int:
    """Insert the row (pending review); returns its id once committed."""
    r = correction.reading
    return store.numbers.add(text=correction.text, image_bytes=correction.png, content_type="image/png",
                             read_text=r["text"], boxes=correction.boxes, boxes_from=correction.boxes_from,
                             read_scores=read_scores(r), confidence=r["confidence"], model_version=r["model"],
                             source=source)

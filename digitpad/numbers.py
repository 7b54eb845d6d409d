"""Read a whole handwritten number: one image -> its characters, their boxes, one string.

    reading = read_number(img, predictor)      # img: a decoded PIL image; predictor: predict_batch + labels
    reading.text                               # "737-1340" ("" when there is no ink)
    reading.characters[0].char, .confidence, .box, .alternatives, .image   # box: (x, y, w, h) file px

How (``segment.py`` has steps 1-5: ink map, runs, components, line geometry, pieces):

 6. Candidates. Every run of 1..MAX_PARTS consecutive pieces (in deskewed order) whose
    deskewed width is at most MAX_WIDTH line heights, each piece within JOIN_GAP of the ones
    before it, is a candidate character. Its ink (the page's ink map inside its pieces' mask
    grown by one pixel, minus the other pieces' ink) goes through preprocessing steps 4-10 to
    a 28x28; all candidates of a number go to the model in ONE batch.
 7. Class scores. A candidate's probability for each character = the model's probability times
    a geometric compatibility: digits and tall symbols need a height of at least TALL line
    heights; the small marks ``. , - :`` are recognised by size and position relative to the
    baseline and line height (``marks``), by geometry alone when the model has no such class.
 8. Search. The best reading is the path of candidates through all pieces (dynamic
    programming) maximising the sum over its characters of log(best score) + CHAR_BONUS (a
    piece too small to be anything may be skipped at SKIP_COST): a split wins where the model
    reads two good characters, a merge where the pieces form one.
 9. Spaces. A gap between neighbours larger than SPACE_GAP line heights and SPACE_RATIO times
    the median gap becomes one space.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np
from PIL import Image

from .segment import Line, Page, Piece, components_of, cut, finish, ink_page

MAX_PARTS = 4  # step 6
MAX_WIDTH = 1.5
JOIN_GAP = 0.05
TALL = 0.55  # step 7: digits and tall symbols are at least this tall (line heights)
SMALL = 0.45  # step 7: candidates of pieces at most this tall are small marks (or bits of a character)
CHAR_BONUS = 0.75  # step 8
SKIP_COST = -6.0
ACCEPT = 0.5  # two stages: a character read from whole components with a verifier score
WIDE = 1.3  # below ACCEPT or wider than WIDE line heights has its components cut
LONE = 0.85  # ... unless the whole image is one component the model reads clearly (the model is
# trained with label smoothing: a clear digit gets ~0.9) as one character: a lone digit is not split
SPACE_GAP = 0.55  # step 9
SPACE_RATIO = 2.0
MARKS = ".,-:"  # step 7: characters decided by geometry when the model lacks them
DIGITS = "0123456789"
MARK_GAP = 0.015
SLASH_LEAN = 20.0  # step 7: degrees past the writer's slant that make a straight stroke a '/'
BOW = 0.1  # step 7: line heights a parenthesis bows by
PARENTHESES = False  # step 7: off: thick 9s and curved 1s bow like them (measured on dev writers)


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


@dataclass
class Reading:
    text: str
    characters: list[Character] = field(default_factory=list)
    confidence: float = 0.0  # the product of the characters' confidences
    candidates: int = 0  # images the model read


@dataclass
class _Cand:
    i: int  # pieces i..j-1
    j: int
    mask_box: tuple[int, int, int, int]  # y0, y1, x0, x1 (working px)
    parts: list[Piece]
    image: np.ndarray | None = None
    scores: dict[str, float] = field(default_factory=dict)
    fit: float = -math.inf  # log-score as one character (step 8)
    feats: np.ndarray | None = None


# ------------------------------------------------------------------------------ 6. candidates


def _paint(pieces: list[Piece], box: tuple[int, int, int, int]) -> np.ndarray:
    """The pieces' runs as a (y1 - y0, x1 - x0) bool mask of ``box``."""
    y0, y1, x0, x1 = box
    m = np.zeros((y1 - y0, x1 - x0), bool)
    for p in pieces:
        lens = p.end - p.start
        base = (p.row - y0) * (x1 - x0) + (p.start - x0)
        flat = np.repeat(base - np.cumsum(lens) + lens, lens) + np.arange(int(lens.sum()))
        m.ravel()[flat] = True
    return m


def _grow(m: np.ndarray) -> np.ndarray:
    """One 3x3 dilation."""
    g = m.copy()
    g[1:] |= m[:-1]
    g[:-1] |= m[1:]
    h = g.copy()
    h[:, 1:] |= g[:, :-1]
    h[:, :-1] |= g[:, 1:]
    return h


def _image(page: Page, parts: list[Piece]) -> tuple[np.ndarray | None, tuple[int, int, int, int]]:
    """Step 6: one candidate's 28x28 and its ink box (working px)."""
    y0, y1 = min(p.y0 for p in parts), max(p.y1 for p in parts)
    x0, x1 = min(p.x0 for p in parts), max(p.x1 for p in parts)
    h, w = page.mask.shape
    box = (max(0, y0 - 1), min(h, y1 + 1), max(0, x0 - 1), min(w, x1 + 1))
    mine = _paint(parts, box)
    others = page.mask[box[0]:box[1], box[2]:box[3]] & ~mine
    ink = page.ink[box[0]:box[1], box[2]:box[3]] * (_grow(mine) & ~others)
    return finish(ink, page.noise), (y0, y1, x0, x1)


def candidates(page: Page, pieces: list[Piece], line: Line, seen: dict[tuple, _Cand] | None = None) -> list[_Cand]:
    """Step 6: the candidate characters of ``pieces`` (taken from ``seen`` when already made
    there). The pieces of one cut component, when consecutive, are always a candidate too,
    however wide (a lone digit may be wider than tall)."""
    spans = []
    for i in range(len(pieces)):
        right = -math.inf
        for j in range(i, min(len(pieces), i + MAX_PARTS)):
            p = pieces[j]
            if j > i and p.d0 - right > JOIN_GAP * line.height:
                break
            right = max(right, p.d1)
            if j > i and right - min(q.d0 for q in pieces[i:j + 1]) > MAX_WIDTH * line.height:
                break
            spans.append((i, j + 1))
    where: dict[int, list[int]] = {}
    for k, p in enumerate(pieces):
        where.setdefault(p.comp, []).append(k)
    for ks in where.values():
        if len(ks) > 1 and ks[-1] - ks[0] == len(ks) - 1 and (ks[0], ks[-1] + 1) not in spans:
            spans.append((ks[0], ks[-1] + 1))
    out = []
    for i, j in spans:
        parts = pieces[i:j]
        key = _key(parts)
        old = seen.get(key) if seen is not None else None
        if old is not None:
            out.append(replace(old, i=i, j=j))
            continue
        img, box = _image(page, parts)
        c = _Cand(i, j, box, parts, img)
        if seen is not None:
            seen[key] = c
        out.append(c)
    return out


# ------------------------------------------------------------------------------ 7. class scores


def _attached(parts: list[Piece], tall: list[Piece], line: Line) -> bool:
    """A small mark is part of a tall character (a foot, a flag, a stroke's end) when that
    character's ink comes within MARK_GAP line heights of its box; a '.' between two digits
    stands apart."""
    g = MARK_GAP * line.height
    for q in parts:
        y0, y1 = q.y0 - g, q.y1 + g
        for p in tall:
            rows = (p.row >= y0) & (p.row < y1)
            if (rows & (p.start < q.x1 + g) & (p.end > q.x0 - g)).any():
                return True
    return False


def marks(parts: list[Piece], box: tuple[int, int, int, int], line: Line, tall: list[Piece] = ()) -> dict[str, float]:
    """Geometric scores of the small marks ``. , - :`` for a candidate of small whole pieces
    (empty where none fits, or when ``_attached`` to one of the ``tall`` pieces; a '.' or ','
    needs tall characters on both sides)."""
    y0, y1, x0, x1 = box
    H = line.height
    h, w = (y1 - y0) / H, (x1 - x0) / H
    xc = (x0 + x1) / 2
    base, top = line.base_at(xc), line.top_at(xc)
    mid = (base + top) / 2
    above = (base - y1) / H  # bottom above the baseline (line heights)
    centre = ((y0 + y1) / 2 - mid) / H  # below the middle of the line (line heights)
    out = {}
    if w > 1.0 or len(parts) > 2 or _attached(parts, tall, line):
        return out
    dc = sum(p.d0 + p.d1 for p in parts) / (2 * len(parts))
    inside = any((p.d0 + p.d1) / 2 < dc for p in tall) and any((p.d0 + p.d1) / 2 > dc for p in tall)
    if len(parts) == 1 and inside:  # a '.' or ',' sits between digits (at an end: a speck)
        if h <= 0.3 and w <= 0.35 and -0.2 <= above <= 0.25 and w <= 2.5 * h + 0.05:
            out["."] = 0.9
        if h <= 0.5 and w <= 0.35 and above < 0.1 and (base - y0) / H < 0.35 and h >= 0.6 * w:
            out[","] = 0.85 if y1 > base + 0.05 * H else 0.5
    if len(parts) == 1 and w >= 1.6 * h and 0.15 <= w <= 1.0 and abs(centre) <= 0.3 and h <= 0.3:
        out["-"] = 0.9
    if len(parts) == 2:
        a, b = sorted(parts, key=lambda p: p.y0)
        overlap = min(a.x1, b.x1) - max(a.x0, b.x0)
        if overlap > -0.1 * H and b.y0 >= a.y1 and -0.2 <= above <= 0.25 and 0.2 <= h <= 0.75 \
                and max(a.height, b.height) <= 0.3 * H:
            out[":"] = 0.9
    return out


def lines(parts: list[Piece], line: Line) -> dict[str, float]:
    """Geometric scores of '/', '(' and ')' for a tall candidate of one piece: a single thin
    stroke at least 0.95 line heights tall (one run of at most 2.5 stroke widths in 85% of its
    rows) whose centre line, fitted as x = a + b t + q t^2 (t: -1 at the top row .. 1 at the
    bottom), is straight and leans more than SLASH_LEAN degrees, both past the writer's slant
    and past upright ('/'); or is nearly upright, 1.05 line heights tall or more, and bows by
    BOW line heights to the left ('(') or right (')'). Clear cases only: the retrained model
    reads these characters itself."""
    if len(parts) != 1 or parts[0].height < 0.95 * line.height:
        return {}
    p = parts[0]
    rows, first = np.unique(p.row, return_index=True)
    counts = np.bincount(p.row - p.y0, minlength=p.height)
    single = (counts[rows - p.y0] == 1) & ((p.end - p.start)[first] <= 2.5 * line.stroke)
    if single.sum() < 0.85 * p.height:
        return {}
    y = rows[single].astype(np.float64)
    x = ((p.start + p.end - 1) / 2.0)[first][single]
    t = (y - (p.y0 + p.y1 - 1) / 2) / max(1.0, (p.height - 1) / 2)
    q, b, _ = np.polyfit(t, x, 2)
    lean = math.degrees(math.atan(-b / max(1.0, (p.height - 1) / 2)) - math.atan(line.slant))
    bow = q / line.height  # > 0: the ends lie right of the middle, a '('
    out = {}
    if abs(bow) < 0.04 and lean >= SLASH_LEAN and lean + math.degrees(math.atan(line.slant)) >= SLASH_LEAN:
        out["/"] = 0.9 if lean >= SLASH_LEAN + 7 else 0.6
    elif PARENTHESES and abs(lean) < SLASH_LEAN and abs(bow) >= BOW and p.height >= 1.05 * line.height:
        out["(" if bow > 0 else ")"] = 0.85
    return out


def class_scores(probs: np.ndarray | None, labels: list[str], tall: bool, geo: dict[str, float]) -> dict[str, float]:
    """Step 7: each character's score for one candidate: the model's probability, times 1e-3
    for a digit or tall symbol when the candidate is not ``tall``; the characters of ``geo``
    (small marks, slash, parentheses) from geometry, times the model's probability when the
    model knows them (else the geometric score, the model's other scores scaled by 1 - it)."""
    out = {}
    if probs is not None:
        for lab, p in zip(labels, probs.tolist()):
            if lab not in MARKS and lab != "other":
                out[lab] = p if tall else p * 1e-3
    for lab in MARKS + "/()":
        if lab in labels and probs is not None:
            if lab in MARKS:
                out[lab] = float(probs[labels.index(lab)]) * (0.5 + geo[lab]) if lab in geo else 0.0
            elif lab in geo:
                out[lab] = min(1.0, out[lab] * (0.5 + geo[lab]))
        elif lab in geo:
            if lab not in MARKS:  # the model's reading of a slash or a parenthesis is some digit
                out = {k: v * (1 - geo[lab]) for k, v in out.items()}
            out[lab] = geo[lab]
    return out


# Features of a candidate for the verifier (step 8), and their weights: a logistic model of
# "these pieces are exactly one character", fitted by bench/numbers_fit.py on composed numbers
# of the dev writers (never the held-out ones) for the shipped model.
FEATURES = ("bias", "log_p1", "log_p2", "width", "height", "width2", "height2", "pieces", "cut_sides", "cut_ink",
            "gap", "drop", "rise", "share") + tuple(f"is_{d}" for d in "0123456789") + tuple(
            f"width_{d}" for d in "0123456789")
WEIGHTS = {"bias": -16.91, "log_p1": 0.8359, "log_p2": -1.064, "width": 16.15, "height": 23.88, "width2": -10.8,
           "height2": -12.15, "pieces": -0.05689, "cut_sides": -1.214, "cut_ink": 0.01116, "gap": -8.222, "drop": 0.3255,
           "rise": -2.196, "share": 0.8827, "is_0": -4.656, "is_1": -3.575, "is_2": -4.877, "is_3": -3.701,
           "is_4": -1.075, "is_5": -4.978, "is_6": -2.455, "is_7": -3.59, "is_8": -0.2668, "is_9": -0.9917,
           "width_0": 2.371, "width_1": 1.031, "width_2": 2.535, "width_3": 0.8232, "width_4": -3.319, "width_5": 2.345,
           "width_6": -0.5906, "width_7": 0.4885, "width_8": -4.269, "width_9": -1.284}


def features(parts: list[Piece], box: tuple[int, int, int, int], scores: dict[str, float], line: Line,
             comp_area: dict[int, int]) -> np.ndarray:
    """(len(FEATURES),) float64 for one tall candidate. ``comp_area``: ink of each component."""
    H = line.height
    y0, y1, x0, x1 = box
    top2 = sorted(scores.values(), reverse=True)[:2] + [0.0, 0.0]
    best = max(scores, key=scores.get) if scores else ""
    d0, d1 = min(p.d0 for p in parts), max(p.d1 for p in parts)
    left = min(parts, key=lambda p: p.d0)
    right = max(parts, key=lambda p: p.d1)
    cuts = [c for c in (left.cut_l, right.cut_r) if c >= 0]
    gap, reach = 0.0, -math.inf
    for p in sorted(parts, key=lambda p: p.d0):
        if reach > -math.inf:
            gap = max(gap, p.d0 - reach)
        reach = max(reach, p.d1)
    xc = (x0 + x1) / 2
    w, h = (d1 - d0) / H, (y1 - y0) / H
    share = sum(p.area for p in parts) / sum(comp_area[c] for c in {p.comp for p in parts})
    digit = np.zeros(10)
    if best in DIGITS:
        digit[DIGITS.index(best)] = 1.0
    return np.concatenate([[1.0, math.log(max(top2[0], 1e-6)), math.log(max(top2[1], 1e-6)), w, h, w * w, h * h,
                            len(parts) - 1.0, float(len(cuts)), float(sum(cuts)), gap / H,
                            (y1 - line.base_at(xc)) / H, (line.top_at(xc) - y0) / H, share], digit, digit * w])


def _verify(f: np.ndarray) -> float:
    """log P(one character) from ``features``."""
    z = float(f @ np.array([WEIGHTS[k] for k in FEATURES]))
    return -math.log1p(math.exp(-z)) if z > -30 else z


# ------------------------------------------------------------------------------ 8. search


def score(c: _Cand, probs: np.ndarray | None, labels: list[str], parts: list[Piece], line: Line,
          comp_area: dict[int, int], tall_pieces: list[Piece] = ()) -> None:
    """Sets the candidate's class scores and its log-score as one character (``c.fit``)."""
    y0, y1, x0, x1 = c.mask_box
    tall = (y1 - y0) >= TALL * line.height
    whole = all(p.whole for p in parts)
    small = all(p.height <= SMALL * line.height for p in parts) and (y1 - y0) <= 0.75 * line.height
    geo = {}
    if whole and small:
        geo = marks(parts, c.mask_box, line, tall_pieces)
    elif whole and tall:
        geo = lines(parts, line)
    if small:  # a mark, or a piece of a character: not read as a digit
        tall = False
    c.scores = class_scores(probs, labels, tall, geo)
    if tall and probs is not None:
        c.feats = features(parts, c.mask_box, c.scores, line, comp_area)
        c.fit = _verify(c.feats)
    else:
        c.fit = math.log(max(geo.values())) if geo else -7.0


def component_areas(pieces: list[Piece]) -> dict[int, int]:
    area: dict[int, int] = {}
    for p in pieces:
        area[p.comp] = area.get(p.comp, 0) + p.area
    return area


def _search(n: int, cands: list[_Cand], pieces: list[Piece], line: Line) -> list[_Cand]:
    """Best path of candidates covering pieces 0..n-1 (a piece may be skipped)."""
    best = [-math.inf] * (n + 1)
    back: list[_Cand | int | None] = [None] * (n + 1)
    best[0] = 0.0
    ending: dict[int, list[_Cand]] = {}
    for c in cands:
        ending.setdefault(c.j, []).append(c)
    for j in range(1, n + 1):
        p = pieces[j - 1]
        if p.height < 0.45 * line.height and best[j - 1] + SKIP_COST > best[j]:
            best[j], back[j] = best[j - 1] + SKIP_COST, j - 1
        for c in ending.get(j, []):
            if not c.scores or best[c.i] == -math.inf:
                continue
            s = best[c.i] + c.fit + CHAR_BONUS
            if s > best[j]:
                best[j], back[j] = s, c
    path = []
    j = n
    while j > 0:
        b = back[j]
        if isinstance(b, _Cand):
            path.append(b)
            j = b.i
        elif b is None:  # unreachable (no candidate covers a piece): not expected
            break
        else:
            j = b
    return path[::-1]


# ------------------------------------------------------------------------------ reading


def read_number(img: Image.Image, model: Classifier) -> Reading:
    """A decoded image -> its Reading (steps 1-9). The search runs twice at most: first on
    whole components; then, if some character is doubtful (its verifier score below ACCEPT,
    or wider than WIDE line heights), again with those components cut (step 5). An image
    of one component that the model reads as one character with probability LONE or more
    is that character: a lone digit is not split in two."""
    page = ink_page(img)
    if page is None:
        return Reading("")
    found = components_of(page.mask)
    if found is None:
        return Reading("")
    comps, line = found
    seen: dict[tuple, _Cand] = {}  # candidates already read, by their pieces
    path, n_images = _read(page, comps, line, model, seen)
    doubt = {p.comp for c in path for p in c.parts
             if c.fit < math.log(ACCEPT) or (c.mask_box[3] - c.mask_box[2]) > WIDE * line.height}
    if len(comps) == 1 and len(path) == 1 and max(path[0].scores.values(), default=0.0) >= LONE:
        doubt = set()  # one stroke of ink read as one clear digit: a lone digit is never split
    if doubt:
        path, more = _read(page, cut(comps, line, doubt), line, model, seen)
        n_images += more
    return _assemble(path, page, line, n_images)


def _key(parts: list[Piece]) -> tuple:
    return tuple((p.comp, p.x0, p.x1, p.area) for p in parts)


def _read(page: Page, pieces: list[Piece], line: Line, model: Classifier,
          seen: dict[tuple, _Cand]) -> tuple[list[_Cand], int]:
    """Steps 6-8 on one set of pieces: the best path, and the images the model read for it
    (candidates in ``seen`` are not read again)."""
    cands = candidates(page, pieces, line, seen)
    todo = [c for c in cands if c.image is not None and not c.scores and c.fit == -math.inf]
    spans = [p for p in pieces if p.height >= TALL * line.height]
    area = component_areas(pieces)
    if todo:
        probs = model.predict_batch(np.stack([c.image for c in todo]))  # (N, C)
        for c, p in zip(todo, probs):
            score(c, p, list(model.labels), c.parts, line, area, spans)
    for c in cands:
        if c.image is None and c.fit == -math.inf:
            score(c, None, list(model.labels), c.parts, line, area, spans)
    return _search(len(pieces), cands, pieces, line), len(todo)


def _assemble(path: list[_Cand], page: Page, line: Line, n_images: int) -> Reading:
    """Step 9 and the Reading: characters, boxes in file pixels, spaces, confidence."""
    chars, gaps = [], []
    for k, c in enumerate(path):
        ranked = sorted(c.scores.items(), key=lambda kv: -kv[1])
        total = sum(c.scores.values()) or 1.0
        ch, p = ranked[0]
        y0, y1, x0, x1 = c.mask_box
        s, (ox, oy) = page.scale, page.origin
        box = (int(ox + x0 * s), int(oy + y0 * s), int(math.ceil((x1 - x0) * s)), int(math.ceil((y1 - y0) * s)))
        img = c.image if c.image is not None else np.zeros((28, 28), np.uint8)
        chars.append(Character(ch, p / total if total > 1 else p, box,
                               [(a, q) for a, q in ranked[1:4]], img))
        if k:
            gaps.append(x0 - path[k - 1].mask_box[3])
    text = ""
    if gaps:
        med = float(np.median(gaps))
    for k, ch in enumerate(chars):
        if k and gaps[k - 1] > SPACE_GAP * line.height and gaps[k - 1] > SPACE_RATIO * max(med, 1.0):
            text += " "
        text += ch.char
    conf = float(np.prod([c.confidence for c in chars])) if chars else 0.0
    return Reading(text, chars, conf, n_images)

"""Read a whole handwritten number: one image -> its characters, their boxes, one string.

    reading = read_number(img, predictor)      # img: decoded PIL image; predictor: predict_batch + labels
    reading.text                               # "737-1340" ("" when there is no ink)
    c = reading.characters[0]                  # c.char, c.confidence, c.box (x, y, w, h file px),
                                               # c.alternatives, c.scores, c.image (the 28x28 read)

Steps 1-4 (ink map at a resolution set by the ink's height, runs, components, line geometry) are in
``segment.py``, 4a (a line written uphill or downhill turned level) in ``level.py``, 5 (cuts) in ``cuts.py``:

 6. Candidates. Every run of 1..MAX_PARTS consecutive pieces (in deskewed order), each within
    JOIN_GAP line heights of the ones before it (SMALL_JOIN_GAP where a small piece joins or
    is joined: a '%''s ring sits apart from its slash), at most MAX_WIDTH line heights wide together,
    and all the pieces of one cut component, is a candidate character. Its ink (the page's ink
    map inside its pieces' mask grown by one pixel, minus the other pieces' ink) goes through
    preprocessing steps 4-10 to a 28x28; the new candidates of a search go to the model in ONE
    ``predict_batch``.
 7. Class scores (``class_scores``): the model's probability of each class, times 1e-3 for a
    digit or tall symbol when the candidate is shorter than TALL line heights or made of small
    pieces; ``. , - :`` from the geometry of small whole pieces (``glyphs``; a thick pen's colon whose dots
    ran together is one, however tall), weighed with the model's probability when it knows them; a model's
    '/' weighed by the lean of a tall straight stroke past the writer's (decided by it past SLASH_ALONE).
 8. Search. Each tall candidate's log-probability of being exactly one character comes from
    ``verifier``; the reading is the path of candidates through all the pieces maximising
    the sum over its characters of that score + CHAR_BONUS (a piece shorter than SMALL line
    heights may be skipped at SKIP_COST: a speck). Two stages keep it cheap: whole
    components first; then, only if some character is doubtful (verifier below ACCEPT, or
    wider than WIDE line heights), again with those components cut (step 5), reusing every
    image already read. An image of one stroke (one component) read as one character is cut
    only when the cut characters verify as characters: each at LONE_CUT or more and the cut
    reading LONE_MARGIN above the whole one when the model reads the stroke clearly (>= LONE)
    as one digit (a lone digit is not split, two touching digits the model took for one are); else
    at STROKE_CUT on geometric average (a letter or a doodle is not cut into digits, two touching
    digits that the model calls no character are). Then what each character's place allows
    (``grammar``): no '/' first or last nor where no slash stands, no ')' first, no '(' unclosed,
    no ')' unopened; a date's two slashes alike; a '%' at its end (the sequence model's too).
 9. Spaces. A gap between neighbours' boxes over SPACE_GAP line heights and SPACE_RATIO times
    the median gap becomes one space.
10. With a ``sequence`` model (a CRNN reading digits whole, where cuts cannot part touching ones;
    separators too if it was trained with them): digits that touch (cut, or one over WIDE line
    heights), or a reading the reader doubts (SEQ_DOUBT), are read by it too (``_sequence_or``).

The model is anything with ``predict_batch`` and ``labels`` (``numberresult.Classifier``): a 10-digit model
(symbols from geometry alone) or one with symbols and ``other``. The browser's twin (``static/numbers.js``)
loads the constants of this module, ``segment``, ``level``, ``cuts``, ``glyphs``, ``grammar`` and ``verifier``
from ``static/numbers-params.json``: after changing one, run ``python -m digitpad.numberparams``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from . import engines, runs
from .charset import DIGITS, OTHER_NAME
from .cuts import cut
from .decode import Decoded
from .engines import Engine
from .glyphs import colon_blob, lines, marks, writer_lean
from .grammar import rankings
from .inkmap import median_of
from .level import levelled
from .numberresult import Character, Classifier, Reading, file_box
from .segment import Line, Page, Piece, components_of, finish, ink_page
from .sequence import SequenceModel, read_sequence
from .verifier import features, verify

MAX_PARTS = 4  # step 6
MAX_WIDTH = 1.5
JOIN_GAP = 0.05
SMALL_JOIN_GAP = 0.35  # ... across this many where a small piece (SMALL: a '%''s ring, a bit cut off a
# character) joins or is joined (val writers, 0.05 -> 0.35: '%' 62 -> 75.5% read, strings with separators
# 78.9 -> 80.7%, touching digit strings 59.7 -> 61.3%, nothing lost; 2% more images read)
TALL = 0.45  # step 7: digits and tall symbols are at least this tall (line heights: a real number's
# small final 0 may be half the height of the digit before it, val "30"; 0.55 read it as nothing)
SMALL = 0.45  # step 7: candidates of pieces at most this tall are small marks (or bits of a character)
CHAR_BONUS = 1.5  # step 8 (bench/numbers_fit.py: the best of its grid on train writers, confirmed on val)
SKIP_COST = -6.0
ACCEPT = 0.5  # two stages: a character read from whole components with a verifier score
WIDE = 1.3  # below ACCEPT or wider than WIDE line heights has its components cut
LONE = 0.85  # ... but one stroke of ink that the model reads clearly (it is trained with label
# smoothing: a clear digit gets ~0.9) as one digit (a lone digit) is cut only when every cut
LONE_CUT = 0.5  # character verifies at this or more (two touching digits the model took for one)...
LONE_MARGIN = 0.75  # ... and the cut reading's score beats the whole one's by this much (val writers:
# the lone digits split by LONE_CUT alone won by at most 0.44, the touching digits by 1.06 or more)
STROKE_CUT = 0.25  # any other stroke up to STROKE_WIDE line heights wide (a letter, a doodle: val
STROKE_WIDE = 2.0  # writers' letters are 1.9 or less in 9 of 10; wider: touching digits, cut) is cut only
# when its cut characters verify at STROKE_CUT on (geometric) average: two touching digits are,
# a letter or a doodle cut into "digits" is not (val writers)
SPACE_GAP = 0.55  # step 9
SPACE_RATIO = 2.0
KEPT_SYMBOLS = "$%"  # step 10 does not run where the reader found one, whatever the sequence model's alphabet:
# few writers wrote them, and a model that knows them still read them worse (val writers' '%' as 9 or 7, '$' as 4)
NOT_SLASH = 0.5  # step 7: the model's '/' for a straight stroke leaning like the writer's other characters
# (halved, not vetoed: chosen against the line's slant, whole-pixel steps of 0, 14 or 27 degrees, too coarse to call
# a slash a 1 alone, still the reference under glyphs.LEAN_PIECES. Val dates: 57% -> 69% at 0.05 -> 0.5)
SEQ_DOUBT = 0.95  # step 10 also reads digits that do not touch where the reader is less sure of one, not where
SEQ_OTHER = 0.5  # a character is more likely no number's (a letter: val 269 of 400 `not_number`, 262 without it);
SEQ_SURE = 0.9  # kept when this sure, surer than the reader, no character fewer (val, 2 x 800 composed, real ones: 10
# gained, none lost; 0.99 gained 12 but read twice as often, /api/read's p50 +25%; without the last rule '90' -> '9')
SEQ_SAME = 0.9  # ... and when this sure with the reader's digits, however sure the reader (val: "2010-0321" +1 mended)
MARKS = ".,-:"  # step 7: characters decided by geometry when the model lacks them
MARK_FLOOR = 0.01  # step 7: a mark's geometry counts at least this much of the model's say (a
# comma blown up to 28x28 is a 1 to the model: as a digit its score is scaled by 1e-3 already)


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
    other: float = 0.0  # the model's probability that it is no character of a number (tall candidates)
    p_other: float | None = None  # the same for any candidate the model read (None: not read)


# ------------------------------------------------------------------------------ 6. candidates


def _image(page: Page, parts: list[Piece]) -> tuple[np.ndarray | None, tuple[int, int, int, int]]:
    """Step 6: one candidate's 28x28 and its ink box (working px)."""
    y0, y1 = min(p.y0 for p in parts), max(p.y1 for p in parts)
    x0, x1 = min(p.x0 for p in parts), max(p.x1 for p in parts)
    h, w = page.mask.shape
    box = (max(0, y0 - 1), min(h, y1 + 1), max(0, x0 - 1), min(w, x1 + 1))
    ink = page.engine.candidate_ink(page.mask, page.ink, box, *runs.joined(parts))
    return finish(ink, page.noise, page.engine), (y0, y1, x0, x1)


def candidates(page: Page, pieces: list[Piece], line: Line, seen: dict[tuple, _Cand] | None = None) -> list[_Cand]:
    """Step 6: the candidate characters of ``pieces`` (taken from ``seen`` when already made
    there). The pieces of one cut component, when consecutive, are always a candidate too,
    however wide (a lone digit may be wider than tall)."""
    spans = []
    small = [p.height <= SMALL * line.height for p in pieces]
    for i in range(len(pieces)):
        right = -math.inf
        for j in range(i, min(len(pieces), i + MAX_PARTS)):
            p = pieces[j]
            # a small piece joins, or is joined, across the wider gap (a '%''s rings sit apart)
            gap = SMALL_JOIN_GAP if small[j] or all(small[i:j]) else JOIN_GAP
            if j > i and p.d0 - right > gap * line.height:
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


def class_scores(probs: np.ndarray | None, labels: list[str], tall: bool, geo: dict[str, float]) -> dict[str, float]:
    """Step 7: each character's score for one candidate: the model's probability, times 1e-3
    for a digit or tall symbol when the candidate is not ``tall``. The characters of ``geo``
    weigh the model's probability of them when the model knows them; the small marks come
    from geometry alone when it does not (a '/' does not: alone, its geometry cannot tell a
    leaning 1 from a slash; beside a model that reads '/', it says which leans too far)."""
    out = {}
    if probs is not None:
        for lab, p in zip(labels, probs.tolist()):
            if lab not in MARKS and lab != "other":
                out[lab] = p if tall else p * 1e-3
    for lab in MARKS + "/()":
        if lab in labels and probs is not None:
            if lab in MARKS:
                out[lab] = max(float(probs[labels.index(lab)]), MARK_FLOOR) * (0.5 + geo[lab]) if lab in geo else 0.0
            elif lab in geo:  # geo 0: a straight stroke leaning like the writer's 1s; 1: as only a slash does
                g = geo[lab]
                out[lab] = out[lab] * NOT_SLASH if g == 0 else 1.0 if g >= 1 else min(1.0, out[lab] * (0.5 + g))
        elif lab in geo and lab in MARKS:
            out[lab] = geo[lab]
    return out


# ------------------------------------------------------------------------------ 8. search


def score(c: _Cand, probs: np.ndarray | None, labels: list[str], parts: list[Piece], line: Line,
          comp_area: dict[int, int], tall_pieces: list[Piece] = (), lean: float | None = None) -> None:
    """Sets the candidate's class scores and its log-score as one character (``c.fit``)."""
    y0, y1, x0, x1 = c.mask_box
    tall = (y1 - y0) >= TALL * line.height
    whole = all(p.whole for p in parts)
    small = all(p.height <= SMALL * line.height for p in parts) and (y1 - y0) <= 0.75 * line.height
    small = small or (whole and len(parts) == 1 and colon_blob(parts[0], line))  # a mark, however tall
    geo = {}
    if whole and small:
        geo = marks(parts, c.mask_box, line, tall_pieces)
    elif whole and tall:
        geo = lines(parts, line, lean)
    if small:  # a mark, or a piece of a character: not read as a digit
        tall = False
    c.scores = class_scores(probs, labels, tall, geo)
    if probs is not None and OTHER_NAME in labels:
        c.p_other = float(probs[labels.index(OTHER_NAME)])
    if tall and probs is not None:
        c.other = c.p_other if c.p_other is not None else 0.0
        c.feats = features(parts, c.mask_box, c.scores, line, comp_area, c.other)
        c.fit = verify(c.feats)
    else:
        top = max(geo, key=geo.get, default=None)
        best = geo[top] if top is not None else 0.0  # (0: geometry says what it is not, e.g. "no slash")
        c.fit = math.log(best) if best > 0 else -7.0
        if top == ":":  # one character of two marks: worth both (read as two characters, its dots
            c.fit += CHAR_BONUS  # would take two bonuses)


def component_areas(pieces: list[Piece]) -> dict[int, int]:
    area: dict[int, int] = {}
    for p in pieces:
        area[p.comp] = area.get(p.comp, 0) + p.area
    return area


def _search(n: int, cands: list[_Cand], pieces: list[Piece], line: Line) -> tuple[list[_Cand], float]:
    """Best path of candidates covering pieces 0..n-1 (a piece may be skipped), and its score."""
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
    return path[::-1], best[n]


# ------------------------------------------------------------------------------ reading


def read_number(img: Decoded, model: Classifier, engine: Engine | None = None,
                sequence: SequenceModel | None = None) -> Reading:
    """A decoded image -> its Reading (steps 1-10). The search runs twice at most: first on whole components;
    then, if some character is doubtful (its verifier score below ACCEPT, or wider than WIDE line heights),
    again with those components cut (step 5). An image of one stroke read as one character is cut only when
    the cut characters verify well enough (``_cut_lone``): a lone digit is not split in two, nor a letter
    cut into digits, but two touching digits are; with a ``sequence`` model, they are read again whole (step 10)."""
    page = ink_page(img, engine or engines.default())
    if page is None:
        return Reading("")
    found = components_of(page.mask, page.engine)
    if found is None:
        return Reading("")
    page, (comps, line) = levelled(page, found)  # (step 4a: a line written uphill or downhill, turned level)
    seen: dict[tuple, _Cand] = {}  # candidates already read, by their pieces
    path, n_images, total = _read(page, comps, line, model, seen)
    doubt = {p.comp for c in path for p in c.parts
             if c.fit < math.log(ACCEPT) or (c.mask_box[3] - c.mask_box[2]) > WIDE * line.height}
    if doubt:
        cut_path, more, cut_total = _read(page, cut(comps, line, doubt), line, model, seen)
        n_images += more
        # Cut pieces cannot always rebuild what whole components made (a '%' of three components
        # whose slash was cut is more than MAX_PARTS pieces): the better of the two readings.
        if cut_total >= total and (len(comps) > 1 or len(path) > 1 or _cut_lone(path[0], total, cut_path, cut_total, line)):
            path = cut_path
    found = _assemble(path, page, line, n_images)
    return _sequence_or(found, path, page, line, sequence) if sequence is not None else found


def _cut_lone(whole: _Cand, total: float, cut_path: list[_Cand], cut_total: float, line: Line) -> bool:
    """One stroke of ink read whole as one character (``whole``, path score ``total``): is the reading of it
    cut (``cut_path``, ``cut_total``) the better one? Only when its characters verify as characters: a stroke
    the model reads clearly (>= LONE) as one digit, when each verifies at LONE_CUT or more and the cut reading
    beats the whole one by LONE_MARGIN (a lone digit is not split); any other stroke up to STROKE_WIDE line
    heights wide, when they verify at STROKE_CUT on geometric average (two touching digits the model calls
    no character are cut, a letter or a doodle is not); a wider one always (digits run together)."""
    fits = [c.fit for c in cut_path]
    if max((p for ch, p in whole.scores.items() if ch in DIGITS), default=0.0) >= LONE:
        return min(fits) >= math.log(LONE_CUT) and cut_total - total >= LONE_MARGIN
    wide = whole.mask_box[3] - whole.mask_box[2] > STROKE_WIDE * line.height
    return wide or sum(fits) / len(fits) >= math.log(STROKE_CUT)


def _key(parts: list[Piece]) -> tuple:
    return tuple((p.comp, p.x0, p.x1, p.area) for p in parts)


def _read(page: Page, pieces: list[Piece], line: Line, model: Classifier,
          seen: dict[tuple, _Cand]) -> tuple[list[_Cand], int, float]:
    """Steps 6-8 on one set of pieces: the best path, the images the model read for it
    (candidates in ``seen`` are not read again) and the path's score."""
    cands = candidates(page, pieces, line, seen)
    todo = [c for c in cands if c.image is not None and not c.scores and c.fit == -math.inf]
    spans = [p for p in pieces if p.height >= TALL * line.height]
    area, lean = component_areas(pieces), writer_lean(spans)
    if todo:
        probs = model.predict_batch(np.stack([c.image for c in todo]))  # (N, C)
        for c, p in zip(todo, probs):
            score(c, p, list(model.labels), c.parts, line, area, spans, lean)
    for c in cands:
        if c.image is None and c.fit == -math.inf:
            score(c, None, list(model.labels), c.parts, line, area, spans, lean)
    path, total = _search(len(pieces), cands, pieces, line)
    return path, len(todo), total


def _assemble(path: list[_Cand], page: Page, line: Line, n_images: int) -> Reading:
    """Step 9 and the Reading: characters, boxes in file pixels, spaces, confidence."""
    chars, gaps = [], []
    for k, (c, ranked) in enumerate(zip(path, rankings([c.scores for c in path]))):
        total = sum(c.scores.values()) or 1.0
        ch, p = ranked[0]
        box = file_box(page, *c.mask_box)
        img = c.image if c.image is not None else np.zeros((28, 28), np.uint8)
        # A mark's scores are its geometry times the model's (floored) probability, not a probability:
        # its confidence is its share of them (a clear '.' read with the model's 1% said 0.01). Other
        # characters' are the model's (geometric ones beside them may sum above 1; below 1, the rest is `other`).
        norm = total if ch in MARKS else max(1.0, total)
        chars.append(Character(ch, p / norm, box, [(a, q / norm) for a, q in ranked[1:4]], img,
                               {a: q / norm for a, q in c.scores.items()}, c.p_other))
        if k:  # between neighbours' boxes (upright gaps vary more: a deskewed '1' narrows)
            gaps.append(c.mask_box[2] - path[k - 1].mask_box[3])
    conf = float(np.prod([c.confidence for c in chars])) if chars else 0.0
    return Reading(_spaced(chars, gaps, line.height), chars, conf, n_images, line.aside)


def _spaced(chars: list[Character], gaps: list[float], height: float) -> str:
    """Step 9: the characters' string, one space where the gap before a character (``gaps``, in
    the unit of the line ``height``) is over SPACE_GAP heights and SPACE_RATIO times the median gap."""
    text = ""
    if gaps:
        med = median_of(gaps)  # (np.median's value for these integers, without its ~30 us)
    for k, ch in enumerate(chars):
        if k and gaps[k - 1] > SPACE_GAP * height and gaps[k - 1] > SPACE_RATIO * max(med, 1.0):
            text += " "
        text += ch.char
    return text


def _sequence_or(found: Reading, path: list[_Cand], page: Page, line: Line, sequence: SequenceModel) -> Reading:
    """Step 10, not where ink was set aside (the sequence model would see a frame). Digits touch where a component
    was cut or read whole over WIDE heights: the more confident reading is kept. Elsewhere the sequence model reads
    where the reader doubts a character and calls none a letter (SEQ_DOUBT, SEQ_OTHER), kept when sure (SEQ_SURE),
    the more confident, no character fewer; with the reader's digits, no character fewer and SEQ_SAME sure: always
    (its separators). Not where the reader found one of KEPT_SYMBOLS that it knows, nor, whole or a '%', a symbol
    it does not know (a digits-only one reads a '%''s rings as digits; cut pieces may be a 4's arm read '+')."""
    touch = any(not p.whole or c.mask_box[3] - c.mask_box[2] > WIDE * line.height for c in path for p in c.parts)
    symbol = any(ch.char not in DIGITS and ((ch.char in KEPT_SYMBOLS) if ch.char in sequence.alphabet
                                            else (ch.char == "%" or all(p.whole for p in c.parts)))
                 for ch, c in zip(found.characters, path))
    doubt = (min((ch.confidence for ch in found.characters), default=1.0) < SEQ_DOUBT
             and all((ch.other or 0.0) < SEQ_OTHER for ch in found.characters))
    if line.aside or not (touch or doubt) or symbol:
        return found
    seq = read_sequence(page, line, sequence)
    if seq is None:
        return found
    whole = len(seq.characters) >= len(found.characters)  # no character fewer
    digits = [[c for c in r.text if c in DIGITS] for r in (seq, found)]
    same = whole and seq.confidence >= SEQ_SAME and digits[0] == digits[1]
    if not same and not (seq.confidence > found.confidence and (touch or whole and seq.confidence >= SEQ_SURE)):
        return found
    gaps = [b.box[0] - (a.box[0] + a.box[2]) for a, b in zip(seq.characters, seq.characters[1:])]  # (file px)
    return replace(seq, text=_spaced(seq.characters, gaps, line.height * page.scale), candidates=found.candidates)

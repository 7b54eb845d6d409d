"""The characters of a number told apart by their shape and place on the line, not by the model:
small marks (``. , - :``) and a slash.

A '.' normalised to 28x28 is a blob like a filled 0, and a '-' a bar like a 1 lying down: only
the size and position relative to the line (``segment.Line``: height, baseline, top line) say
what they are. The retrained model also reads these characters; its probability is then
weighed by these scores (``numbers.class_scores``). All sizes are in line heights.
"""

from __future__ import annotations

import math

import numpy as np

from .segment import Line, Piece, side_of

MARK_CORE = 0.25  # a mark is part of a tall character when that character's ink enters the
# mark's box shrunk by this share of its size on each side (a 7's bar drawn apart, with the stem
# through its middle), not where it only grazes the box (a '-' or '.' written tight: on the val
# writers' tight phone numbers every hyphen's box met a digit's ink). Never for a colon's shape
# (two small marks stacked) or a comma's: at least COMMA_H tall and hanging COMMA_HANG or more
# below the baseline (digits stand on it; a comma hangs from it). Dots are shorter and sit on
# the line: on the val writers' composed numbers, 97% of commas and no dot are both.
COMMA_H = 0.2
COMMA_HANG = 0.05
DOT_ABOVE = 0.15  # a '.' sits on the baseline: its bottom at most this far above it (val writers'
# dots: 0.13 at most; a colon's upper dot is higher)
COLON_DOT = 0.3  # a colon's dots are at most this tall (line heights) or COLON_DOT_PEN stroke widths: a
COLON_DOT_PEN = 2.5  # marker's dot is as tall as its pen is wide (val writers' times: 189 -> 193 of 200
# read, strings with separators 80.7 -> 81.1%, nothing lost)
COLON_SHIFT = 0.2  # a colon's dots lie one above the other, their boxes apart sideways by at most this (line
# heights; a colon leaning back, its upper dot left of the lower one: val writers' "3:35" read "3.35", 0.1 -> 0.2:
# +2 of 2,700 fresh strings with separators, +0 of 2,400 others, none lost; 0.3 read as 0.2)
COLON_BLOB_W = 2.0  # a thick pen's colon whose dots ran together: one piece at most this many stroke
COLON_BLOB_H = 3.5  # widths wide and this many tall (two dots and the gap they closed), its waist
COLON_WAIST = 0.7  # (the narrowest row of its middle third) at most this share of its dots' width
HYPHEN_PEN = 2.0  # a '-' is at most 0.3 line heights tall, or this many stroke widths: a marker's
# bar is as tall as its pen is wide, more at a tilt (val writers' marker hyphens stood 1.3 stroke
# widths, 0.31 line heights: strings with separators 94 / 86 / 71 -> 95 / 87 / 71%, nothing lost)
FLAG_TOP = 0.05  # a small mark is also part of a tall piece when it runs to the right from the end of
FLAG_STEM = 4.0  # the piece's stem, as a 5's flag drawn apart does: its top at most FLAG_TOP of the piece's
FLAG_GAP = 0.15  # height below the piece's top; in each of the mark's rows, the piece's ink at most FLAG_STEM
# stroke widths wide (a stem's end, not a 0's top); the mark starting over that ink or at most FLAG_GAP
# line heights right of it, and ending right of it. Val writers: "1535" read "15-35" (flags: 0.0 below
# the top, rows of 1.9-2.7 stroke widths, 0.05-0.08 right); a hyphen beside a short 0 starts at or
# below its top (0.03-0.16 of its height), beside rows of 6.5-10.5 stroke widths.
SLASH_LEAN = 20.0  # degrees past the writer's lean (and past upright) that make a straight stroke a '/'
SLASH_ALONE = 27.0  # ... and past which its lean alone says so, whatever the model (a writer's slashes lean
# 9-48 degrees past the line's, their 1s -16 to +18: val writers' dates, 2 x 500: 274 -> 293 read)
LEAN_PIECES = 3  # the writer's lean is the median of the line's tall pieces' leans when it has this many
# (fewer: the line's slant, whole-pixel steps of 0, 14 or 27 degrees: too coarse to tell a '/' from a 1)
BOW = 0.1  # line heights a parenthesis bows by
PARENTHESES = False  # off: thick 9s and curved 1s bow like them (measured on dev writers)


def _attached(parts: list[Piece], tall: list[Piece], line: Line) -> bool:
    """A small mark is part of a tall character (a flag, a bar, a stroke's end) when that
    character's ink enters the middle of its box (MARK_CORE), or when it runs to the right from
    the top end of that character's stem (FLAG_TOP, FLAG_STEM, FLAG_GAP: a 5's flag drawn
    apart); a '.' or '-' between two digits stands apart, however close."""
    for q in parts:
        dy, dx = MARK_CORE * (q.y1 - q.y0), MARK_CORE * (q.x1 - q.x0)
        y0, y1, x0, x1 = q.y0 + dy, q.y1 - dy, q.x0 + dx, q.x1 - dx
        for p in tall:
            rows = (p.row >= y0) & (p.row < y1)
            if (rows & (p.start < x1) & (p.end > x0)).any():
                return True
            if q.y0 <= p.y0 + FLAG_TOP * p.height and q.y1 > p.y0:
                lo, hi = p.extents()  # (height,) each row's ink, first column .. one past the last
                lo, hi = lo[max(0, q.y0 - p.y0):q.y1 - p.y0], hi[max(0, q.y0 - p.y0):q.y1 - p.y0]
                ink = hi > lo  # the piece's rows beside the mark that hold ink
                if not ink.any() or (hi - lo)[ink].max() > FLAG_STEM * line.stroke:
                    continue
                g, left, right = FLAG_GAP * line.height, lo[ink].min(), hi[ink].max()
                if left - g <= q.x0 <= right + g and q.x1 > right:
                    return True
    return False


def colon_blob(p: Piece, line: Line) -> bool:
    """A colon drawn with a thick pen, its two dots run together into one piece: no wider than
    COLON_BLOB_W stroke widths, no taller than COLON_BLOB_H of them and 0.3-0.75 line heights, on
    the baseline, narrower in its middle than at its dots (a short 1 is as wide all along; a
    small 8 of such a pen holds loops, so it is wider). Val writers' marker colons: 2:32 read
    2832."""
    H, sw = line.height, line.stroke
    if not (0.3 * H <= p.height <= min(0.75 * H, COLON_BLOB_H * sw) and p.x1 - p.x0 <= COLON_BLOB_W * sw):
        return False
    xc = (p.x0 + p.x1) / 2
    if not -0.2 <= (line.base_at(xc) - p.y1) / H <= 0.25:
        return False
    lo, hi = p.extents()
    widths = hi - lo
    third = p.height // 3
    if third == 0:
        return False
    dots = min(widths[:third].max(), widths[p.height - third:].max())
    return bool(widths[third:p.height - third].min() <= COLON_WAIST * dots)


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
    comma = len(parts) == 1 and h >= COMMA_H and above <= -COMMA_HANG  # a comma's shape and place
    colon = False  # two small marks, one above the other, within the line: a colon's shape
    if len(parts) == 2:
        a, b = sorted(parts, key=lambda p: p.y0)
        overlap = min(a.x1, b.x1) - max(a.x0, b.x0)
        colon = overlap > -COLON_SHIFT * H and b.y0 >= a.y1 and -0.2 <= above <= 0.25 and 0.2 <= h <= 0.75 \
            and max(a.height, b.height) <= max(COLON_DOT * H, COLON_DOT_PEN * line.stroke)
    elif len(parts) == 1:
        colon = colon_blob(parts[0], line)
    if w > 1.0 or len(parts) > 2 or (not (comma or colon) and _attached(parts, tall, line)):
        return out
    dc = sum(p.d0 + p.d1 for p in parts) / (2 * len(parts))
    # Which side of each tall piece the mark is on (+1: right): by centres, or, within the piece's
    # extent, by its ink in the mark's rows as the reading order has it (``segment.side_of``: a
    # leaning 7 overhangs the '.' before its foot; val writers' "522.7" read "5227"; 450 and 1,200
    # strings with separators +1 each, nothing lost)
    sides = [side_of(parts[0], p, line) if p.d0 < dc < p.d1 else (dc > (p.d0 + p.d1) / 2) - (dc < (p.d0 + p.d1) / 2)
             for p in tall]
    inside = 1 in sides and -1 in sides
    if len(parts) == 1 and inside:  # a '.' or ',' sits between digits (at an end: a speck)
        if not comma and h <= 0.3 and w <= 0.35 and -0.2 <= above <= DOT_ABOVE and w <= 2.5 * h + 0.05:
            out["."] = 0.9
        if h <= 0.5 and w <= (0.45 if comma else 0.35) and above < 0.1 and (base - y0) / H < 0.35 and h >= 0.6 * w:
            out[","] = 0.85 if comma else 0.1 if "." in out else 0.5
    if len(parts) == 1 and w >= 1.6 * h and 0.15 <= w <= 1.0 and abs(centre) <= 0.3 \
            and h <= max(0.3, HYPHEN_PEN * line.stroke / H):
        out["-"] = 0.9
    if colon:
        out[":"] = 0.9
    return out


def writer_lean(pieces: list[Piece]) -> float | None:
    """The writer's lean in one line (degrees, > 0: tops to the right): the median over the line's
    tall ``pieces`` of the lean of the line through each row's middle (None: under LEAN_PIECES)."""
    leans = []
    for p in pieces:
        lo, hi = p.extents()
        ink = hi > lo  # (rows of a piece cut out of a component may hold none)
        y = np.flatnonzero(ink).astype(np.float64)
        if len(y) >= 3:
            x = (lo[ink] + hi[ink]) / 2.0
            y -= y.mean()
            leans.append(math.degrees(math.atan(-float(y @ (x - x.mean())) / float(y @ y))))
    return float(np.median(leans)) if len(leans) >= LEAN_PIECES else None


def lines(parts: list[Piece], line: Line, lean: float | None = None) -> dict[str, float]:
    """Geometric scores of '/', '(' and ')' for a tall candidate of one piece: a single thin
    stroke at least 0.95 line heights tall (one run of at most 2.5 stroke widths in 85% of its
    rows) whose centre line, fitted as x = a + b t + q t^2 (t: -1 at the top row .. 1 at the
    bottom), is straight and leans more than SLASH_LEAN degrees, both past the writer's ``lean``
    (``writer_lean``; None: the line's slant) and past upright ('/': 1 past SLASH_ALONE, the
    lean alone deciding); or is nearly upright, 1.05 line heights tall or more, and bows by
    BOW line heights to the left ('(') or right (')'). Clear cases only: the retrained model
    reads these characters itself."""
    if len(parts) != 1 or parts[0].height < 0.95 * line.height:
        return {}
    p = parts[0]
    rows, first = np.unique(p.row, return_index=True)
    counts = np.bincount(p.row - p.y0, minlength=p.height)
    single = (counts[rows - p.y0] == 1) & ((p.end - p.start)[first] <= 2.5 * line.stroke)
    if single.sum() < max(3, 0.85 * p.height):  # (a curve needs three rows: a speck of a line has none)
        return {}
    y = rows[single].astype(np.float64)
    x = ((p.start + p.end - 1) / 2.0)[first][single]
    t = (y - (p.y0 + p.y1 - 1) / 2) / max(1.0, (p.height - 1) / 2)
    q, b, _ = np.polyfit(t, x, 2)
    upright = math.degrees(math.atan(-b / max(1.0, (p.height - 1) / 2)))  # its lean past upright
    lean = upright - (math.degrees(math.atan(line.slant)) if lean is None else lean)  # ... past the writer's
    bow = q / line.height  # > 0: the ends lie right of the middle, a '('
    out = {}
    if abs(bow) < 0.04 and lean >= SLASH_LEAN and upright >= SLASH_LEAN:
        out["/"] = 1.0 if lean >= SLASH_ALONE else 0.6
    elif abs(bow) < 0.04 and lean < SLASH_LEAN / 2:
        out["/"] = 0.0  # straight, and leaning like the writer's own characters: a 1, not a slash
    elif PARENTHESES and abs(lean) < SLASH_LEAN and abs(bow) >= BOW and p.height >= 1.05 * line.height:
        out["(" if bow > 0 else ")"] = 0.85
    return out

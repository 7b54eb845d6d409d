"""The ink of a handwritten number, as connected pieces on a line (steps 1-4 of reading a number).

``numbers.py`` reads a number by choosing which pieces form each character (a search scored by the model);
this module and ``cuts.py`` find the pieces. Steps (the JavaScript port follows these numbers):

 1. Ink map (``ink_page``): preprocessing steps 1-4 (gray, block means, ink map, soft
    threshold) on the whole image at a working resolution set by the ink's height, not the
    image's long side. A first pass at k = ceil(max(H, W) / FIRST_SIDE) finds the ink and its
    line height (``column_height``: the 90th percentile of the ink's vertical extent over the
    columns that hold ink); then k = max(1, floor(line height / LINE_SIDE)): the same k
    crops the first pass to the ink (plus a margin), another k runs steps 1-4 again on the
    file's pixels around the ink (a reduced JPEG's line under LINE_SIDE: decoded again finer
    first, ``Decoded.finer``, a number small in a big photo). mask = soft ink >= 0.5; on paper, where the
    soft ink over WEAK joins JOINS or more of its pieces (a pencil's grain broke the strokes into specks),
    the mask grown through it (``runs.hysteresis``: the components of that ink holding the mask's).
 1a. Paper (photos and scans, not the page's transparent canvas): a sheet's rules, straight
    lines from edge to edge at the sheet's one tilt, fainter than the pen (``rules.faint_rules``,
    ``rules.paper_rules``), are not ink; they are dropped before the sheet's border is (a digit
    touching a rule would otherwise go with it). A second pass that loses the first pass's ink
    (LOST_INK) is not used.
 1b. Thin strokes (stroke width, ``preprocess.stroke_width``, below MIN_STROKE line heights
    and below BROKEN working pixels) are grown to MIN_STROKE (``preprocess.thicken``): a pen of
    2 px has broken strokes at 48 px; a stroke BROKEN pixels wide or more is whole, and growing
    it would only join tight neighbours.
 2. Runs (``runs.runs_of``): the mask as horizontal runs (row, start, end), row-major.
 3. Components (``runs.run_edges``, the engine's ``label_runs``): 8-connected groups of runs; components under
    SPECK_AREA stroke widths squared are dropped (noise; a '.' is bigger than that).
 3b. Not the number (``not_the_number``): a frame drawn around characters (a box, a ring: it encloses two
    components FRAME_HOLDS of its height tall, or one that is no zero's slash or dot) and an underline (a flat
    bar under every character) are set aside; the line's ``aside`` counts them.
 4. Line geometry (``line_of``): line height = the larger of the median height of the
    components at least half as tall as the tallest (the second tallest, when the tallest is
    one tall symbol over the rest) and the column height (at most COLUMN_CAP times it); slant = the median
    lean of near-vertical stroke segments (pairs of narrow runs in consecutive rows, each the
    other's only neighbour), at most MAX_SLANT, 0 with fewer than two tall components;
    baseline and top line = least-squares lines through the bottoms and tops of the tall
    components (flat with fewer than three). Deskewed x = x + slant (y - mid). Pieces are read
    left to right by deskewed centre (``reading_order``; a mark on the baseline by its side of
    the leaning digit over it).

Everything is integer runs and small numpy reductions: a number's ink is a few thousand pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import fit28, inkmap
from . import preprocess as pp
from .decode import Decoded
from .engines import Engine
from .inkmap import column_height, fit_line, median_of
from .rules import faint_rules
from .runs import hysteresis, joined, paint, run_edges, runs_of

FIRST_SIDE = 400  # step 1: first pass, long side in working pixels
LINE_SIDE = 48  # step 1: the ink's line height in working pixels (at least, when the file allows)
MIN_STROKE = 0.06  # step 1b: strokes thinner than this (line heights) are grown ...
BROKEN = 1.7  # ... when under this many working pixels too: block means break those; growing a wider
# (whole) stroke only merges tight neighbours (val thin-pen numbers, tight: 116 -> 132 of 150)
SPECK_AREA = 0.6  # step 3: components under this many stroke widths squared are noise
BAR = 3.0  # step 4: ink at most this many stroke widths tall in all, its widest piece twice as wide as tall,
BAR_LINE = 2.0  # is bars lying down (a '-' written first): its line is this many times the widest one tall
LONE_TALL = 0.3  # step 4: the tallest piece does not set the line when the next two are alike and at least
# this share of its height (a '(' or ')' drawn twice the digits' height: "12)" read "7")...
COLUMN_CAP = 1.5  # ... nor, when it is twice theirs, do the columns of ink raise the line past this many times
# the median of the others
FRAME_HOLDS = 0.3  # step 3b: a component enclosing two others this share of its height tall is a frame...
STROKE_ROWS = 0.85  # ... or one that is no zero's slash (one straight stroke in this share of its rows,
STROKE_WIDE = 2.0  # at most this many stroke widths wide) nor its dot (at most ZERO_DOT stroke widths tall)
ZERO_DOT = 3.0
UNDERLINE_FLAT = 0.2  # ... and a bar at most this share of its length tall under every character an underline
MARK_H = 0.5  # step 4: a piece at most this tall (line heights), its bottom at most MARK_LOW above the
MARK_LOW = 0.15  # baseline, is a mark ('.' ','): ordered beside a tall piece by that piece's ink in its rows,
MARK_STEP = 1e-3  # just before or after the tall piece's centre (working px)
MAX_SLANT = math.tan(math.radians(35))  # step 4: the steepest lean corrected
WEAK = 0.1  # step 1: soft ink over this joins the pieces of v >= 0.5 it touches, where it joins JOINS or more
JOINS = 3  # (val: a pencil's photo 15-21 -> 36-38 of 40 spaced; no clean photo or drawing joins 3)
LOST_INK = 0.25  # step 1: a second pass keeping less of the first pass's ink (file pixels) than this is not used


# ------------------------------------------------------------------------------ preprocessing steps 2-4


def ink_map(img: Decoded, k: int, engine: Engine) -> tuple[np.ndarray, np.ndarray, float] | None:
    """Preprocessing steps 2-4 at block size ``k``: ((h, w) float64 ink map in [0, 255],
    (h, w) soft ink in [0, 1], noise sigma), or None (no ink, or blank paper)."""
    alpha = engine.block_mean(img.alpha, k, 255.0) if img.alpha is not None else None
    H, W = img.shape
    min_pixels = max(pp.MIN_INK_PIXELS, pp.MIN_INK_SHARE * (-(-H // k)) * (-(-W // k)))
    if alpha is not None and inkmap.median_below(inkmap.ring(alpha), 0.5):
        ink, noise = alpha * 255.0, 0.0  # a drawing (the page's canvas): no paper
    else:
        ink, noise, _ = inkmap.ink(engine.block_mean(img.gray(), k, 1.0), alpha, min_pixels, not_ink=faint_rules)
    floor = max(4 * noise, 10.0)
    cand = ink[ink > floor]
    if cand.size < min_pixels:
        return None
    c = inkmap.percentile(cand, 0.9)
    if c < max(fit28.MIN_CONTRAST, 6 * noise):
        return None
    lo = max(floor, 0.25 * c)
    hi = max(0.75 * c, lo + 1.0)
    return ink, np.clip((ink - lo) / (hi - lo), 0.0, 1.0), noise


def finish(ink: np.ndarray, noise: float, engine: Engine) -> np.ndarray | None:
    """Steps 4-10 on one character's (h, w) ink crop -> the (28, 28) uint8 model input, or
    None when it holds no ink."""
    res = engine.finish(np.ascontiguousarray(ink, dtype=np.float64), noise, pp.MIN_INK_PIXELS, False, True)
    return res.image if res.kind == "done" else None


# ------------------------------------------------------------------------------ 1. ink map


@dataclass
class Page:
    """A number's ink at working resolution. ``scale`` file pixels per working pixel; working pixel (0, 0) is file
    pixel ``origin`` (x, y), unless the page was turned level (``turn``: ``level.to_file`` maps it back)."""

    ink: np.ndarray  # (h, w) float64 in [0, 255]
    v: np.ndarray  # (h, w) soft ink in [0, 1]
    mask: np.ndarray  # (h, w) bool, v >= 0.5
    noise: float
    scale: float
    origin: tuple[float, float]
    engine: Engine  # runs steps 2 and 4-10 (each character's 28x28)
    turn: tuple[float, ...] | None = None  # cos, sin, its centre (u, v), the centre before (x, y)


def ink_page(img: Decoded, engine: Engine) -> Page | None:
    """Step 1: the decoded image -> its Page, or None when there is no ink."""
    H, W = img.shape
    file_scale = img.scale  # file pixels per decoded pixel
    k1 = -(-max(W, H) // FIRST_SIDE)
    first = ink_map(img, k1, engine)
    mask = first[1] >= 0.5 if first is not None else np.zeros((0, 0), bool)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if len(rows) == 0:
        return None
    ink, v, noise = first
    line = column_height(mask) * k1  # decoded pixels
    g = 2 + int(0.1 * line / k1)  # margin around the ink, first-pass pixels
    y0, y1 = max(0, rows[0] - g), min(mask.shape[0], rows[-1] + 1 + g)
    x0, x1 = max(0, cols[0] - g), min(mask.shape[1], cols[-1] + 1 + g)
    box = (x0 * k1, y0 * k1, min(W, x1 * k1), min(H, y1 * k1))
    crop, r = img.crop_finer(box[1], box[3], box[0], box[2], file_scale * min(1.0, line / LINE_SIDE))
    k = max(1, int(line * r // LINE_SIDE))
    again = None if k == k1 and r == 1 else ink_map(crop, k, engine)
    if again is not None and (again[1] >= 0.5).sum() * k * k >= LOST_INK * mask[y0:y1, x0:x1].sum() * (k1 * r) ** 2:
        ink, v, noise = again
        mask, box, file_scale = v >= 0.5, (box[0] * r, box[1] * r), crop.scale
    else:  # the first pass is at the right scale, or the crop lost its ink (a photo's ink that
        # touches a sheet's rule along the crop's edge is taken for the sheet's border)
        k = k1
        ink, v, mask = ink[y0:y1, x0:x1], v[y0:y1, x0:x1], mask[y0:y1, x0:x1]
    if noise > 0:  # paper (a drawing on the page's canvas has no grain): strokes a pencil's grain broke, joined
        grown, joins = hysteresis(v, WEAK, engine.label_runs)
        mask = grown if joins >= JOINS else mask
    return Page(ink, v, mask, noise, k * file_scale, (box[0] * file_scale, box[1] * file_scale), engine)


# ------------------------------------------------------------------------------ pieces


@dataclass
class Piece:
    """Some of a number's ink as horizontal runs: a component, or a part of one cut off."""

    row: np.ndarray  # (n,) int64
    start: np.ndarray  # (n,) int64, first column of the run
    end: np.ndarray  # (n,) int64, one past its last column
    comp: int  # the component it comes from
    whole: bool = True  # the whole component (not a part cut off)
    cut_l: float = -1.0  # ink crossed by the cut on its left (stroke widths), -1: not cut there
    cut_r: float = -1.0
    y0: int = 0  # bounding box, end-exclusive
    y1: int = 0
    x0: int = 0
    x1: int = 0
    area: int = 0
    d0: float = 0.0  # deskewed x extent (set by ``deskew``)
    d1: float = 0.0

    def __post_init__(self) -> None:
        self.y0, self.y1 = int(self.row.min()), int(self.row.max()) + 1
        self.x0, self.x1 = int(self.start.min()), int(self.end.max())
        self.area = int((self.end - self.start).sum())

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    def extents(self) -> tuple[np.ndarray, np.ndarray]:
        """Each row's ink, from its first run's start to its last run's end: (height,) lo, hi."""
        lo = np.full(self.height, np.iinfo(np.int64).max)
        hi = np.zeros(self.height, np.int64)
        np.minimum.at(lo, self.row - self.y0, self.start)
        np.maximum.at(hi, self.row - self.y0, self.end)
        return lo, hi

    def deskew(self, line: Line) -> Piece:
        off = line.slant * (self.row - line.mid)
        self.d0, self.d1 = float((self.start + off).min()), float((self.end + off).max())
        return self


def components(row: np.ndarray, start: np.ndarray, end: np.ndarray, lab: np.ndarray, n: int) -> list[Piece]:
    """The runs of each component as a Piece, by component number."""
    order = np.argsort(lab, kind="stable")
    bounds = np.searchsorted(lab[order], np.arange(n + 1))
    return [Piece(row[o], start[o], end[o], i) for i, o in
            enumerate(order[bounds[i]:bounds[i + 1]] for i in range(n))]


# ------------------------------------------------------------------------------ 4. line geometry


@dataclass
class Line:
    stroke: float  # stroke width, working px
    height: float  # line height (a digit's height), working px
    slant: float  # tan of the lean: x' = x + slant (y - mid) stands upright
    mid: float  # the row the shear is taken about
    base: tuple[float, float]  # baseline y = a + b x
    top: tuple[float, float]  # top line y = a + b x
    aside: int = 0  # components set aside as no character's (``not_the_number``: frames, underlines)

    def base_at(self, x: float) -> float:
        return self.base[0] + self.base[1] * x

    def top_at(self, x: float) -> float:
        return self.top[0] + self.top[1] * x


def side_of(m: Piece, p: Piece, line: Line) -> float:
    """-1 or +1: which side of piece ``p`` the mark ``m`` is on, by p's ink in m's rows (its
    lowest rows, for a mark below it), both deskewed: the same rows shift alike."""
    rows = (p.row >= m.y0) & (p.row < m.y1)
    if not rows.any():
        rows = p.row >= p.y1 - m.height
    off = line.slant * (p.row[rows] - line.mid)
    centre = (float((p.start[rows] + off).min()) + float((p.end[rows] + off).max())) / 2
    return -1.0 if (m.d0 + m.d1) / 2 < centre else 1.0


def reading_order(pieces: list[Piece], line: Line) -> list[Piece]:
    """The pieces left to right: by deskewed centre, but a small mark on the baseline (a '.'
    or ',') within a tall piece's deskewed extent is put on the side of that piece where it is
    in its own rows: a leaning digit overhangs its neighbours' marks, and its centre does not
    say which side of it they are (a '.' tucked under an 8's foot was read after the 8)."""
    key = [(p.d0 + p.d1) / 2 for p in pieces]
    H = line.height
    for i, m in enumerate(pieces):
        xc = (m.x0 + m.x1) / 2
        if m.height > MARK_H * H or line.base_at(xc) - m.y1 > MARK_LOW * H:
            continue
        for j, p in enumerate(pieces):
            if j != i and p.height >= 0.5 * H and p.d0 < key[i] < p.d1:
                key[i] = (p.d0 + p.d1) / 2 + MARK_STEP * side_of(m, p, line)
                break
    return [pieces[k] for k in sorted(range(len(pieces)), key=key.__getitem__)]


def line_of(comps: list[Piece], runs: tuple[np.ndarray, np.ndarray, np.ndarray],
            edges: tuple[np.ndarray, np.ndarray], sw: float, col_height: float = 0.0) -> Line:
    """Step 4. The slant is the median lean of the near-vertical stroke segments: pairs of
    touching runs in consecutive rows, both at most 2 stroke widths long and each the other's
    only neighbour; their centres move by -slant per row. (0 with fewer than two tall components.)
    Ink that is one flat band of bars and specks (a '-' written alone, or first; not bars stacked
    like a hatching) is a line BAR_LINE times its widest bar tall: a bar's own height says nothing
    of the line's (a lone '-' read "31?)"). The line's pieces are those at least half as tall as
    the tallest, or as the second tallest where the tallest stands alone over two or more
    alike (LONE_TALL: a parenthesis twice the digits' height made them "small", "12)" read
    "7"); the 90th percentile of the columns' ink (a digit in two parts) raises their median
    height, by COLUMN_CAP at most where the tallest is over twice the others'."""
    tallest = max(comps, key=lambda c: c.height)  # (the first of them)
    hs = sorted((c.height for c in comps), reverse=True)
    ref = hs[0]
    if len(hs) >= 3 and hs[1] >= LONE_TALL * hs[0] and hs[2] >= 0.5 * hs[1]:
        ref = hs[1]  # one tall symbol over two or more alike: "12)" with a ')' 2.6 digits tall
    tall = [c for c in comps if c.height >= 0.5 * ref]
    h_tall = median_of([c.height for c in tall])
    if ref < 0.5 * hs[0]:  # (its columns too; a digit in two parts, an 8 of two loops, keeps them all)
        col_height = min(col_height, COLUMN_CAP * h_tall)
    height = max(h_tall, col_height)
    band = max(c.y1 for c in comps) - min(c.y0 for c in comps)
    if band <= BAR * sw and tallest.x1 - tallest.x0 >= 2 * tallest.height:  # bars (and specks) side by side
        height = max(height, BAR_LINE * max(c.x1 - c.x0 for c in comps))
    mid = median_of([(c.y0 + c.y1) / 2 for c in tall])
    row, start, end = runs
    a, b = edges
    slant = 0.0
    if len(a) and len(tall) >= 2:  # (one character alone has no neighbours to stand apart from)
        ups, downs = np.bincount(b, minlength=len(row)), np.bincount(a, minlength=len(row))
        narrow = (end - start) <= 2 * sw
        ok = narrow[a] & narrow[b] & (ups[b] == 1) & (downs[a] == 1)
        if ok.sum() >= 8:
            dx = ((start[b] + end[b]) - (start[a] + end[a]))[ok] / 2.0
            slant = float(np.clip(-np.median(dx), -MAX_SLANT, MAX_SLANT))
    cx = [(c.x0 + c.x1) / 2 for c in tall]
    base = fit_line(cx, [float(c.y1) for c in tall])
    top = fit_line(cx, [float(c.y0) for c in tall])
    return Line(sw, max(height, 2 * sw), slant, mid, base, top)


def _holds(c: Piece, o: Piece) -> bool:
    """Does ``c`` hold ``o`` as a frame holds a character: ``o`` is at least FRAME_HOLDS of its
    height tall, inside its box, with ``c``'s ink on all four sides of it (left and right in its
    rows, above and below in its columns)?"""
    if o is c or o.height < FRAME_HOLDS * c.height or not (c.x0 <= o.x0 and o.x1 <= c.x1 and c.y0 <= o.y0 and o.y1 <= c.y1):
        return False
    rows = (c.row >= o.y0) & (c.row < o.y1)
    cols = (c.start < o.x1) & (c.end > o.x0)
    return bool((rows & (c.end <= o.x0)).any() and (rows & (c.start >= o.x1)).any()
                and (cols & (c.row < o.y0)).any() and (cols & (c.row >= o.y1)).any())


def _zero_mark(p: Piece, sw: float) -> bool:
    """Could ``p`` be what a zero holds: a dot (at most ZERO_DOT stroke widths tall) or one
    straight stroke, its slash (in STROKE_ROWS of its rows the ink at most STROKE_WIDE stroke
    widths wide, its middle within one stroke width of the line fitted through the middles: a
    slash's hook at one end may fail, a 7's bars, a 4's two strokes, a 6's or 3's curves do)?"""
    if p.height <= ZERO_DOT * sw:
        return True
    n, (lo, hi) = p.height, p.extents()
    # The least-squares line m = (a y + b) / d through the rows' doubled middles m, in integers
    # (exact, and so the same in the JavaScript twin): y 0..n-1, d = n Syy - Sy^2.
    y, m = np.arange(n, dtype=np.int64), lo + hi - 1
    sy, syy, sm, sym = int(y.sum()), int((y * y).sum()), int(m.sum()), int((y * m).sum())
    d = n * syy - sy * sy
    a, b = n * sym - sy * sm, sm * syy - sy * sym
    near = (np.abs(m * d - (a * y + b)) <= 2 * max(1.0, sw) * d) & (hi - lo <= STROKE_WIDE * sw)
    return bool(near.sum() >= STROKE_ROWS * n)


def not_the_number(comps: list[Piece], sw: float) -> list[Piece]:
    """Step 3b: the components less the ink drawn around or under the number (which read as
    "0", or as a string of '-' and digits):

    - a frame, a box or a ring around the characters: it holds (``_holds``) two or more of them,
      or one that no zero would hold (``_zero_mark``: a zero holds its dot or its slash, one
      straight stroke, hooked at one end or not; so a 1 in a box is read with its box, a 7 not);
    - an underline: a bar at most UNDERLINE_FLAT of its length or BAR stroke widths tall, at
      least half as long as the tallest character, beneath the median bottom of the characters
      at least half as tall as the tallest and under the middle of every one of them.

    A frame that touches a character, or breaks at the working resolution (a thin pen's ring
    around a long number), is not found."""
    frames = []
    for c in comps:
        held = [o for o in comps if _holds(c, o)]
        if len(held) >= 2 or (len(held) == 1 and not _zero_mark(held[0], sw)):
            frames.append(c)
    rest = [c for c in comps if all(c is not f for f in frames)]
    under = []
    hs = sorted((c.height for c in rest), reverse=True)
    for c in rest:
        if len(rest) < 2 or c.height > max(UNDERLINE_FLAT * (c.x1 - c.x0), BAR * sw):
            continue
        tallest = hs[1] if c.height == hs[0] else hs[0]  # (of the others)
        if c.x1 - c.x0 < 0.5 * tallest:  # (a speck or a mark: no need to look at the others)
            continue
        chars = [o for o in rest if o is not c and o.height >= 0.5 * tallest]
        bottom = median_of([float(o.y1) for o in chars])
        if (c.y0 + c.y1) / 2 >= bottom and all(c.x0 <= (o.x0 + o.x1) / 2 <= c.x1 for o in chars):
            under.append(c)
    return [c for c in rest if all(c is not u for u in under)]


def components_of(page_mask: np.ndarray, engine: Engine) -> tuple[list[Piece], Line] | None:
    """Steps 1b-4 on a page's mask: its components (specks dropped), in reading order, and the
    line geometry; None when nothing is left. (``cuts.cut`` is step 5.)"""
    sw = engine.stroke_width(page_mask)
    col_height = column_height(page_mask)
    goal = MIN_STROKE * col_height  # (before growing: the same, give or take 2 rho)
    if sw < goal and sw < BROKEN:  # 1b. thin strokes grow to MIN_STROKE line heights (a broken stroke rejoins)
        page_mask = fit28.thicken(page_mask, int(inkmap.round_half_up((goal - sw) / 2)))
        sw = goal
        col_height = column_height(page_mask)  # (of the grown strokes, as the line's geometry sees them)
    sw = max(1.0, sw)
    row, start, end = runs_of(page_mask)
    a, b = run_edges(row, start, end)
    lab, n = engine.label_runs(len(row), a, b)
    found = [c for c in components(row, start, end, lab, n) if c.area >= SPECK_AREA * sw * sw]
    comps = not_the_number(found, sw)
    if not comps:
        return None
    if len(comps) < len(found):  # (a frame's or an underline's columns are no character's)
        col_height = column_height(paint(*joined(comps), (0, page_mask.shape[0], 0, page_mask.shape[1])))
    line = line_of(comps, (row, start, end), (a, b), sw, col_height)
    line.aside = len(found) - len(comps)
    comps = reading_order([c.deskew(line) for c in comps], line)
    return comps, line

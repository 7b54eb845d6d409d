"""Steps 2-3 of preprocessing (``digitpad.preprocess`` has the numbered specification): the
reduced planes and the ink map, plus the exact numeric helpers every step shares (and the number
reader's: the ink's column height, a short list's median, a baseline's straight line, whose
JavaScript twins are in ``static/segment.js``).

numpy only; each function is a small, exactly specified array operation that the C twin
(``digitpad/_fastpre.c``: ``block_mean``) and the JavaScript twin (``static/preprocess.js``)
follow line by line.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np


def round_half_up(x: np.ndarray | float) -> np.ndarray:
    """floor(x + 0.5): the rounding of every step (numpy's round is half-to-even; JS's is this)."""
    return np.floor(np.asarray(x, dtype=np.float64) + 0.5)


def median(v: np.ndarray) -> float:
    """``np.median`` of an array, by the same arithmetic (the mean of the two middle values for
    an even count), without its ~20 us of overhead: on a 28x28 image that overhead alone was a
    tenth of preprocessing."""
    v = np.ravel(v)
    n = v.size
    if n == 0 or v.dtype != np.float64 or np.isnan(v).any():
        return float(np.median(v))  # (empty: nan and a warning; other dtypes; NaN: nan)
    k = n // 2
    if n % 2:
        return float(np.partition(v, k)[k])
    p = np.partition(v, (k - 1, k))
    return float((p[k - 1] + p[k]) / 2)


def percentile(v: np.ndarray, q: float) -> float:
    """sorted(v)[floor(q * (len(v) - 1))]: a nearest-rank percentile with one exact definition."""
    v = np.ravel(v)
    k = int(math.floor(q * (len(v) - 1)))
    return float(np.partition(v, k)[k])


def block_mean(x: np.ndarray, k: int, divisor: float = 1.0) -> np.ndarray:
    """(H, W) -> (ceil(H / k), ceil(W / k)) float64: the exact mean of each k x k block
    (blocks cut by the right and bottom edges: the mean of the pixels they hold), then
    divided by ``divisor`` (alpha: 255), in that order."""
    x = np.asarray(x)
    h, w = x.shape
    if k == 1:
        return np.asarray(x, dtype=np.float64) / divisor
    # 8-bit pixels are summed as integers (exact, so the same as float64 sums, and 2-3x
    # faster: no float copy of the whole image) while the sums fit in int32.
    acc = np.int32 if x.dtype == np.uint8 and k * k * 255 < 2**31 else np.float64
    # Sum k strided slices per axis (much faster in numpy than a reshape-and-sum over a
    # short axis, and no padding, so a 1 x 40,000,000 image costs no more than its pixels).
    rows = np.zeros((-(-h // k), w), acc)  # (ceil(h / k), w): sums of groups of k rows
    for j in range(min(k, h)):
        part = x[j::k]  # rows j, j + k, j + 2k, ...
        rows[: len(part)] += part
    sums = np.zeros((rows.shape[0], -(-w // k)), acc)  # (ceil(h / k), ceil(w / k))
    for j in range(min(k, w)):
        part = rows[:, j::k]
        sums[:, : part.shape[1]] += part
    counts = np.outer(np.minimum(k, h - np.arange(0, h, k)), np.minimum(k, w - np.arange(0, w, k)))
    return sums / counts / divisor


def ring(x: np.ndarray) -> np.ndarray:
    """The outer band of width max(1, min(h, w) // 50), flattened."""
    h, w = x.shape
    b = max(1, min(h, w) // 50)
    if 2 * b >= min(h, w):
        return x.ravel()
    return np.concatenate([x[:b].ravel(), x[-b:].ravel(), x[b:-b, :b].ravel(), x[b:-b, -b:].ravel()])


def median_below(v: np.ndarray, t: float) -> bool:
    """np.median(v) < t, usually decided by counting (a canvas's ring is all 0 or all 1)."""
    below, half = int(np.count_nonzero(v < t)), len(v) // 2
    if below > half:  # both middle values (one when len(v) is odd) are below t
        return True
    if len(v) - below > half:  # (v >= t or NaN) the middle values are not below t
        return False
    return median(v) < t


RING_NOT_PAPER = 0.5  # step 3b: more than this share of a photo off its ring's level: the ring is not the paper


def grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Step 3b's samples: every st-th row and column (<= ~4096 points): (ys, xs) (n,) and the
    quadratic's (n, 6) design matrix (x, y centred, divided by max(h, w))."""
    st = max(1, int(round_half_up(math.sqrt(h * w / 4096.0))))
    ys, xs = np.mgrid[0:h:st, 0:w:st]
    side = float(max(h, w))
    x = ((xs.ravel() + 0.5) - w / 2) / side  # centred, in [-0.5, 0.5]
    y = ((ys.ravel() + 0.5) - h / 2) / side
    return ys.ravel(), xs.ravel(), np.stack([np.ones_like(x), x, y, x * x, x * y, y * y], axis=1)


def fit(g: np.ndarray, X: np.ndarray, resid: np.ndarray, sigma: float,
        first: np.ndarray | None = None) -> tuple[np.ndarray | None, float]:
    """Three least-squares passes of the quadratic to the samples ``g`` (n,), each on those whose
    residual is within max(3 sigma, 3) (the first pass: ``first`` when given): (6,) beta (None
    if no pass had 12 samples) and the sigma of the last pass's residuals."""
    beta = None
    for i in range(3):
        keep = first if i == 0 and first is not None else np.abs(resid) <= max(3 * sigma, 3.0)
        if keep.sum() < 12:
            break
        Xk = X[keep]
        beta = np.linalg.solve(Xk.T @ Xk + 1e-9 * np.eye(6), Xk.T @ g[keep])
        resid = g - X @ beta
        sigma = 1.4826 * median(np.abs(resid[keep]))
    return beta, sigma


def surface(b: np.ndarray, h: int, w: int) -> np.ndarray:
    """The quadratic of beta ``b`` at every pixel: (h, w)."""
    side = float(max(h, w))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    xx = (xx + 0.5 - w / 2) / side
    yy = (yy + 0.5 - h / 2) / side
    return b[0] + b[1] * xx + b[2] * yy + b[3] * xx * xx + b[4] * xx * yy + b[5] * yy * yy


def background(gray: np.ndarray) -> tuple[np.ndarray | float, float]:
    """Step 3b: smooth background estimate (scalar or (h, w)) and the noise sigma."""
    edge = ring(gray)
    bg = median(edge)
    if float(edge.max() - edge.min()) <= 2.0:
        return bg, 0.0  # (a drawing's or a scan's clean margin: the ring is the paper, however much ink)
    sigma = 1.4826 * median(np.abs(edge - bg))
    h, w = gray.shape
    ys, xs, X = grid(h, w)
    g = gray[ys, xs]  # (n,)
    first = None  # the samples of the first fit (None: those within max(3 sigma, 3) of the start)
    if sigma > 0.0 and np.count_nonzero(np.abs(g - bg) > max(3 * sigma, 3.0)) > RING_NOT_PAPER * g.size:
        # The ring is not the paper: a photographed sheet with the desk all round it (a photo's ring: sigma
        # > 0; a digital image's paper is one exact level however much ink there is, and its MAD 0).
        # Start from the image's bulk instead (the sheet: a photo's ink is a small share)...
        ring_bg, bg = bg, median(g)
        dev = np.abs(g - bg)
        near = dev < np.abs(g - ring_bg)  # (n,) nearer the bulk's level than the ring's
        sigma = 1.4826 * median(dev[near]) if near.any() else 0.0
        if abs(ring_bg - bg) > 3 * max(sigma, 1.0):
            first = near  # ... two levels far apart (a dark desk): the first fit sees the sheet alone
        else:
            sigma = 1.4826 * median(dev)
    beta, sigma = fit(g, X, g - bg, sigma, first)
    return surface(np.array([bg, 0, 0, 0, 0, 0], np.float64) if beta is None else beta, h, w), sigma


EDGE_RUN = 0.3  # step 3c: ink along at least this share of an image edge is a sheet's edge or the desk


def border_regions(mask: np.ndarray) -> np.ndarray:
    """Step 3c: the pixels of ``mask`` (h, w) bool connected (4-neighbours) to a run of at least
    ceil(EDGE_RUN n) consecutive mask pixels along one edge of the image (n: that edge's length)."""
    h, w = mask.shape
    seeds = np.zeros_like(mask)
    for line, n, where in ((mask[0], w, (0, slice(None))), (mask[-1], w, (h - 1, slice(None))),
                           (mask[:, 0], h, (slice(None), 0)), (mask[:, -1], h, (slice(None), w - 1))):
        need = math.ceil(EDGE_RUN * n)
        # runs of True: starts and ends from the differences of the 0/1 line padded with 0s
        edges = np.flatnonzero(np.diff(np.concatenate(([0], line.astype(np.int8), [0]))))
        keep = np.zeros(n, bool)
        for a, b in zip(edges[::2], edges[1::2]):
            if b - a >= need:
                keep[a:b] = True
        seeds[where] |= keep
    region = seeds
    while region.any():  # grow through the mask until nothing changes (a geodesic reconstruction), a
        # whole run of the mask at a time, along rows then columns: a few passes, not one per pixel of its reach
        grown = _runs_touching(_runs_touching(region, mask).T, mask.T).T
        if np.array_equal(grown, region):
            break
        region = grown
    return region


def _runs_touching(region: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(h, w) bool: the runs of ``mask`` along each row that hold a pixel of ``region`` (in the mask)."""
    starts = mask.copy()
    starts[:, 1:] &= ~mask[:, :-1]
    ids = np.cumsum(starts.ravel()) * mask.ravel()  # (h w,) the run each mask pixel is in, from 1; 0: not mask
    hit = np.zeros(int(ids.max()) + 1 if ids.size else 1, bool)
    hit[ids[region.ravel() & mask.ravel()]] = True
    hit[0] = False
    return hit[ids].reshape(mask.shape)


SHADOW_OPEN = 0.03  # step 3d: the regions' opening, a share of the image's short side
SHADOW_SHARE = 0.05  # the shadow at least this share of the image,
SHADOW_LIT = 0.2  # the lit paper along the image's edge at least this share, opened,
SHADOW_STEP = 6.0  # and the light falls by at least this many noise sigmas at the shadow's edge,
SHADOW_KEEPS = 0.35  # to no less than this share of the lit paper's (darker is ink),
SHADOW_FALLS = 0.2  # by at least this share of it (a milder dip: 3b's one surface serves; a sheet turned on a desk of its own grey)


def window_count(mask: np.ndarray, r: int, outside: bool) -> np.ndarray:
    """(h, w) int: the mask's pixels in each pixel's (2r + 1)^2 window (outside the image counts
    as ``outside``), from an integral image."""
    p = np.pad(mask.astype(np.int64), r, constant_values=int(outside))
    c = np.pad(p.cumsum(0).cumsum(1), ((1, 0), (1, 0)))  # (h + 2r + 1, w + 2r + 1)
    n = 2 * r + 1
    return c[n:, n:] - c[:-n, n:] - c[n:, :-n] + c[:-n, :-n]


def erode(mask: np.ndarray, r: int) -> np.ndarray:
    return window_count(mask, r, True) == (2 * r + 1) ** 2


def dilate(mask: np.ndarray, r: int) -> np.ndarray:
    return window_count(mask, r, False) > 0


def otsu(v: np.ndarray) -> float:
    """Otsu's threshold of the values ``v``: the midpoint of the sorted split with the greatest
    between-class variance (the first, on ties)."""
    v = np.sort(v)
    n = len(v)
    c = np.cumsum(v)
    k = np.arange(1, n)
    between = k * (n - k) * (c[:-1] / k - (c[-1] - c[:-1]) / (n - k)) ** 2
    j = int(np.argmax(between))
    return float((v[j] + v[j + 1]) / 2)


def _shade(below: np.ndarray, r: int) -> np.ndarray | None:
    """Step 3d's shadow: the pixels of ``below`` along the image's edge (``border_regions``), less
    what an opening of radius r cuts off (a digit's stroke that touches it) beyond 2r of what it
    keeps; None unless it, and the rest along the image's edge, opened, are large."""
    h, w = below.shape
    edge = border_regions(below)
    shade = dilate(erode(edge, r), 2 * r) & edge
    if shade.sum() < SHADOW_SHARE * h * w:
        return None
    lit = border_regions(~shade)  # the lit paper runs along the image's edge too (light ink on a board does not)
    return shade if dilate(erode(lit, r), r).sum() >= SHADOW_LIT * h * w else None


def two_levels(gray: np.ndarray, sigma: float, min_pixels: float) -> tuple[np.ndarray, float] | None:
    """Step 3d: a shadow's hard edge across the sheet (``sigma``: step 3b's): the (h, w) deviation
    from a background of two quadratics, the lit paper's and the shadow's, and its noise sigma;
    None when the light does not fall in a step (every drawing and most photos)."""
    h, w = gray.shape
    if sigma <= 0.0:
        return None  # (a drawing's paper is one level)
    ys, xs, X = grid(h, w)
    g = gray[ys, xs]  # (n,)
    r = max(1, int(round_half_up(SHADOW_OPEN * min(h, w))))
    shade, cut = None, otsu(g)
    for _ in range(2):  # Otsu's cut parts the shadow's paper from the lit paper, or else (a crop of much
        # ink) the ink from the paper, and the next cut, of the samples above it, parts the paper
        low = np.count_nonzero(g < cut)
        if low >= SHADOW_SHARE * g.size and g.size - low >= SHADOW_LIT * g.size and \
                SHADOW_KEEPS <= median(g[g < cut]) / max(median(g[g >= cut]), 1.0) <= 1.0 - SHADOW_FALLS:
            shade = _shade(gray < cut, r)  # (the two sides' medians already a shadow's levels: cheap, before the regions)
        if shade is not None or g.size - low < 2:
            break
        cut = otsu(g[g >= cut])
    for again in (True, False):  # fit each level on its own samples; then split halfway between them, once
        if shade is None:
            return None
        inside = shade[ys, xs]
        levels = []
        for part in (inside, ~inside):
            gp = g[part]
            m = median(gp)
            beta, s = fit(gp, X[part], gp - m, 1.4826 * median(np.abs(gp - m)))
            if beta is None:
                return None
            levels.append((surface(beta, h, w), s))
        (dark, s_dark), (lit, s_lit) = levels
        if again:
            shade = _shade(gray < (dark + lit) / 2, r)
    sig = max(s_lit, s_dark)
    rim = dilate(shade, 1) & ~shade  # the lit pixels along the shadow's edge
    if median((lit - dark)[rim]) < SHADOW_STEP * max(sig, 1.0):
        return None  # (one light, which two quadratics fit alike: no step)
    keeps = median(dark[rim] / np.maximum(lit[rim], 1.0))  # the share of the light the shadow keeps
    if keeps < SHADOW_KEEPS or keeps > 1.0 - SHADOW_FALLS:
        return None  # (darker than a shadow: ink, a close-up thick digit's stroke; or a dip 3b's one surface follows)
    # Within r of the shadow's edge, paper between the two levels is the edge's blur, not ink.
    band = dilate(shade, r) & ~erode(shade, r)
    bg = np.where(shade, dark, lit)
    bg = np.where(band, np.clip(gray, np.minimum(dark, lit), np.maximum(dark, lit)), bg)
    # A shadow dims the ink with the paper: its deviation is scaled to the lit paper's contrast.
    gain = np.where(shade | band, lit / np.maximum(bg, 1.0), 1.0)
    sig = max(s_lit, s_dark * median(gain[shade]))
    d = (gray - bg) * gain
    if light_on_dark(d, max(3 * sig, 4.0)):
        return None  # (light ink on a dark board: the board is no paper in a shadow)
    if np.count_nonzero(np.abs(d) > max(4 * sig, 10.0)) < min_pixels:
        return None  # (the "shadow" was the ink: a close-up thick digit along the image's edge)
    return d, sig


def relit(d: np.ndarray, bg: np.ndarray, sigma: float) -> tuple[np.ndarray, float]:
    """Step 3d, where no step was found: when 3b's one surface ``bg`` (h, w), lit (its darkest at
    least 1), falls by more than SHADOW_FALLS of its brightest (a soft shadow, a lamp to one side), the
    deviation ``d`` is scaled by median(bg) / bg: the ink's contrast falls with the light, and is
    given back. Else ``d`` and ``sigma`` unchanged."""
    lo, hi = float(bg.min()), float(bg.max())
    if lo < 1.0 or lo / hi >= 1.0 - SHADOW_FALLS:
        return d, sigma  # (an unlit background, a digital image's black: no light to scale by)
    gain = median(bg) / np.maximum(bg, 1.0)  # (h, w)
    return d * gain, sigma * median(gain)


def ink(gray: np.ndarray, alpha: np.ndarray | None, min_pixels: float,
        not_ink: Callable[[np.ndarray, float], np.ndarray] | None = None) -> tuple[np.ndarray, float, str]:
    """Steps 3b-3d (3a, a transparent background, is decided by the caller before ``gray`` is
    computed): (h, w) ink map in [0, 255] (ink bright), noise sigma, polarity. ``not_ink`` (the
    number reader's: a sheet's rules) maps the deviation from the background and the noise
    sigma to the (h, w) bool pixels that are not ink, dropped before step 3c (a digit touching
    a rule is otherwise taken, with the rules, for the sheet's border)."""
    if alpha is not None:
        ring_g, ring_a = ring(gray), ring(alpha)
        paper = median(ring_g[ring_a >= 0.5])
        gray = alpha * gray + (1.0 - alpha) * paper
    bg, sigma = background(gray)
    d = gray - bg  # (h, w) signed deviation from the background
    lit = two_levels(gray, sigma, min_pixels)
    if lit is not None:
        d, sigma = lit
    elif sigma > 0.0:
        d, sigma = relit(d, bg, sigma)
    t = max(3 * sigma, 4.0)
    if not_ink is not None:
        d = np.where(not_ink(d, sigma), 0.0, d)
    # 3c. a photographed sheet's edge, the desk around it, a scanner's dark border: regions that
    # run along an image edge are not the digit, when ink remains elsewhere.
    edge = border_regions(d > t) | border_regions(-d > t)
    if edge.any() and np.count_nonzero((np.abs(d) > max(4 * sigma, 10.0)) & ~edge) >= min_pixels:
        d = np.where(edge, 0.0, d)
    if light_on_dark(d, t):
        return np.maximum(d, 0.0), sigma, "light-on-dark"
    return np.maximum(-d, 0.0), sigma, "dark-on-light"


def light_on_dark(d: np.ndarray, t: float) -> bool:
    """Step 3b's polarity test: S+ = sum(max(d - t, 0)) > S- = sum(max(-d - t, 0))."""
    # (np.maximum, not np.clip: the same values, without clip's Python-level overhead)
    return float(np.maximum(d - t, 0.0).sum()) > float(np.maximum(-d - t, 0.0).sum())


def column_height(mask: np.ndarray) -> float:
    """90th percentile of the ink's vertical extent over the columns that hold ink."""
    cols = mask.any(axis=0)
    if not cols.any():
        return 0.0
    m = mask[:, cols]
    top = m.argmax(axis=0)
    bottom = m.shape[0] - m[::-1].argmax(axis=0)
    return percentile((bottom - top).astype(np.float64), 0.9)


def median_of(v: list[float]) -> float:
    """The median of a short Python list (np.median costs ~0.1 ms a call; the reader makes many)."""
    s = sorted(v)
    n = len(s)
    return float(s[n // 2]) if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2.0


def fit_line(x: list[float], y: list[float], clip: float = 0.15) -> tuple[float, float]:
    """Least squares y = a + b x (flat, the median, with fewer than three points); the slope is
    clipped to +-``clip`` (a drifting baseline; ``level`` asks for a turned line's, unclipped). Plain
    Python: a line has a few characters, and this is the JS twin's arithmetic."""
    if len(x) < 3 or max(x) == min(x):
        return median_of(y), 0.0
    mx, my = sum(x) / len(x), sum(y) / len(y)
    sxy = sum((xi - mx) * (yi - my) for xi, yi in zip(x, y))
    sxx = sum((xi - mx) ** 2 for xi in x)
    b = min(max(sxy / sxx, -clip), clip)
    return median_of([yi - b * xi for xi, yi in zip(x, y)]), b

// The browser's copy of digitpad.preprocess.to_mnist: RGBA pixels -> the 28x28 model input.
//
// A step-by-step port of digitpad/preprocess.py (the numbered steps of its docstring; the same
// constants, the same rounding: round(x) = floor(x + 0.5)). tests/test_ondevice.py renders
// hundreds of drawings, runs this and the Python code on the same PNGs, and fails on any
// difference in the digit read. Arrays are row-major Float64Array / Uint8Array with explicit
// (h, w); "mask" arrays hold 0/1 bytes.
//
//   const pre = toMnist(imageData);   // {image: Uint8Array(784) white ink on black, empty: bool}
//   const x = normalize(pre.image, metadata.normalization);   // Float32Array(784), (1, 1, 28, 28)

export const WORK_SIDE = 200;
export const INTER_SIDE = 80;
export const PAD = 8;
export const STROKE_TARGET = 0.12;
export const STROKE_MAX = 0.2;
export const MAX_THIN = 0.3;
export const MIN_INK_PIXELS = 4;
export const MIN_INK_SHARE = 0.0005;
export const MIN_CONTRAST = 16.0;
export const ZOOM_SIDE = 24;
export const EDGE_RUN = 0.3;
export const RING_NOT_PAPER = 0.5;  // step 3b: more than this share of a photo off its ring's level: the ring is not the paper
export const SHADOW_OPEN = 0.03;  // step 3d (inkmap.two_levels): the regions' opening, a share of the short side
export const SHADOW_SHARE = 0.05;  // the shadow at least this share of the image,
export const SHADOW_LIT = 0.2;  // the lit paper along the image's edge at least this share, opened,
export const SHADOW_STEP = 6.0;  // and the light falls by at least this many noise sigmas at its edge,
export const SHADOW_KEEPS = 0.35;  // to no less than this share of the lit paper's (darker is ink),
export const SHADOW_FALLS = 0.2;  // by at least this share of it (a milder dip: 3b's one surface serves)

export const roundHalfUp = (x) => Math.floor(x + 0.5);

/** new Type(x.length) holding fn(x[i]): what Type.from(x, fn) does, as a plain loop (V8's
 *  TypedArray.from with a map function is ~10x slower, and it ran for every candidate character). */
export function mapTo(Type, x, fn) {
  const out = new Type(x.length);
  for (let i = 0; i < x.length; i++) out[i] = fn(x[i]);
  return out;
}

/** numpy's median: the middle value, or the mean of the two middle values. */
export function median(values) {
  const v = Float64Array.from(values).sort();
  const n = v.length;
  return n % 2 ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/** [min, max] of values of any length (Math.max(...v) overflows the call stack past ~100k
 * values: the ring of a big opaque photo holds more). */
function extent(values) {
  let lo = Infinity, hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

/** sorted(v)[floor(q (len(v) - 1))]: preprocess.percentile. */
export function percentile(values, q) {
  const v = Float64Array.from(values).sort();
  return v[Math.floor(q * (v.length - 1))];
}

// ------------------------------------------------------------------ array helpers

/** preprocess.block_mean: (H, W) -> (ceil(H/k), ceil(W/k)) exact block means. */
export function blockMean(x, h, w, k) {
  if (k === 1) return { a: Float64Array.from(x), h, w };
  const H = Math.ceil(h / k), W = Math.ceil(w / k);
  const sums = new Float64Array(H * W);
  for (let y = 0; y < h; y++) {
    const row = Math.floor(y / k) * W;
    for (let xx = 0; xx < w; xx++) sums[row + Math.floor(xx / k)] += x[y * w + xx];
  }
  for (let by = 0; by < H; by++) {
    const rows = Math.min(k, h - by * k);
    for (let bx = 0; bx < W; bx++) sums[by * W + bx] /= rows * Math.min(k, w - bx * k);
  }
  return { a: sums, h: H, w: W };
}

/** preprocess.resample_area along rows: (n, m) -> (nOut, m). (sequence.js's view uses it too.) */
export function resampleRows(x, n, m, nOut, scale, offset) {
  const csum = new Float64Array((n + 1) * m);   // csum[j] = sum(x[:j]), sequential like np.cumsum
  for (let j = 0; j < n; j++) {
    for (let c = 0; c < m; c++) csum[(j + 1) * m + c] = csum[j * m + c] + x[j * m + c];
  }
  const integral = new Float64Array((nOut + 1) * m);   // F(t) at each output edge
  for (let i = 0; i <= nOut; i++) {
    const t = Math.min(Math.max((i - offset) / scale, 0), n);
    const i0 = Math.min(Math.trunc(t), n - 1);
    const frac = t - i0;
    for (let c = 0; c < m; c++) integral[i * m + c] = csum[i0 * m + c] + frac * x[i0 * m + c];
  }
  const out = new Float64Array(nOut * m);
  for (let i = 0; i < nOut; i++) {
    for (let c = 0; c < m; c++) out[i * m + c] = (integral[(i + 1) * m + c] - integral[i * m + c]) * scale;
  }
  return out;
}

function transpose(x, h, w) {
  const out = new x.constructor(h * w);
  for (let y = 0; y < h; y++) for (let c = 0; c < w; c++) out[c * h + y] = x[y * w + c];
  return out;
}

/** resample_area along columns: (n, m) -> (n, mOut), through a transpose as in Python. */
export function resampleCols(x, n, m, mOut, scale, offset) {
  return transpose(resampleRows(transpose(x, n, m), m, n, mOut, scale, offset), mOut, n);
}

/** preprocess.stroke_width: mean stroke width (px) of a binary (h, w) mask, from area and perimeter. */
export function strokeWidth(mask, h, w) {
  let a = 0;
  for (let i = 0; i < mask.length; i++) a += mask[i];
  if (a === 0) return 0;
  const at = (y, x) => (y < 0 || x < 0 || y >= h || x >= w ? 0 : mask[y * w + x]);
  // |gradient| of a 2x2 cell is 1 for a straight edge (two side-by-side pixels), sqrt(1/2) for
  // a corner (one or three pixels), else 0: P = edges + sqrt(1/2) corners, rounded as in Python.
  let edges = 0, corners = 0;
  for (let y = -1; y < h; y++) {
    for (let x = -1; x < w; x++) {
      const tl = at(y, x), tr = at(y, x + 1), bl = at(y + 1, x), br = at(y + 1, x + 1);
      const n = tl + tr + bl + br;
      if (n === 1 || n === 3) corners++;
      else if (n === 2 && tl !== br) edges++;
    }
  }
  const p = edges + corners * Math.sqrt(0.5);
  return (p / 2 - Math.sqrt(Math.max(p * p / 4 - 4 * a, 0))) / 2;
}

/** One 3-tap max (min if shrink) along axis 0 (columns of rows) or 1; outside is background. */
function shiftOp(m, h, w, axis, shrink) {
  const out = new Uint8Array(h * w);
  const n = axis === 0 ? h : w;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = axis === 0 ? y : x;
      const prev = i > 0 ? m[axis === 0 ? (y - 1) * w + x : y * w + x - 1] : null;
      const next = i < n - 1 ? m[axis === 0 ? (y + 1) * w + x : y * w + x + 1] : null;
      const v = m[y * w + x];
      if (shrink) out[y * w + x] = prev === null || next === null ? 0 : v & prev & next;
      else out[y * w + x] = v | (prev ?? 0) | (next ?? 0);
    }
  }
  return out;
}

function grow(mask, h, w, steps, cross, shrink) {
  for (let s = 0; s < steps; s++) {
    if (cross) {
      const rows = shiftOp(mask, h, w, 0, shrink), cols = shiftOp(mask, h, w, 1, shrink);
      mask = rows.map((r, i) => (shrink ? r & cols[i] : r | cols[i]));
    } else {
      mask = shiftOp(shiftOp(mask, h, w, 0, shrink), h, w, 1, shrink);
    }
  }
  return mask;
}

/** preprocess.thicken: grow (rho > 0) or shrink (rho < 0) strokes by |rho| px with an octagon. */
export function thicken(mask, h, w, rho) {
  const n = Math.abs(rho);
  if (n === 0) return mask;
  const a = roundHalfUp(n / 2.414);
  mask = grow(mask, h, w, a, false, rho < 0);
  return grow(mask, h, w, n - a, true, rho < 0);
}

/** [y0, y1, x0, x1] (end-exclusive) of the set pixels, or null. */
export function bbox(mask, h, w) {
  let y0 = h, y1 = -1, x0 = w, x1 = -1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (mask[y * w + x]) {
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
      }
    }
  }
  return y1 < 0 ? null : [y0, y1 + 1, x0, x1 + 1];
}

/** Step 5: drop small runs of ink at the ends of the row, then column, profiles. */
function trimSpecks(mask, h, w) {
  mask = Uint8Array.from(mask);
  for (const byRows of [true, false]) {
    const len = byRows ? h : w;
    const prof = new Float64Array(len);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) prof[byRows ? y : x] += mask[y * w + x];
    let total = 0;
    for (const v of prof) total += v;
    if (total === 0) return mask;
    const gap = Math.max(2, Math.floor(len / 50));
    const idx = [];
    for (let j = 0; j < len; j++) if (prof[j]) idx.push(j);
    const runs = [];
    let start = idx[0], prev = idx[0];
    for (const j of idx.slice(1)) {
      if (j - prev > gap) {
        runs.push([start, prev + 1]);
        start = j;
      }
      prev = j;
    }
    runs.push([start, prev + 1]);
    const keep = runs.map(([a, b]) => { let s = 0; for (let j = a; j < b; j++) s += prof[j]; return s; });
    const drop = ([a, b]) => {
      for (let j = a; j < b; j++) {
        if (byRows) mask.fill(0, j * w, (j + 1) * w);
        else for (let y = 0; y < h; y++) mask[y * w + j] = 0;
      }
    };
    while (runs.length > 1 && keep[0] < 0.02 * total) { drop(runs.shift()); keep.shift(); }
    while (runs.length > 1 && keep[keep.length - 1] < 0.02 * total) { drop(runs.pop()); keep.pop(); }
  }
  return mask;
}

// ------------------------------------------------------------------ steps 1-3

/** The outer band of width max(1, min(h, w) // 50), as a plain array (order irrelevant: medians). */
export function ring(x, h, w) {
  const b = Math.max(1, Math.floor(Math.min(h, w) / 50));
  if (2 * b >= Math.min(h, w)) return Array.from(x);
  const out = [];
  for (let y = 0; y < h; y++) {
    for (let c = 0; c < w; c++) {
      if (y < b || y >= h - b || c < b || c >= w - b) out.push(x[y * w + c]);
    }
  }
  return out;
}

/** Solve the 6x6 system A beta = v by Gaussian elimination with partial pivoting. */
function solve6(A, v) {
  const n = 6;
  const M = A.map((row, i) => [...row, v[i]]);
  for (let c = 0; c < n; c++) {
    let piv = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r][c]) > Math.abs(M[piv][c])) piv = r;
    [M[c], M[piv]] = [M[piv], M[c]];
    for (let r = c + 1; r < n; r++) {
      const f = M[r][c] / M[c][c];
      for (let k = c; k <= n; k++) M[r][k] -= f * M[c][k];
    }
  }
  const beta = new Array(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = M[r][n];
    for (let k = r + 1; k < n; k++) s -= M[r][k] * beta[k];
    beta[r] = s / M[r][r];
  }
  return beta;
}

/** Step 3b's samples (inkmap.grid): every st-th row and column, their indices into the image
 *  and the quadratic's design rows. */
function grid(h, w) {
  const st = Math.max(1, roundHalfUp(Math.sqrt(h * w / 4096.0)));
  const side = Math.max(h, w);
  const idx = [], X = [];
  for (let y = 0; y < h; y += st) {
    for (let x = 0; x < w; x += st) {
      const xc = ((x + 0.5) - w / 2) / side, yc = ((y + 0.5) - h / 2) / side;
      X.push([1, xc, yc, xc * xc, xc * yc, yc * yc]);
      idx.push(y * w + x);
    }
  }
  return { idx, X };
}

/** Three robust least-squares passes of the quadratic (inkmap.fit): {beta (null if no pass had
 *  12 samples), sigma}. */
function fitQuad(g, X, resid, sigma, first = null) {
  let beta = null;
  for (let pass = 0; pass < 3; pass++) {
    const lim = Math.max(3 * sigma, 3.0);
    const keep = pass === 0 && first !== null ? first : resid.map((r) => Math.abs(r) <= lim);
    if (keep.filter(Boolean).length < 12) break;
    const A = Array.from({ length: 6 }, (_, i) => Array.from({ length: 6 }, (_, j) => (i === j ? 1e-9 : 0)));
    const v = new Array(6).fill(0);
    const XtX = Array.from({ length: 6 }, () => new Array(6).fill(0));
    for (let s = 0; s < X.length; s++) {
      if (!keep[s]) continue;
      const row = X[s];
      for (let i = 0; i < 6; i++) {
        v[i] += row[i] * g[s];
        for (let j = 0; j < 6; j++) XtX[i][j] += row[i] * row[j];
      }
    }
    for (let i = 0; i < 6; i++) for (let j = 0; j < 6; j++) A[i][j] += XtX[i][j];
    const b = solve6(A, v);
    beta = b;
    resid = X.map((row, s) => g[s] - (row[0] * b[0] + row[1] * b[1] + row[2] * b[2]
      + row[3] * b[3] + row[4] * b[4] + row[5] * b[5]));
    sigma = 1.4826 * median(resid.filter((_, s) => keep[s]).map(Math.abs));
  }
  return { beta, sigma };
}

/** The quadratic of beta b at every pixel (inkmap.surface): h*w Float64Array. */
function surfaceOf(b, h, w) {
  const side = Math.max(h, w);
  const out = new Float64Array(h * w);
  for (let y = 0; y < h; y++) {
    const yy = (y + 0.5 - h / 2) / side;
    for (let x = 0; x < w; x++) {
      const xx = (x + 0.5 - w / 2) / side;
      out[y * w + x] = b[0] + b[1] * xx + b[2] * yy + b[3] * xx * xx + b[4] * xx * yy + b[5] * yy * yy;
    }
  }
  return out;
}

/** Step 3b: background surface (h*w Float64Array, or a number) and the noise sigma. */
function background(gray, h, w) {
  const rg = ring(gray, h, w);
  let bg = median(rg);
  const [lo, hi] = extent(rg);
  if (hi - lo <= 2.0) return { bg, sigma: 0 };   // (a drawing's or a scan's clean margin: the ring is the paper)
  let sigma = 1.4826 * median(rg.map((v) => Math.abs(v - bg)));
  const { idx, X } = grid(h, w);
  const g = idx.map((i) => gray[i]);   // (n,) samples
  let first = null;  // the samples of the first fit (null: those within max(3 sigma, 3) of the start)
  const off = Math.max(3 * sigma, 3.0);
  if (sigma > 0.0 && g.filter((v) => Math.abs(v - bg) > off).length > RING_NOT_PAPER * g.length) {
    // The ring is not the paper (a photographed sheet with the desk all round it): start from the image's bulk (inkmap.background).
    const ringBg = bg;
    bg = median(g);
    const dev = g.map((v) => Math.abs(v - bg));
    const near = g.map((v, s) => dev[s] < Math.abs(v - ringBg));
    const nearDev = dev.filter((_, s) => near[s]);
    sigma = nearDev.length ? 1.4826 * median(nearDev) : 0.0;
    if (Math.abs(ringBg - bg) > 3 * Math.max(sigma, 1.0)) first = near;   // two levels far apart: the sheet alone first
    else sigma = 1.4826 * median(dev);
  }
  const fitted = fitQuad(g, X, g.map((v) => v - bg), sigma, first);
  return { bg: surfaceOf(fitted.beta ?? [bg, 0, 0, 0, 0, 0], h, w), sigma: fitted.sigma };
}

/** Step 3c: the pixels of mask (h, w) connected (4-neighbours) to a run of at least
 *  ceil(EDGE_RUN n) mask pixels along one edge of the image. */
export function borderRegions(mask, h, w) {
  const region = new Uint8Array(h * w);
  const edges = [[w, (i) => i], [w, (i) => (h - 1) * w + i], [h, (i) => i * w], [h, (i) => i * w + w - 1]];
  let any = false;
  for (const [n, at] of edges) {
    const need = Math.ceil(EDGE_RUN * n);
    let start = -1;
    for (let i = 0; i <= n; i++) {
      const on = i < n && mask[at(i)];
      if (on && start < 0) start = i;
      if (!on && start >= 0) {
        if (i - start >= need) {
          for (let j = start; j < i; j++) region[at(j)] = 1;
          any = true;
        }
        start = -1;
      }
    }
  }
  while (any) {   // grow through the mask until nothing changes
    const grown = region.slice();
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const i = y * w + x;
        if (region[i] || !mask[i]) continue;
        if ((y > 0 && region[i - w]) || (y < h - 1 && region[i + w]) || (x > 0 && region[i - 1]) ||
            (x < w - 1 && region[i + 1])) grown[i] = 1;
      }
    }
    let changed = false;
    for (let i = 0; i < h * w; i++) {
      if (grown[i] !== region[i]) { changed = true; break; }
    }
    if (!changed) break;
    region.set(grown);
  }
  return region;
}

/** The mask's pixels in each pixel's (2r + 1)^2 window, outside the image counting as
 *  `outside` (inkmap.window_count): h*w Int32Array, from an integral image. */
function windowCount(mask, h, w, r, outside) {
  const W = w + 2 * r + 1, H = h + 2 * r + 1;
  const c = new Int32Array(H * W);   // c[(y + 1) W + x + 1]: the padded mask's sum over [0, y] x [0, x]
  for (let y = 0; y < H - 1; y++) {
    let row = 0;
    for (let x = 0; x < W - 1; x++) {
      const yy = y - r, xx = x - r;
      row += yy >= 0 && yy < h && xx >= 0 && xx < w ? mask[yy * w + xx] : outside;
      c[(y + 1) * W + x + 1] = c[y * W + x + 1] + row;
    }
  }
  const n = 2 * r + 1;
  const out = new Int32Array(h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      out[y * w + x] = c[(y + n) * W + x + n] - c[y * W + x + n] - c[(y + n) * W + x] + c[y * W + x];
    }
  }
  return out;
}

const erode = (mask, h, w, r) => mapTo(Uint8Array, windowCount(mask, h, w, r, 1), (v) => (v === (2 * r + 1) ** 2 ? 1 : 0));
const dilate = (mask, h, w, r) => mapTo(Uint8Array, windowCount(mask, h, w, r, 0), (v) => (v > 0 ? 1 : 0));
const count = (mask) => mask.reduce((a, v) => a + (v ? 1 : 0), 0);

/** Otsu's threshold (inkmap.otsu): the midpoint of the sorted split with the greatest
 *  between-class variance (the first, on ties). */
function otsu(values) {
  const v = Float64Array.from(values).sort();
  const n = v.length;
  const c = new Float64Array(n);
  let acc = 0;
  for (let i = 0; i < n; i++) c[i] = acc += v[i];
  let best = -Infinity, j = 0;
  for (let k = 1; k < n; k++) {
    const between = k * (n - k) * (c[k - 1] / k - (c[n - 1] - c[k - 1]) / (n - k)) ** 2;
    if (between > best) { best = between; j = k - 1; }
  }
  return (v[j] + v[j + 1]) / 2;
}

/** Step 3d's shadow (inkmap._shade): the pixels of `below` along the image's edge, less what an
 *  opening of radius r cuts off beyond 2r of what it keeps; null unless it, and the rest along
 *  the image's edge, opened, are large. */
function shade(below, h, w, r) {
  const edge = borderRegions(below, h, w);
  const grown = dilate(erode(edge, h, w, r), h, w, 2 * r);
  const out = new Uint8Array(h * w);
  for (let i = 0; i < h * w; i++) out[i] = edge[i] && grown[i] ? 1 : 0;
  if (count(out) < SHADOW_SHARE * h * w) return null;
  const lit = borderRegions(mapTo(Uint8Array, out, (v) => 1 - v), h, w);   // the lit paper along the image's edge too
  return count(dilate(erode(lit, h, w, r), h, w, r)) >= SHADOW_LIT * h * w ? out : null;
}

/** Step 3d (inkmap.two_levels): a shadow's hard edge across the sheet: {d, sigma} from a
 *  background of two quadratics, the lit paper's and the shadow's; null when the light does not
 *  fall in a step. */
function twoLevels(gray, h, w, sigma, minPixels) {
  if (sigma <= 0.0) return null;
  const { idx, X } = grid(h, w);
  const g = idx.map((i) => gray[i]);
  const r = Math.max(1, roundHalfUp(SHADOW_OPEN * Math.min(h, w)));
  let region = null, cut = otsu(g);
  for (let k = 0; k < 2; k++) {   // the shadow's paper from the lit paper, or else the ink from the paper and then the paper
    const below = g.filter((v) => v < cut), above = g.filter((v) => v >= cut);
    const low = below.length;
    if (low >= SHADOW_SHARE * g.length && g.length - low >= SHADOW_LIT * g.length) {
      const keeps = median(below) / Math.max(median(above), 1.0);   // the two sides' medians already a shadow's levels
      if (keeps >= SHADOW_KEEPS && keeps <= 1.0 - SHADOW_FALLS) region = shade(mapTo(Uint8Array, gray, (v) => (v < cut ? 1 : 0)), h, w, r);
    }
    if (region !== null || g.length - low < 2) break;
    const c = cut;
    cut = otsu(g.filter((v) => v >= c));
  }
  let dark = null, lit = null, sDark = 0, sLit = 0;
  for (const again of [true, false]) {   // fit each level on its own samples; then split halfway between them, once
    if (region === null) return null;
    const levels = [];
    for (const want of [1, 0]) {
      const part = idx.map((i) => region[i] === want);
      const gp = g.filter((_, s) => part[s]);
      const m = median(gp);
      const fitted = fitQuad(gp, X.filter((_, s) => part[s]), gp.map((v) => v - m), 1.4826 * median(gp.map((v) => Math.abs(v - m))));
      if (fitted.beta === null) return null;
      levels.push([surfaceOf(fitted.beta, h, w), fitted.sigma]);
    }
    [[dark, sDark], [lit, sLit]] = levels;
    if (again) {
      const half = new Uint8Array(h * w);
      for (let i = 0; i < h * w; i++) half[i] = gray[i] < (dark[i] + lit[i]) / 2 ? 1 : 0;
      region = shade(half, h, w, r);
    }
  }
  let sig = Math.max(sLit, sDark);
  const near = dilate(region, h, w, 1);
  const steps = [], kept = [];   // along the shadow's edge: how far the light falls, and the share it keeps
  for (let i = 0; i < h * w; i++) {
    if (near[i] && !region[i]) {
      steps.push(lit[i] - dark[i]);
      kept.push(dark[i] / Math.max(lit[i], 1.0));
    }
  }
  if (median(steps) < SHADOW_STEP * Math.max(sig, 1.0)) return null;   // (one light: no step)
  const keeps = median(kept);
  if (keeps < SHADOW_KEEPS || keeps > 1.0 - SHADOW_FALLS) return null;   // (ink along the edge; or a dip 3b's one surface follows)
  // Within r of the shadow's edge, paper between the two levels is the edge's blur, not ink;
  // a shadow dims the ink with the paper: its deviation is scaled to the lit paper's contrast.
  const outer = dilate(region, h, w, r), inner = erode(region, h, w, r);
  const out = new Float64Array(h * w);
  const gains = [];
  for (let i = 0; i < h * w; i++) {
    const band = outer[i] && !inner[i];
    let bg = region[i] ? dark[i] : lit[i];
    if (band) bg = Math.min(Math.max(gray[i], Math.min(dark[i], lit[i])), Math.max(dark[i], lit[i]));
    const gain = region[i] || band ? lit[i] / Math.max(bg, 1.0) : 1.0;
    if (region[i]) gains.push(gain);
    out[i] = (gray[i] - bg) * gain;
  }
  sig = Math.max(sLit, sDark * median(gains));
  if (lightOnDark(out, Math.max(3 * sig, 4.0))) return null;   // (light ink on a dark board: the board is no paper in a shadow)
  const strong = Math.max(4 * sig, 10.0);
  if (out.filter((v) => Math.abs(v) > strong).length < minPixels) return null;   // (the "shadow" was the ink)
  return { d: out, sigma: sig };
}

/** Step 3d where no step was found (inkmap.relit): when 3b's one surface falls by more than
 *  SHADOW_FALLS of its brightest, the deviation is scaled by median(bg) / bg (the ink's contrast
 *  falls with the light, and is given back). */
function relit(d, bg, sigma) {
  const [lo, hi] = extent(bg);
  if (lo < 1.0 || lo / hi >= 1.0 - SHADOW_FALLS) return { d, sigma };   // (an unlit background: a digital image's black)
  const m = median(bg);
  const gain = mapTo(Float64Array, bg, (v) => m / Math.max(v, 1.0));
  return { d: d.map((v, i) => v * gain[i]), sigma: sigma * median(gain) };
}

/** Step 3b's polarity test (inkmap.light_on_dark): S+ = sum(max(d - t, 0)) > S- = sum(max(-d - t, 0)). */
function lightOnDark(d, t) {
  let sPos = 0, sNeg = 0;
  for (const v of d) {
    sPos += Math.max(v - t, 0);
    sNeg += Math.max(-v - t, 0);
  }
  return sPos > sNeg;
}

/** Step 3: ink map (ink bright, [0, 255]), noise sigma and polarity. `notInk` (the number
 *  reader's: a sheet's rules, segment.js) maps the deviation from the background and the noise
 *  sigma to the 0/1 pixels that are not ink, dropped before step 3c (inkmap.ink's not_ink). */
export function inkMap(gray, alpha, h, w, minPixels, notInk = null) {
  if (alpha !== null && median(ring(alpha, h, w)) < 0.5) {
    return { ink: alpha.map((a) => a * 255.0), noise: 0, polarity: "alpha" };
  }
  if (alpha !== null) {
    const rg = ring(gray, h, w), ra = ring(alpha, h, w);
    const paper = median(rg.filter((_, i) => ra[i] >= 0.5));
    gray = gray.map((g, i) => alpha[i] * g + (1.0 - alpha[i]) * paper);
  }
  const fitted = background(gray, h, w);
  const bg = fitted.bg;
  let sigma = fitted.sigma;
  let d = typeof bg === "number" ? gray.map((v) => v - bg) : gray.map((v, i) => v - bg[i]);
  const lit = typeof bg === "number" ? null : twoLevels(gray, h, w, sigma, minPixels);
  if (lit !== null) ({ d, sigma } = lit);
  else if (sigma > 0.0) ({ d, sigma } = relit(d, bg, sigma));
  const t = Math.max(3 * sigma, 4.0);
  if (notInk !== null) {
    const drop = notInk(d, sigma, h, w);
    d = d.map((v, i) => (drop[i] ? 0.0 : v));
  }
  // 3c. a sheet's edge or the desk along the image's edges is not ink, when ink remains elsewhere.
  const pos = borderRegions(mapTo(Uint8Array, d, (v) => (v > t ? 1 : 0)), h, w);
  const neg = borderRegions(mapTo(Uint8Array, d, (v) => (-v > t ? 1 : 0)), h, w);
  let edge = false, rest = 0;
  const strong = Math.max(4 * sigma, 10.0);
  for (let i = 0; i < h * w; i++) {
    if (pos[i] || neg[i]) edge = true;
    else if (Math.abs(d[i]) > strong) rest++;
  }
  if (edge && rest >= minPixels) d = d.map((v, i) => (pos[i] || neg[i] ? 0.0 : v));
  if (lightOnDark(d, t)) return { ink: d.map((v) => Math.max(v, 0)), noise: sigma, polarity: "light-on-dark" };
  return { ink: d.map((v) => Math.max(-v, 0)), noise: sigma, polarity: "dark-on-light" };
}

// ------------------------------------------------------------------ to_mnist

const EMPTY = () => ({ image: new Uint8Array(784), empty: true });

/**
 * RGBA pixels ({data, width, height}, e.g. an ImageData) -> {image: Uint8Array(784) (28x28,
 * white ink on black), empty}. Mirrors preprocess.to_mnist (normalize_stroke=True).
 */
export function toMnist({ data, width: W0, height: H0 }, { zoom = true } = {}) {
  // 1. 8-bit gray (Pillow's L), alpha kept only when some pixel is not fully opaque.
  const n0 = W0 * H0;
  const L = new Uint8Array(n0), A = new Uint8Array(n0);
  let opaque = true;
  for (let i = 0; i < n0; i++) {
    const r = data[4 * i], g = data[4 * i + 1], b = data[4 * i + 2];
    L[i] = (19595 * r + 38470 * g + 7471 * b + 32768) >>> 16;
    A[i] = data[4 * i + 3];
    if (A[i] < 255) opaque = false;
  }
  // 2. reduce to working resolution by exact block means.
  const big = Math.max(H0, W0);
  const k = big > WORK_SIDE ? Math.ceil(big / WORK_SIDE) : 1;
  const gm = blockMean(L, H0, W0, k);
  const { h, w } = gm;
  const gray = gm.a;
  const alpha = opaque ? null : blockMean(A, H0, W0, k).a.map((v) => v / 255.0);
  const minPixels = Math.max(MIN_INK_PIXELS, MIN_INK_SHARE * h * w);

  // 3. ink map.
  const { ink, noise } = inkMap(gray, alpha, h, w, minPixels);

  // 4-10, one function of the ink map.
  const res = finish(ink, h, w, noise, minPixels, zoom && k > 1);
  if (res.kind === "empty") return EMPTY();
  if (res.kind === "zoom") {
    // 4a. a digit small in a reduced image is read again from the original pixels.
    const [cy0, cy1, cx0, cx1] = res.box;
    const extent = Math.max(cy1 - cy0, cx1 - cx0);
    const g = Math.floor(extent / 2) + 2;
    const top = Math.max(0, (cy0 - g) * k), bottom = Math.min(H0, (cy1 + g) * k);
    const left = Math.max(0, (cx0 - g) * k), right = Math.min(W0, (cx1 + g) * k);
    const cw = right - left, ch = bottom - top;
    const part = new Uint8ClampedArray(cw * ch * 4);   // the crop, RGBA
    for (let y = 0; y < ch; y++) {
      for (let i = 0; i < cw * 4; i++) part[y * cw * 4 + i] = data[((y + top) * W0 + left) * 4 + i];
    }
    return toMnist({ data: part, width: cw, height: ch }, { zoom: false });
  }
  return { image: res.image, empty: false };
}

/**
 * Steps 4-10 on an (h, w) ink map (Float64Array, [0, 255]): fit28.finish with
 * normalize_stroke=True. -> {kind: "empty"} | {kind: "zoom", box} (only when `zoom`: step 4a
 * asks for a re-read of box [cy0, cy1, cx0, cx1]) | {kind: "done", box: [y0, y1, x0, x1], image}.
 * The number reader (numbers.js) runs it on each candidate character's ink.
 */
export function finish(ink, h, w, noise, minPixels, zoom = false) {
  // 4. soft threshold.
  const floor = Math.max(4 * noise, 10.0);
  const cand = ink.filter((v) => v > floor);
  if (cand.length < minPixels) return { kind: "empty" };
  const c = percentile(cand, 0.9);
  if (c < Math.max(MIN_CONTRAST, 6 * noise)) return { kind: "empty" };

  // 4a. zoom: a digit that spans few working pixels; toMnist re-reads its box.
  if (zoom) {
    const box = bbox(mapTo(Uint8Array, ink, (x) => (x > floor ? 1 : 0)), h, w);
    if (Math.max(box[1] - box[0], box[3] - box[2]) <= ZOOM_SIDE) return { kind: "zoom", box };
  }
  const lo = Math.max(floor, 0.25 * c);
  const hi = Math.max(0.75 * c, lo + 1.0);
  const v = ink.map((x) => Math.min(Math.max((x - lo) / (hi - lo), 0.0), 1.0));   // (h, w)

  // 5. binary mask without edge specks.
  const mask = trimSpecks(mapTo(Uint8Array, v, (x) => (x >= 0.5 ? 1 : 0)), h, w);
  let count = 0;
  for (const x of mask) count += x;
  if (count < minPixels) return { kind: "empty" };
  const [y0, y1, x0, x1] = bbox(mask, h, w);

  // 6. crop; stroke width at working resolution.
  const hc = y1 - y0, wc = x1 - x0;
  const crop = new Float64Array(hc * wc), cmask = new Uint8Array(hc * wc);
  for (let y = 0; y < hc; y++) {
    for (let x = 0; x < wc; x++) {
      crop[y * wc + x] = v[(y + y0) * w + x + x0];
      cmask[y * wc + x] = mask[(y + y0) * w + x + x0];
    }
  }
  const side = Math.max(hc, wc);
  const wWork = strokeWidth(cmask, hc, wc);

  // 7. intermediate: longest side INTER_SIDE, PAD px of room around, binarised.
  const f = INTER_SIDE / side;
  const hi7 = Math.ceil(hc * INTER_SIDE / side) + 2 * PAD, wi7 = Math.ceil(wc * INTER_SIDE / side) + 2 * PAD;
  let soft = resampleRows(crop, hc, wc, hi7, f, PAD);   // (hi7, wc)
  soft = resampleCols(soft, hi7, wc, wi7, f, PAD);      // (hi7, wi7)
  const t = Math.min(0.5, 0.4 * wWork * f);
  let m = mapTo(Uint8Array, soft, (x) => (x >= t ? 1 : 0));
  const wI = strokeWidth(m, hi7, wi7);
  let bb = bbox(m, hi7, wi7);
  if (bb === null) return { kind: "empty" };   // specks far apart, each averaged below t: nothing to read
  const sideI = Math.max(bb[1] - bb[0], bb[3] - bb[2]);
  const stroke = wI / sideI;

  // 8. stroke thickness -> STROKE_TARGET of the digit's size.
  if (stroke < STROKE_TARGET || stroke > STROKE_MAX) {
    const goal = stroke < STROKE_TARGET ? STROKE_TARGET : STROKE_MAX;
    let rho = roundHalfUp((goal * sideI - wI) / (2 * (1 - goal)));
    rho = Math.max(-Math.trunc(MAX_THIN * wI), Math.min(PAD - 1, rho));
    if (rho !== 0) {
      const grown = thicken(m, hi7, wi7, rho);
      if (grown.some((x) => x)) m = grown;
    }
  }

  // 9. fit the long side to 20 px, centre in the box, shift the centre of mass to 14.5.
  bb = bbox(m, hi7, wi7);
  const [by0, by1, bx0, bx1] = bb;
  const bh = by1 - by0, bw = bx1 - bx0;
  const s = 20.0 / Math.max(bh, bw);
  const mf = Float64Array.from(m);
  let mass = 0, sy = 0, sx = 0;
  for (let y = 0; y < hi7; y++) {
    for (let x = 0; x < wi7; x++) {
      const q = mf[y * wi7 + x];
      mass += q;
      sy += q * (y + 0.5);
      sx += q * (x + 0.5);
    }
  }
  const cy = sy / mass, cx = sx / mass;   // integers and halves: exact whatever the order
  const offsets = [[by0, bh, cy], [bx0, bw, cx]].map(([c0, extent, cm]) => {
    const box = (20.0 - extent * s) / 2;
    const com = (cm - c0) * s + box;
    let shift = roundHalfUp(14.5 - com);
    shift = Math.min(Math.max(shift, -box), 28.0 - box - extent * s);
    return shift + box - c0 * s;
  });
  const out = resampleCols(resampleRows(mf, hi7, wi7, 28, s, offsets[0]), 28, wi7, 28, s, offsets[1]);

  // 10. uint8, white ink on black.
  const image = mapTo(Uint8Array, out, (x) => Math.min(Math.max(roundHalfUp(x * 255.0), 0), 255));
  return { kind: "done", box: [y0, y1, x0, x1], image };
}

/** (784) uint8 -> Float32Array(784), the (1, 1, 28, 28) model input: (pixel * scale - mean) / std,
 *  folded into one float32 multiply-add exactly as digitpad.predict.Predictor does it. */
export function normalize(image, { scale, mean, std }) {
  const f = Math.fround;
  const a = f(scale / std), b = f(mean / std);
  const x = new Float32Array(image.length);
  for (let i = 0; i < image.length; i++) x[i] = f(f(image[i] * a) - b);
  return x;
}

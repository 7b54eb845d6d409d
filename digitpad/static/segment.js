// The ink of a handwritten number as connected pieces on a line: the browser's twin of
// digitpad/segment.py (steps 1-4 of reading a number; the step numbers are its docstring's).
// Constants come from numbers-params.json (P.segment), written from the Python module.
//
//   const dec = decodedOf(imageData);          // {gray, alpha, h, w}: step 1's 8-bit planes
//   const page = inkPage(dec);                 // {ink, v, mask, h, w, noise, scale, origin} or null
//   const found = componentsOf(page);          // {comps, line} or null
//
// Step 1a (a sheet's rules are not ink, rules.js) runs inside the ink map, through
// preprocess.js's inkMap hook (inkmap.ink's not_ink).
//
// Arrays are row-major typed arrays with explicit (h, w); masks hold 0/1 bytes. A piece is
// {row, start, end (Int32Array runs), comp, whole, cutL, cutR, y0, y1, x0, x1, area, d0, d1}.

import { P } from "./numparams.js";
import { faintRules } from "./rules.js";
import { hysteresis, labelRuns, runEdges, runsOf } from "./runs.js";
import { MIN_CONTRAST, blockMean, inkMap, mapTo, median, percentile, roundHalfUp, strokeWidth, thicken } from "./preprocess.js";

/** Step 1 of preprocessing on RGBA pixels: Pillow's 8-bit L, and alpha unless all opaque. */
export function decodedOf({ data, width: w, height: h }) {
  const gray = new Uint8Array(w * h), alpha = new Uint8Array(w * h);
  let opaque = true;
  for (let i = 0; i < w * h; i++) {
    gray[i] = (19595 * data[4 * i] + 38470 * data[4 * i + 1] + 7471 * data[4 * i + 2] + 32768) >>> 16;
    alpha[i] = data[4 * i + 3];
    if (alpha[i] < 255) opaque = false;
  }
  return { gray, alpha: opaque ? null : alpha, h, w };
}

/** decode.Decoded.crop: rows [top, bottom), columns [left, right); alpha dropped when all opaque. */
function crop(dec, top, bottom, left, right) {
  const h = bottom - top, w = right - left;
  const cut = (plane) => {
    const out = new Uint8Array(h * w);
    for (let y = 0; y < h; y++) out.set(plane.subarray((y + top) * dec.w + left, (y + top) * dec.w + right), y * w);
    return out;
  };
  let alpha = dec.alpha ? cut(dec.alpha) : null;
  if (alpha && alpha.every((a) => a === 255)) alpha = null;
  return { gray: cut(dec.gray), alpha, h, w };
}

/** segment.ink_map: preprocessing steps 2-4 at block size k -> {ink, v, noise, h, w} or null. */
function inkMapAt(dec, k) {
  const { h: H, w: W } = dec;
  const h = Math.ceil(H / k), w = Math.ceil(W / k);
  const minPixels = Math.max(P.preprocess.MIN_INK_PIXELS, P.preprocess.MIN_INK_SHARE * h * w);
  const alpha = dec.alpha ? blockMean(dec.alpha, H, W, k).a.map((a) => a / 255.0) : null;
  const { ink, noise } = inkMap(blockMean(dec.gray, H, W, k).a, alpha, h, w, minPixels, faintRules);
  const floor = Math.max(4 * noise, 10.0);
  const cand = ink.filter((x) => x > floor);
  if (cand.length < minPixels) return null;
  const c = percentile(cand, 0.9);
  if (c < Math.max(MIN_CONTRAST, 6 * noise)) return null;
  const lo = Math.max(floor, 0.25 * c);
  const hi = Math.max(0.75 * c, lo + 1.0);
  const v = ink.map((x) => Math.min(Math.max((x - lo) / (hi - lo), 0.0), 1.0));
  return { ink, v, noise, h, w };
}

/** inkmap.column_height: 90th percentile of the ink's vertical extent over its columns. */
export function columnHeight(mask, h, w) {
  const heights = [];
  for (let x = 0; x < w; x++) {
    let top = -1, bottom = -1;
    for (let y = 0; y < h; y++) {
      if (mask[y * w + x]) {
        if (top < 0) top = y;
        bottom = y + 1;
      }
    }
    if (top >= 0) heights.push(bottom - top);
  }
  return heights.length ? percentile(heights, 0.9) : 0.0;
}

const maskOf = (v) => mapTo(Uint8Array, v, (x) => (x >= 0.5 ? 1 : 0));

function cropPlane(a, w, y0, y1, x0, x1) {
  const out = new a.constructor((y1 - y0) * (x1 - x0));
  for (let y = y0; y < y1; y++) out.set(a.subarray(y * w + x0, y * w + x1), (y - y0) * (x1 - x0));
  return out;
}

/** Step 1: the decoded planes -> the page (working resolution set by the ink's height), or null. */
export function inkPage(dec) {
  const { h: H, w: W } = dec;
  const k1 = Math.ceil(Math.max(W, H) / P.segment.FIRST_SIDE);
  const first = inkMapAt(dec, k1);
  if (first === null) return null;
  let { ink, v, noise, h, w } = first;
  let mask = maskOf(v);
  const line = columnHeight(mask, h, w) * k1;   // decoded pixels
  const k = Math.max(1, Math.floor(line / P.segment.LINE_SIDE));
  let ry0 = -1, ry1 = -1, rx0 = w, rx1 = -1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (!mask[y * w + x]) continue;
      if (ry0 < 0) ry0 = y;
      ry1 = y;
      rx0 = Math.min(rx0, x);
      rx1 = Math.max(rx1, x);
    }
  }
  if (ry0 < 0) return null;
  const g = 2 + Math.trunc(0.1 * line / k1);   // margin around the ink, first-pass pixels
  const y0 = Math.max(0, ry0 - g), y1 = Math.min(h, ry1 + 1 + g);
  const x0 = Math.max(0, rx0 - g), x1 = Math.min(w, rx1 + 1 + g);
  const box = [x0 * k1, y0 * k1, Math.min(W, x1 * k1), Math.min(H, y1 * k1)];
  const again = k === k1 ? null : inkMapAt(crop(dec, box[1], box[3], box[0], box[2]), k);
  const count = (m) => m.reduce((n, x) => n + x, 0);
  const firstInk = count(cropPlane(mask, w, y0, y1, x0, x1)) * k1 * k1;
  if (again !== null && count(maskOf(again.v)) * k * k >= P.segment.LOST_INK * firstInk) {
    ({ ink, v, noise, h, w } = again);
    return joinedPage({ ink, v, h, w, noise, scale: k, origin: [box[0], box[1]] });
  }
  // The first pass is at the right scale, or the crop lost its ink (a photo's ink touching a
  // sheet's rule along the crop's edge is taken for the sheet's border): the first pass, cropped.
  return joinedPage({
    ink: cropPlane(ink, w, y0, y1, x0, x1), v: cropPlane(v, w, y0, y1, x0, x1),
    h: y1 - y0, w: x1 - x0, noise, scale: k1, origin: [box[0], box[1]],
  });
}

/** Step 1's mask: v >= 0.5; on paper (noise > 0: a drawing on the canvas has no grain), grown through
 * the soft ink over WEAK where that joins JOINS pieces or more (strokes a pencil's grain broke into specks). */
function joinedPage(page) {
  if (!(page.noise > 0)) return { ...page, mask: maskOf(page.v) };
  const { mask, joins } = hysteresis(page.v, page.h, page.w, P.segment.WEAK);
  return { ...page, mask: joins >= P.segment.JOINS ? mask : maskOf(page.v) };
}

// ------------------------------------------------------------------ 2-3. runs, components

/** A piece of ink from its runs (segment.Piece). */
export function makePiece(row, start, end, comp, whole = true, cutL = -1.0, cutR = -1.0) {
  let y0 = Infinity, y1 = -Infinity, x0 = Infinity, x1 = -Infinity, area = 0;
  for (let i = 0; i < row.length; i++) {
    y0 = Math.min(y0, row[i]);
    y1 = Math.max(y1, row[i] + 1);
    x0 = Math.min(x0, start[i]);
    x1 = Math.max(x1, end[i]);
    area += end[i] - start[i];
  }
  return { row, start, end, comp, whole, cutL, cutR, y0, y1, x0, x1, area, height: y1 - y0, d0: 0, d1: 0 };
}

/** Piece.deskew: its deskewed x extent, x + slant (y - mid). */
export function deskew(p, line) {
  let d0 = Infinity, d1 = -Infinity;
  for (let i = 0; i < p.row.length; i++) {
    const off = line.slant * (p.row[i] - line.mid);
    d0 = Math.min(d0, p.start[i] + off);
    d1 = Math.max(d1, p.end[i] + off);
  }
  p.d0 = d0;
  p.d1 = d1;
  return p;
}

export const centre = (p) => (p.d0 + p.d1) / 2;

/** segment.side_of: -1 or +1, which side of piece p the mark m is on, by p's ink in m's rows. */
export function sideOf(m, p, line) {
  let rows = [];
  for (let i = 0; i < p.row.length; i++) if (p.row[i] >= m.y0 && p.row[i] < m.y1) rows.push(i);
  if (!rows.length) {
    for (let i = 0; i < p.row.length; i++) if (p.row[i] >= p.y1 - m.height) rows.push(i);
  }
  let lo = Infinity, hi = -Infinity;
  for (const i of rows) {
    const off = line.slant * (p.row[i] - line.mid);
    lo = Math.min(lo, p.start[i] + off);
    hi = Math.max(hi, p.end[i] + off);
  }
  return centre(m) < (lo + hi) / 2 ? -1.0 : 1.0;
}

/** segment.reading_order: by deskewed centre, a small mark on the baseline beside the tall piece
 * whose deskewed extent holds it, on the side where it is in its own rows. */
export function readingOrder(pieces, line) {
  const key = pieces.map(centre);
  const H = line.height;
  pieces.forEach((m, i) => {
    const xc = (m.x0 + m.x1) / 2;
    if (m.height > P.segment.MARK_H * H || line.baseAt(xc) - m.y1 > P.segment.MARK_LOW * H) return;
    const p = pieces.find((q) => q !== m && q.height >= 0.5 * H && q.d0 < key[i] && key[i] < q.d1);
    if (p) key[i] = centre(p) + P.segment.MARK_STEP * sideOf(m, p, line);
  });
  return pieces.map((_, k) => k).sort((a, b) => key[a] - key[b]).map((k) => pieces[k]);
}

// ------------------------------------------------------------------ 4. line geometry

/** inkmap.fit_line: least squares y = a + b x, slope clipped to +-clip, a the median residual. */
export function fitLine(x, y, clip = 0.15) {
  if (x.length < 3 || Math.max(...x) === Math.min(...x)) return [median(y), 0.0];
  let mx = 0, my = 0;
  for (let i = 0; i < x.length; i++) { mx += x[i]; my += y[i]; }
  mx /= x.length;
  my /= x.length;
  let sxy = 0, sxx = 0;
  for (let i = 0; i < x.length; i++) { sxy += (x[i] - mx) * (y[i] - my); sxx += (x[i] - mx) ** 2; }
  const b = Math.min(Math.max(sxy / sxx, -clip), clip);
  return [median(y.map((yi, i) => yi - b * x[i])), b];
}

/** segment.line_of: stroke, line height, slant, mid, baseline and top line. */
function lineOf(comps, runs, edges, sw, colHeight) {
  const tallest = comps.reduce((t, c) => (c.height > t.height ? c : t));   // (the first of them)
  const hs = comps.map((c) => c.height).sort((p, q) => q - p);
  let ref = hs[0];
  if (hs.length >= 3 && hs[1] >= P.segment.LONE_TALL * hs[0] && hs[2] >= 0.5 * hs[1]) {
    ref = hs[1];   // one tall symbol over two or more alike: "12)" with a ')' 2.6 digits tall
  }
  const tall = comps.filter((c) => c.height >= 0.5 * ref);
  const hTall = median(tall.map((c) => c.height));
  // (its columns too; a digit in two parts, an 8 of two loops, keeps them all)
  let height = Math.max(hTall, ref < 0.5 * hs[0] ? Math.min(colHeight, P.segment.COLUMN_CAP * hTall) : colHeight);
  const band = comps.reduce((m, c) => Math.max(m, c.y1), -Infinity) - comps.reduce((m, c) => Math.min(m, c.y0), Infinity);
  if (band <= P.segment.BAR * sw && tallest.x1 - tallest.x0 >= 2 * tallest.height) {   // bars (and specks) side by side
    height = Math.max(height, P.segment.BAR_LINE * comps.reduce((m, c) => Math.max(m, c.x1 - c.x0), 0));
  }
  const mid = median(tall.map((c) => (c.y0 + c.y1) / 2));
  const { row, start, end } = runs;
  const { a, b } = edges;
  let slant = 0.0;
  if (a.length && tall.length >= 2) {   // (one character alone has no neighbours to stand apart from)
    const ups = new Int32Array(row.length), downs = new Int32Array(row.length);
    for (let e = 0; e < a.length; e++) { ups[b[e]]++; downs[a[e]]++; }
    const narrow = (i) => end[i] - start[i] <= 2 * sw;
    const dx = [];
    for (let e = 0; e < a.length; e++) {
      const i = a[e], j = b[e];
      if (narrow(i) && narrow(j) && ups[j] === 1 && downs[i] === 1) dx.push(((start[j] + end[j]) - (start[i] + end[i])) / 2.0);
    }
    if (dx.length >= 8) slant = Math.min(Math.max(-median(dx), -P.segment.MAX_SLANT), P.segment.MAX_SLANT);
  }
  const cx = tall.map((c) => (c.x0 + c.x1) / 2);
  const base = fitLine(cx, tall.map((c) => c.y1));
  const top = fitLine(cx, tall.map((c) => c.y0));
  return {
    stroke: sw, height: Math.max(height, 2 * sw), slant, mid, base, top, aside: 0,
    baseAt: (x) => base[0] + base[1] * x, topAt: (x) => top[0] + top[1] * x,
  };
}

/** segment._holds: does c hold o as a frame holds a character (tall enough, inside its box, with
 * c's ink on all four sides of it)? */
function holds(c, o) {
  if (o === c || o.height < P.segment.FRAME_HOLDS * c.height || !(c.x0 <= o.x0 && o.x1 <= c.x1 && c.y0 <= o.y0 && o.y1 <= c.y1)) {
    return false;
  }
  let left = false, right = false, above = false, below = false;
  for (let i = 0; i < c.row.length; i++) {
    const r = c.row[i], a = c.start[i], b = c.end[i];
    if (r >= o.y0 && r < o.y1) {
      if (b <= o.x0) left = true;
      if (a >= o.x1) right = true;
    }
    if (a < o.x1 && b > o.x0) {
      if (r < o.y0) above = true;
      if (r >= o.y1) below = true;
    }
  }
  return left && right && above && below;
}

/** segment.Piece.extents: each of p's rows' ink from the first run's start to the last run's end: [lo, hi]. */
export function extents(p) {
  const lo = new Array(p.height).fill(Infinity), hi = new Array(p.height).fill(0);
  for (let i = 0; i < p.row.length; i++) {
    const r = p.row[i] - p.y0;
    lo[r] = Math.min(lo[r], p.start[i]);
    hi[r] = Math.max(hi[r], p.end[i]);
  }
  return [lo, hi];
}

/** segment._zero_mark: could p be what a zero holds, a dot or one straight stroke (its slash)? */
function zeroMark(p, sw) {
  const S = P.segment, n = p.height;
  if (n <= S.ZERO_DOT * sw) return true;
  const [lo, hi] = extents(p);
  // the least-squares line m = (a y + b) / d through the rows' doubled middles, in integers (exact)
  let sy = 0, syy = 0, sm = 0, sym = 0;
  for (let y = 0; y < n; y++) {
    const m = lo[y] + hi[y] - 1;
    sy += y; syy += y * y; sm += m; sym += y * m;
  }
  const d = n * syy - sy * sy, a = n * sym - sy * sm, b = sm * syy - sy * sym;
  let near = 0;
  for (let y = 0; y < n; y++) {
    const m = lo[y] + hi[y] - 1;
    if (Math.abs(m * d - (a * y + b)) <= 2 * Math.max(1.0, sw) * d && hi[y] - lo[y] <= S.STROKE_WIDE * sw) near++;
  }
  return near >= S.STROKE_ROWS * n;
}

/** segment.not_the_number: step 3b, the components less frames drawn around characters and
 * underlines drawn under them. */
export function notTheNumber(comps, sw) {
  const S = P.segment;
  const frames = comps.filter((c) => {
    const held = comps.filter((o) => holds(c, o));
    return held.length >= 2 || (held.length === 1 && !zeroMark(held[0], sw));
  });
  const rest = comps.filter((c) => !frames.includes(c));
  const hs = rest.map((c) => c.height).sort((p, q) => q - p);
  const under = rest.filter((c) => {
    if (rest.length < 2 || c.height > Math.max(S.UNDERLINE_FLAT * (c.x1 - c.x0), S.BAR * sw)) return false;
    const tallest = c.height === hs[0] ? hs[1] : hs[0];   // (of the others)
    if (c.x1 - c.x0 < 0.5 * tallest) return false;   // (a speck or a mark: no need to look at the others)
    const chars = rest.filter((o) => o !== c && o.height >= 0.5 * tallest);
    const bottom = median(chars.map((o) => o.y1));
    return (c.y0 + c.y1) / 2 >= bottom && chars.every((o) => c.x0 <= (o.x0 + o.x1) / 2 && (o.x0 + o.x1) / 2 <= c.x1);
  });
  return rest.filter((c) => !under.includes(c));
}

/** segment._column_height_of: columnHeight of these pieces' ink only. */
function columnHeightOf(comps, h, w) {
  const m = new Uint8Array(h * w);
  for (const c of comps) {
    for (let i = 0; i < c.row.length; i++) m.fill(1, c.row[i] * w + c.start[i], c.row[i] * w + c.end[i]);
  }
  return columnHeight(m, h, w);
}

/** Steps 1b-4 on the page's mask: components (specks dropped) in reading order, and the line. */
export function componentsOf(page) {
  const { h, w } = page;
  let mask = page.mask;
  let sw = strokeWidth(mask, h, w);
  const goal = P.segment.MIN_STROKE * columnHeight(mask, h, w);
  if (sw < goal && sw < P.segment.BROKEN) {   // 1b. thin (broken) strokes grow to MIN_STROKE line heights (a broken stroke rejoins)
    mask = thicken(mask, h, w, roundHalfUp((goal - sw) / 2));
    sw = goal;
  }
  sw = Math.max(1.0, sw);
  const runs = runsOf(mask, h, w);
  const edges = runEdges(runs);
  const { comp, count } = labelRuns(runs.row.length, edges);
  const members = Array.from({ length: count }, () => []);
  for (let i = 0; i < comp.length; i++) members[comp[i]].push(i);
  const pick = (arr, idx) => mapTo(Int32Array, idx, (i) => arr[i]);
  const found = members.map((idx, c) => makePiece(pick(runs.row, idx), pick(runs.start, idx), pick(runs.end, idx), c))
    .filter((c) => c.area >= P.segment.SPECK_AREA * sw * sw);
  const comps = notTheNumber(found, sw);
  if (!comps.length) return null;
  // (a frame's or an underline's columns are no character's)
  const colHeight = comps.length < found.length ? columnHeightOf(comps, h, w) : columnHeight(mask, h, w);
  const line = lineOf(comps, runs, edges, sw, colHeight);
  line.aside = found.length - comps.length;
  comps.forEach((c) => deskew(c, line));
  return { comps: readingOrder(comps, line), line };
}

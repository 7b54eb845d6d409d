// Characters told apart by their shape and place on the line (. , - : and /), and the verifier
// ("is this candidate exactly one character?"): the browser's twins of digitpad/glyphs.py and
// digitpad/verifier.py. Constants and the verifier's WEIGHTS come from numbers-params.json.
//
//   marks(parts, box, line, tall)   // {".": 0.9, ...}: a Map of geometric scores
//   lines(parts, line)              // {"/": 0.9} ...
//   verify(features(parts, box, scores, line, compArea, other))   // log P(one character)

import { P } from "./numparams.js";
import { median } from "./preprocess.js";
import { extents, sideOf } from "./segment.js";

/** glyphs._attached: a small mark whose box, shrunk by MARK_CORE on each side, holds a tall piece's ink,
 * or that runs to the right from the top end of a tall piece's stem (FLAG_*: a 5's flag drawn apart). */
function attached(parts, tall, line) {
  const G = P.glyphs, k = G.MARK_CORE;
  for (const q of parts) {
    const dy = k * (q.y1 - q.y0), dx = k * (q.x1 - q.x0);
    const y0 = q.y0 + dy, y1 = q.y1 - dy, x0 = q.x0 + dx, x1 = q.x1 - dx;
    for (const p of tall) {
      for (let i = 0; i < p.row.length; i++) {
        if (p.row[i] >= y0 && p.row[i] < y1 && p.start[i] < x1 && p.end[i] > x0) return true;
      }
      if (!(q.y0 <= p.y0 + G.FLAG_TOP * p.height && q.y1 > p.y0)) continue;
      const [lo, hi] = extents(p);
      let left = Infinity, right = -Infinity, widest = 0;
      for (let r = Math.max(0, q.y0 - p.y0); r < Math.min(p.height, q.y1 - p.y0); r++) {
        if (hi[r] <= lo[r]) continue;   // a row of the mark's without the piece's ink
        left = Math.min(left, lo[r]); right = Math.max(right, hi[r]); widest = Math.max(widest, hi[r] - lo[r]);
      }
      if (right < left || widest > G.FLAG_STEM * line.stroke) continue;
      const g = G.FLAG_GAP * line.height;
      if (left - g <= q.x0 && q.x0 <= right + g && q.x1 > right) return true;
    }
  }
  return false;
}

/** glyphs.colon_blob: a thick pen's colon, its two dots run together into one narrow piece with a waist. */
export function colonBlob(p, line) {
  const G = P.glyphs, H = line.height, sw = line.stroke;
  if (!(0.3 * H <= p.height && p.height <= Math.min(0.75 * H, G.COLON_BLOB_H * sw) && p.x1 - p.x0 <= G.COLON_BLOB_W * sw)) return false;
  const above = (line.baseAt((p.x0 + p.x1) / 2) - p.y1) / H;
  if (!(-0.2 <= above && above <= 0.25)) return false;
  const [lo, hi] = extents(p);
  const widths = hi.map((e, r) => e - lo[r]);
  const third = Math.floor(p.height / 3);
  if (third === 0) return false;
  const dots = Math.min(Math.max(...widths.slice(0, third)), Math.max(...widths.slice(p.height - third)));
  return Math.min(...widths.slice(third, p.height - third)) <= G.COLON_WAIST * dots;
}

/** glyphs.marks: geometric scores of . , - : for a candidate of small whole pieces. */
export function marks(parts, box, line, tall = []) {
  const [y0, y1, x0, x1] = box;
  const H = line.height;
  const h = (y1 - y0) / H, w = (x1 - x0) / H;
  const xc = (x0 + x1) / 2;
  const base = line.baseAt(xc), top = line.topAt(xc);
  const mid = (base + top) / 2;
  const above = (base - y1) / H;
  const centreBelow = ((y0 + y1) / 2 - mid) / H;
  const out = new Map();
  const G = P.glyphs;
  const comma = parts.length === 1 && h >= G.COMMA_H && above <= -G.COMMA_HANG;   // a comma's shape and place
  let colon = false;   // two small marks, one above the other, within the line: a colon's shape
  if (parts.length === 2) {
    const [a, b] = [...parts].sort((p, q) => p.y0 - q.y0);
    const overlap = Math.min(a.x1, b.x1) - Math.max(a.x0, b.x0);
    colon = overlap > -G.COLON_SHIFT * H && b.y0 >= a.y1 && -0.2 <= above && above <= 0.25 && h >= 0.2 && h <= 0.75 &&
      Math.max(a.height, b.height) <= Math.max(G.COLON_DOT * H, G.COLON_DOT_PEN * line.stroke);
  } else if (parts.length === 1) {
    colon = colonBlob(parts[0], line);
  }
  if (w > 1.0 || parts.length > 2 || (!(comma || colon) && attached(parts, tall, line))) return out;
  const dc = parts.reduce((s, p) => s + p.d0 + p.d1, 0) / (2 * parts.length);
  // which side of each tall piece the mark is on (+1: right): by centres, or within its extent by its ink in the mark's rows
  const sides = tall.map((p) => (p.d0 < dc && dc < p.d1 ? sideOf(parts[0], p, line) : Math.sign(dc - (p.d0 + p.d1) / 2)));
  const inside = sides.includes(1) && sides.includes(-1);
  if (parts.length === 1 && inside) {   // a '.' or ',' sits between digits (at an end: a speck)
    if (!comma && h <= 0.3 && w <= 0.35 && -0.2 <= above && above <= G.DOT_ABOVE && w <= 2.5 * h + 0.05) out.set(".", 0.9);
    if (h <= 0.5 && w <= (comma ? 0.45 : 0.35) && above < 0.1 && (base - y0) / H < 0.35 && h >= 0.6 * w) {
      out.set(",", comma ? 0.85 : out.has(".") ? 0.1 : 0.5);
    }
  }
  if (parts.length === 1 && w >= 1.6 * h && w >= 0.15 && w <= 1.0 && Math.abs(centreBelow) <= 0.3
      && h <= Math.max(0.3, G.HYPHEN_PEN * line.stroke / H)) out.set("-", 0.9);
  if (colon) out.set(":", 0.9);
  return out;
}

/** Least squares x = c0 + c1 t + c2 t^2 (np.polyfit(t, x, 2)) -> [c2, c1, c0]. */
function polyfit2(t, x) {
  const S = new Array(5).fill(0), R = [0, 0, 0];
  for (let i = 0; i < t.length; i++) {
    let p = 1;
    for (let k = 0; k < 5; k++) {
      S[k] += p;
      if (k < 3) R[k] += p * x[i];
      p *= t[i];
    }
  }
  const M = [[S[0], S[1], S[2], R[0]], [S[1], S[2], S[3], R[1]], [S[2], S[3], S[4], R[2]]];
  for (let c = 0; c < 3; c++) {   // Gaussian elimination, partial pivoting
    let piv = c;
    for (let r = c + 1; r < 3; r++) if (Math.abs(M[r][c]) > Math.abs(M[piv][c])) piv = r;
    [M[c], M[piv]] = [M[piv], M[c]];
    for (let r = c + 1; r < 3; r++) {
      const f = M[r][c] / M[c][c];
      for (let k = c; k < 4; k++) M[r][k] -= f * M[c][k];
    }
  }
  const beta = [0, 0, 0];
  for (let r = 2; r >= 0; r--) {
    let s = M[r][3];
    for (let k = r + 1; k < 3; k++) s -= M[r][k] * beta[k];
    beta[r] = s / M[r][r];
  }
  return [beta[2], beta[1], beta[0]];
}

const degrees = (r) => r * 180 / Math.PI;

/** glyphs.writer_lean: the median over a line's tall pieces of the lean of the line through each row's middle
 * (degrees, > 0: tops to the right); null under LEAN_PIECES. */
export function writerLean(pieces) {
  const leans = [];
  for (const p of pieces) {
    const [lo, hi] = extents(p);
    const ys = [], xs = [];
    for (let r = 0; r < p.height; r++) {
      if (hi[r] > lo[r]) {
        ys.push(r);
        xs.push((lo[r] + hi[r]) / 2.0);
      }
    }
    if (ys.length < 3) continue;
    const my = ys.reduce((s, v) => s + v, 0) / ys.length, mx = xs.reduce((s, v) => s + v, 0) / xs.length;
    let sxy = 0.0, syy = 0.0;
    ys.forEach((y, k) => {
      sxy += (y - my) * (xs[k] - mx);
      syy += (y - my) * (y - my);
    });
    leans.push(degrees(Math.atan(-sxy / syy)));
  }
  return leans.length >= P.glyphs.LEAN_PIECES ? median(leans) : null;
}

/** glyphs.lines: geometric scores of '/' (and, when enabled, '(' ')') for a tall one-piece candidate, its lean
 * measured past the writer's (writerLean; null: the line's slant). */
export function lines(parts, line, writer = null) {
  const G = P.glyphs;
  const out = new Map();
  if (parts.length !== 1 || parts[0].height < 0.95 * line.height) return out;
  const p = parts[0];
  const counts = new Int32Array(p.height), first = new Map();
  for (let i = 0; i < p.row.length; i++) {
    counts[p.row[i] - p.y0]++;
    if (!first.has(p.row[i])) first.set(p.row[i], i);
  }
  const ys = [], xs = [];
  for (const [r, i] of first) {   // rows in increasing order (runs are row-major)
    if (counts[r - p.y0] === 1 && p.end[i] - p.start[i] <= 2.5 * line.stroke) {
      ys.push(r);
      xs.push((p.start[i] + p.end[i] - 1) / 2.0);
    }
  }
  if (ys.length < Math.max(3, 0.85 * p.height)) return out;   // (a curve needs three rows)
  const half = Math.max(1.0, (p.height - 1) / 2);
  const t = ys.map((y) => (y - (p.y0 + p.y1 - 1) / 2) / half);
  const [q, b] = polyfit2(t, xs);
  const upright = degrees(Math.atan(-b / half));   // its lean past upright, and past the writer's
  const lean = upright - (writer === null ? degrees(Math.atan(line.slant)) : writer);
  const bow = q / line.height;
  if (Math.abs(bow) < 0.04 && lean >= G.SLASH_LEAN && upright >= G.SLASH_LEAN) {
    out.set("/", lean >= G.SLASH_ALONE ? 1.0 : 0.6);
  } else if (Math.abs(bow) < 0.04 && lean < G.SLASH_LEAN / 2) {
    out.set("/", 0.0);   // straight, and leaning like the writer's own characters: a 1, not a slash
  } else if (G.PARENTHESES && Math.abs(lean) < G.SLASH_LEAN && Math.abs(bow) >= G.BOW && p.height >= 1.05 * line.height) {
    out.set(bow > 0 ? "(" : ")", 0.85);
  }
  return out;
}

/** verifier.features: the verifier's inputs for one tall candidate, in P.verifier.FEATURES order. */
export function features(parts, box, scores, line, compArea, other = 0.0) {
  const DIGITS = P.verifier.DIGITS;
  const H = line.height;
  const [y0, y1, x0, x1] = box;
  const top2 = [...scores.values()].sort((a, b) => b - a).slice(0, 2).concat([0.0, 0.0]);
  let best = "", bestScore = -Infinity;
  for (const [k, v] of scores) if (v > bestScore) { best = k; bestScore = v; }
  const d0 = Math.min(...parts.map((p) => p.d0)), d1 = Math.max(...parts.map((p) => p.d1));
  const left = parts.reduce((a, p) => (p.d0 < a.d0 ? p : a));
  const right = parts.reduce((a, p) => (p.d1 > a.d1 ? p : a));
  const cuts = [left.cutL, right.cutR].filter((c) => c >= 0);
  let gap = 0.0, reach = -Infinity;
  for (const p of [...parts].sort((a, b) => a.d0 - b.d0)) {
    if (reach > -Infinity) gap = Math.max(gap, p.d0 - reach);
    reach = Math.max(reach, p.d1);
  }
  const xc = (x0 + x1) / 2;
  const w = (d1 - d0) / H, h = (y1 - y0) / H;
  const comps = [...new Set(parts.map((p) => p.comp))];
  const share = parts.reduce((s, p) => s + p.area, 0) / comps.reduce((s, c) => s + compArea.get(c), 0);
  const digit = new Array(10).fill(0);
  if (DIGITS.includes(best) && best.length === 1) digit[DIGITS.indexOf(best)] = 1.0;
  return [1.0, Math.log(Math.max(top2[0], 1e-6)), Math.log(Math.max(top2[1], 1e-6)), w, h, w * w, h * h,
    parts.length - 1.0, cuts.length, cuts.reduce((s, c) => s + c, 0), gap / H,
    (y1 - line.baseAt(xc)) / H, (line.topAt(xc) - y0) / H, share, Math.log(Math.max(other, 1e-4)),
    ...digit, ...digit.map((d) => d * w)];
}

/** verifier.verify: log P(one character) from `features`. */
export function verify(f) {
  const { FEATURES, WEIGHTS } = P.verifier;
  let z = 0;
  for (let i = 0; i < FEATURES.length; i++) z += f[i] * WEIGHTS[FEATURES[i]];
  return z > -30 ? -Math.log1p(Math.exp(-z)) : z;
}

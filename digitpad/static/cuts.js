// Step 5 of reading a number, where touching characters may be cut apart: the browser's twin of
// digitpad/cuts.py (seams, reservoir cuts through the middle of merged strokes, drop falls). Constants
// come from numbers-params.json (P.cuts).
//
//   const pieces = cut(comps, line, doubt);   // the components numbered in `doubt` cut, in reading order

import { P } from "./numparams.js";
import { mapTo, roundHalfUp } from "./preprocess.js";
import { deskew, makePiece, readingOrder } from "./segment.js";

/** cuts._deskewed: the piece's ink sheared upright, {m: Uint8Array (h, w), h, w}; column 0 at d0. */
function deskewed(c, line) {
  const h = c.y1 - c.y0;
  const shift = Array.from(c.row, (r) => Math.floor(line.slant * (r - line.mid) - c.d0 + 0.5));
  let w = -Infinity;
  for (let i = 0; i < c.row.length; i++) w = Math.max(w, c.end[i] + shift[i]);
  w += 1;
  const acc = new Int32Array(h * (w + 1));
  for (let i = 0; i < c.row.length; i++) {
    const r = c.row[i] - c.y0;
    acc[r * (w + 1) + Math.max(0, c.start[i] + shift[i])] += 1;
    acc[r * (w + 1) + c.end[i] + shift[i]] -= 1;
  }
  const m = new Uint8Array(h * w);
  for (let r = 0; r < h; r++) {
    let s = 0;
    for (let x = 0; x < w; x++) {
      s += acc[r * (w + 1) + x];
      m[r * w + x] = s > 0 ? 1 : 0;
    }
  }
  return { m, h, w };
}

/** cuts._reservoirs: depth of the water the contour `edge` (first ink row per column) holds. */
function reservoirs(edge) {
  const n = edge.length, left = new Array(n), right = new Array(n);
  for (let x = 0; x < n; x++) left[x] = x ? Math.min(left[x - 1], edge[x]) : edge[x];
  for (let x = n - 1; x >= 0; x--) right[x] = x < n - 1 ? Math.min(right[x + 1], edge[x]) : edge[x];
  return edge.map((e, x) => e - Math.max(left[x], right[x]));
}

/** cuts._through_middle: a cut from a notch at column x, through the middle of the runs it meets. */
function throughMiddle({ m, h, w }, x, upward, widest) {
  const cols = new Array(h);
  for (let k = 0; k < h; k++) {
    const r = upward ? h - 1 - k : k;
    const at = (c) => m[r * w + c];
    if (at(x)) {
      let s = x;
      while (s >= 0 && at(s)) s--;
      s += 1;   // (0 when the row is ink up to its left end)
      let e = x;
      while (e < w && at(e)) e++;
      if (e - s <= widest) x = Math.floor((s + e) / 2);
    }
    cols[r] = x;
  }
  return cols;
}

/** cuts._drop_fall: a drop-fall cut from column x of the top row (bottom row when upward),
 * rolling left first (right first when `right`): {cols (h,), crossed (ink pixels cut)}. */
function dropFall({ m, h, w }, x, right, upward) {
  const row = (y) => (upward ? h - 1 - y : y);   // (falling up: the rows taken from the bottom)
  const ink = (y, col) => col < 0 || col >= w || m[row(y) * w + col] === 1;
  const [side, other] = right ? [1, -1] : [-1, 1];
  const cols = new Array(h);
  let y = 0, crossed = m[row(0) * w + x], came = -1;   // came: the column it moved from in this row
  cols[row(0)] = x;
  while (y < h - 1) {
    if (!ink(y + 1, x)) {
      y += 1; came = -1;
    } else if (!ink(y + 1, x + side)) {
      y += 1; x += side; came = -1;
    } else if (!ink(y + 1, x + other)) {
      y += 1; x += other; came = -1;
    } else if (!ink(y, x + side) && came !== x + side) {
      came = x; x += side;
    } else if (!ink(y, x + other) && came !== x + other) {
      came = x; x += other;
    } else {
      y += 1; came = -1; crossed += 1;
    }
    cols[row(y)] = x;
  }
  return { cols, crossed };
}

/** cuts._best_fall: the drop fall from column x rolling left or right first, whichever cuts less ink. */
function bestFall(mb, x, upward) {
  const left = dropFall(mb, x, false, upward), right = dropFall(mb, x, true, upward);
  return right.crossed < left.crossed ? right : left;   // (the first of equal ink: left)
}

/** cuts.cut_paths: paths (image column per row of c) along which c may be cut, and their ink. */
function cutPaths(c, line) {
  const C = P.cuts;
  const width = c.d1 - c.d0;
  if (width < Math.max(C.CUT_MIN_WIDTH * line.height, 3 * line.stroke)) return { paths: [], costs: [] };
  const mb = deskewed(c, line);
  const { m, h, w } = mb;
  let cost = Float64Array.from(m.subarray(0, w));
  const back = new Int8Array(h * w);   // -1, 0, +1: where the path came from
  for (let r = 1; r < h; r++) {
    const next = new Float64Array(w);
    for (let x = 0; x < w; x++) {
      const three = [x > 0 ? cost[x - 1] + C.SEAM_STEP : Infinity, cost[x], x < w - 1 ? cost[x + 1] + C.SEAM_STEP : Infinity];
      let step = 0;
      if (three[1] < three[step]) step = 1;
      if (three[2] < three[step]) step = 2;   // (argmin: the first of equal costs)
      next[x] = three[step] + m[r * w + x];
      back[r * w + x] = step - 1;
    }
    cost = next;
  }
  const margin = Math.max(C.CUT_MARGIN * line.height, line.stroke);
  const spacing = C.CUT_SPACING * line.height;
  const win = Math.max(1, Math.trunc(spacing / 2));
  const lo = Math.ceil(margin), hi = Math.trunc(w - margin);
  const cands = [];   // [score, column, kind]
  const around = (a, x) => a.slice(Math.max(0, x - win), x + win + 1);
  for (let x = lo; x < hi; x++) {
    if (cost[x] <= C.CUT_MAX_INK * line.stroke && cost[x] <= Math.min(...around(cost, x))) {
      cands.push([cost[x] / line.stroke, x, "seam"]);
    }
  }
  const top = [], bottom = [];
  for (let x = 0; x < w; x++) {
    let t = h, b = -1;
    for (let r = 0; r < h; r++) {
      if (m[r * w + x]) {
        if (t === h) t = r;
        b = r;
      }
    }
    top.push(t);
    bottom.push(b);
  }
  for (const [kind, depth] of [["top", reservoirs(top)], ["bottom", reservoirs(bottom.map((b) => h - 1 - b))]]) {
    for (let x = lo; x < hi; x++) {
      const d = depth[x];
      if (d >= C.RESERVOIR * line.height && d >= Math.max(...around(depth, x))) cands.push([2.0 - 3.0 * d / line.height, x, kind]);
    }
  }
  // Python's sorted() on (score, column, kind) tuples.
  cands.sort((p, q) => p[0] - q[0] || p[1] - q[1] || (p[2] < q[2] ? -1 : p[2] > q[2] ? 1 : 0));
  const chosen = [];
  const most = Math.min(C.MAX_CUTS, Math.max(1, Math.trunc(roundHalfUp(C.CUTS_PER_LINE * width / line.height))));
  for (const [, x, kind] of cands) {
    if (chosen.length < most && chosen.every(([y]) => Math.abs(x - y) >= spacing)) chosen.push([x, kind]);
  }
  chosen.sort((p, q) => p[0] - q[0] || (p[1] < q[1] ? -1 : p[1] > q[1] ? 1 : 0));
  const found = [];   // [deskewed column per row (h,), ink crossed]
  for (let [x, kind] of chosen) {
    if (kind === "seam") {
      const cols = new Array(h);
      for (let r = h - 1; r >= 0; r--) {   // back along the path, bottom to top
        cols[r] = x;
        if (r) x += back[r * w + x];
      }
      found.push([cols, cost[cols[h - 1]]]);
    } else {
      const cols = throughMiddle(mb, x, kind === "bottom", 2.5 * line.stroke);
      let crossed = 0;
      for (let r = 0; r < h; r++) crossed += m[r * w + Math.min(Math.max(cols[r], 0), w - 1)];
      found.push([cols, crossed]);
      if (width >= C.DROP_MIN_WIDTH * line.height) {
        const fall = bestFall(mb, x, kind === "bottom");
        if (fall.cols.some((col, r) => col !== cols[r])) found.push([fall.cols, fall.crossed]);
      }
    }
  }
  const mid = Math.floor(h / 2);
  if (width >= C.DROP_MIN_WIDTH * line.height) {   // the other notches: a drop fall where no path runs
    for (const [, x, kind] of cands) {
      if (kind === "seam" || chosen.some(([y, k]) => y === x && k === kind)) continue;
      const fall = bestFall(mb, x, kind === "bottom");
      if (found.every(([f]) => Math.abs(fall.cols[mid] - f[mid]) >= C.FALL_SPACING * line.stroke)) found.push([fall.cols, fall.crossed]);
    }
  }
  found.sort((p, q) => p[0][mid] - q[0][mid]);   // (stable: ties keep their order, as Python's sorted)
  const shift = Array.from({ length: h }, (_, r) => Math.floor(line.slant * (c.y0 + r - line.mid) - c.d0 + 0.5));
  const paths = [], costs = [];
  for (const [cols, crossed] of found) {
    let path = cols.map((col, r) => col - shift[r]);   // back to image columns
    if (paths.length) {
      const prev = paths[paths.length - 1];
      path = path.map((p, r) => Math.max(p, prev[r]));   // paths must not cross
    }
    paths.push(path);
    costs.push(crossed / line.stroke);
  }
  return { paths, costs };
}

/** cuts.split: piece c cut along `paths` (left to right): its parts, left to right. */
function split(c, paths, costs) {
  const parts = [];
  let row = Array.from(c.row), start = Array.from(c.start), end = Array.from(c.end);
  const all = [...paths, null];
  for (let k = 0; k < all.length; k++) {
    const path = all[k];
    const b = row.map((r, i) => (path !== null ? path[r - c.y0] : end[i]));
    const keep = [];
    for (let i = 0; i < row.length; i++) if (Math.min(end[i], b[i]) > start[i]) keep.push(i);
    if (keep.length) {
      parts.push(makePiece(mapTo(Int32Array, keep, (i) => row[i]), mapTo(Int32Array, keep, (i) => start[i]),
        mapTo(Int32Array, keep, (i) => Math.min(end[i], b[i])), c.comp, false,
        k ? costs[k - 1] : -1.0, path !== null ? costs[k] : -1.0));
    }
    const rest = [];
    for (let i = 0; i < row.length; i++) if (end[i] > Math.max(start[i], b[i])) rest.push(i);
    [row, start, end] = [rest.map((i) => row[i]), rest.map((i) => Math.max(start[i], b[i])), rest.map((i) => end[i])];
    if (!row.length) break;
  }
  if (parts.length === 1) Object.assign(parts[0], { whole: true, cutL: -1.0, cutR: -1.0 });
  return parts;
}

/** cuts.cut: the components numbered in `which` (a Set) cut where they may be, in reading order. */
export function cut(comps, line, which) {
  let pieces = [];
  for (const c of comps) {
    const { paths, costs } = which.has(c.comp) ? cutPaths(c, line) : { paths: [], costs: [] };
    pieces = pieces.concat(paths.length ? split(c, paths, costs).map((p) => deskew(p, line)) : [c]);
  }
  return readingOrder(pieces, line);
}

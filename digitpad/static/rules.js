// Step 1a of reading a number, a sheet's lines are not ink: the browser's twin of
// digitpad/rules.py's sheet_lines, paper_rules and margins (photos and scans; the
// page's transparent canvas never gets here). Constants come from numbers-params.json (P.rules).
//
//   inkMap(gray, alpha, h, w, minPixels, sheetLines)   // preprocess.js drops what it returns

import { P } from "./numparams.js";
import { mapTo, percentile } from "./preprocess.js";

/** numpy's round (half to even): the rule's row at a tilt (rules.paper_rules). */
function roundHalfEven(x) {
  const f = Math.floor(x), diff = x - f;
  if (diff !== 0.5) return diff < 0.5 ? f : f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/** Each pixel's (`rr`, `cc`) row at column 0 along `tilt` (shifted by W) and each row's pixels
 *  (rules._rows, rules._counts at one tilt). */
function countsAt(rr, cc, tilt, W) {
  const idx = rr.map((r, i) => r - roundHalfEven(cc[i] * tilt) + W);
  const counts = new Int32Array(idx.reduce((a, b) => Math.max(a, b), 0) + 2);
  for (const r of idx) counts[r]++;
  return { idx, counts };
}

/** rules._held: how many pixels the rows holding `core` or more hold. */
function heldOf(counts, core) {
  let held = 0;
  for (const c of counts) if (c >= core) held += c;
  return held;
}

/** rules._lines: paper_rules along the rows (`along` "rows") or the columns of `mask` (h, w): its
 *  ink pixels (`rr` along, `cc` across), their rows at the sheet's tilt (`idx`) and the set of
 *  rows that are rules, or null. The RULE_CANDIDATES likeliest tilts are found on every k-th
 *  column over RULE_TILTS, then looked at on all pixels within a step of each, in half steps. */
function linesOf(mask, h, w, along) {
  const { RULE_CORE, RULE_EDGE, RULE_TILTS, RULE_SAMPLE, RULE_LENIENT, RULE_CANDIDATES } = P.rules;
  const W = along === "rows" ? w : h;
  const rr = [], cc = [];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (!mask[y * w + x]) continue;
      rr.push(along === "rows" ? y : x);
      cc.push(along === "rows" ? x : y);
    }
  }
  if (rr.length < RULE_CORE * W) return null;
  const k = Math.max(1, Math.floor(W / RULE_SAMPLE));
  const sr = rr.filter((_, i) => cc[i] % k === 0), sc = cc.filter((c) => c % k === 0);
  const lenient = RULE_LENIENT * RULE_CORE * Math.ceil(W / k);
  const held = RULE_TILTS.map((t) => heldOf(countsAt(sr, sc, t, W).counts, lenient));
  const likely = held.map((_, j) => j).sort((a, b) => held[b] - held[a] || a - b)
    .slice(0, RULE_CANDIDATES).filter((j) => held[j] > 0);
  if (!likely.length) return null;
  const step = RULE_TILTS[1] - RULE_TILTS[0];
  let best = 0, found = null;   // one sheet: every rule of a direction has the tilt of the most ink in core rows
  for (const t of likely.flatMap((j) => [-1, -0.5, 0, 0.5, 1].map((f) => RULE_TILTS[j] + step * f))) {
    const at = countsAt(rr, cc, t, W);
    const inCore = heldOf(at.counts, RULE_CORE * W);
    if (inCore > best) {
      best = inCore;
      found = at;
    }
  }
  if (found === null) return null;
  const { idx, counts } = found;
  const core = [];
  counts.forEach((c, r) => { if (c >= RULE_CORE * W) core.push(r); });
  const rows = new Set(core);
  for (const d of [-1, 1]) for (const r of core) if (counts[r + d] >= RULE_EDGE * W) rows.add(r + d);
  return { rr, cc, idx, rows };
}

/** rules.paper_rules (step 1a): the 0/1 pixels of `mask` (h, w) that are a sheet's ruling:
 *  straight lines at one tilt of up to 10 degrees whose row holds RULE_CORE of the width (or, for
 *  squared paper's vertical rules, the height), with the rows beside them holding RULE_EDGE of it. */
function paperRules(mask, h, w) {
  const out = new Uint8Array(h * w);
  for (const along of ["rows", "columns"]) {   // rules along the rows, then along the columns
    const found = linesOf(mask, h, w, along);
    if (found === null) continue;
    const { rr, cc, idx, rows } = found;
    idx.forEach((r, i) => {
      if (rows.has(r)) out[along === "rows" ? rr[i] * w + cc[i] : cc[i] * w + rr[i]] = 1;
    });
  }
  return out;
}

/** rules.margins (step 1a): the 0/1 pixels of `mask` (h, w; the ink the rules are not) that
 *  are a notebook's margin: a line along the columns from edge to edge (within its thickness of
 *  either), at most 1/MARGIN_THIN of the height thick, alone on the paper (the rows two and three
 *  beside it under RULE_EDGE of the height) and `dark` (0/1: as dark as the pen) along MARGIN_DARK
 *  of the height, with a row either side of it. */
export function margins(mask, dark, h, w) {
  const { MARGIN_THIN } = P.rules;
  const out = new Uint8Array(h * w);
  const e = Math.floor(Math.max(2, h / MARGIN_THIN));   // (the most a margin's ends may stop short of the edges)
  if (!mask.subarray(0, (e + 1) * w).some((v) => v) || !mask.subarray((h - 1 - e) * w).some((v) => v)) return out;
  const found = linesOf(mask, h, w, "columns");
  if (found === null) return out;
  const { rr, cc, idx, rows } = found;
  const order = [...rows].sort((a, b) => a - b);
  const bands = [];   // each line's rows: runs of consecutive rows
  for (const r of order) {
    if (bands.length && r === bands[bands.length - 1][1] + 1) bands[bands.length - 1][1] = r;
    else bands.push([r, r]);
  }
  const perRow = new Int32Array(idx.reduce((a, b) => Math.max(a, b), 0) + 5);   // ink in each row at the tilt
  for (const r of idx) perRow[r]++;
  for (const [first, last] of bands) {
    let beside = 0;   // the rows two and three beside it: not a desk's or a shadow's edge
    for (const r of [first - 3, first - 2, last + 2, last + 3]) if (r >= 0 && r < perRow.length) beside = Math.max(beside, perRow[r]);
    if (last - first + 1 > Math.max(2, h / MARGIN_THIN) || beside >= P.rules.RULE_EDGE * h) continue;
    let lo = Infinity, hi = -Infinity;
    const on = [];
    idx.forEach((r, i) => {
      if (r >= first - 1 && r <= last + 1) {
        on.push(i);
        lo = Math.min(lo, cc[i]);
        hi = Math.max(hi, cc[i]);
      }
    });
    const darkAt = new Set(on.filter((i) => dark[cc[i] * w + rr[i]]).map((i) => cc[i]));   // where along it the line is dark
    const ends = Math.max(2, last - first + 1);   // (a box's side ends at its corners, inside the image)
    if (on.length && lo <= ends && hi >= h - 1 - ends && darkAt.size >= P.rules.MARGIN_DARK * h) {
      for (const i of on) out[cc[i] * w + rr[i]] = 1;
    }
  }
  return out;
}

/** rules._contrast (step 1a): of `d` (h, w): |d|, what steps 3b-3c call ink (beyond max(3 sigma, 4))
 *  and the pen's contrast: the 90th percentile of what is seen, or of what is seen off the lines
 *  from edge to edge when that is higher (squared paper around a small number: the rules are most
 *  of what is seen). */
function contrastOf(d, sigma, h, w) {
  const a = d.map(Math.abs);
  const seen = mapTo(Uint8Array, a, (x) => (x > Math.max(3 * sigma, 4.0) ? 1 : 0));
  const inked = a.filter((x, i) => seen[i]);
  if (!inked.length) return { a, seen, pen: 0 };
  let pen = percentile(inked, 0.9);
  const lines = paperRules(seen, h, w);
  const off = a.filter((x, i) => seen[i] && !lines[i]);
  if (off.length) pen = Math.max(pen, percentile(off, 0.9));
  return { a, seen, pen };
}

/** rules.sheet_lines (step 1a): the 0/1 pixels of `d` (h, w) that are the sheet's, not ink: the
 *  paper rules among the ink fainter than RULE_FAINT of the pen's (sigma: the noise), and a margin
 *  among the ink as dark as the pen. */
export function sheetLines(d, sigma, h, w) {
  const { a, seen, pen } = contrastOf(d, sigma, h, w);
  if (!a.some((x, i) => seen[i])) return seen;
  const faint = P.rules.RULE_FAINT * pen;
  const rules = paperRules(seen.map((s, i) => (s && a[i] < faint ? 1 : 0)), h, w);
  const margin = margins(seen.map((s, i) => (s && !rules[i] ? 1 : 0)), a.map((x) => (x >= faint ? 1 : 0)), h, w);
  return rules.map((r, i) => r | margin[i]);
}

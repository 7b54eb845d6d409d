// Step 1a of reading a number, a sheet's rules are not ink: the browser's twin of
// digitpad/rules.py's faint_rules and paper_rules (photos and scans; the page's transparent
// canvas never gets here). Constants come from numbers-params.json (P.rules).
//
//   inkMap(gray, alpha, h, w, minPixels, faintRules)   // preprocess.js drops what it returns

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

/** rules.paper_rules (step 1a): the 0/1 pixels of `mask` (h, w) that are a sheet's ruling:
 *  straight lines at one tilt of up to 10 degrees whose row holds RULE_CORE of the width (or, for
 *  squared paper's vertical rules, the height), with the rows beside them holding RULE_EDGE of
 *  it. The RULE_CANDIDATES likeliest tilts are found on every k-th column over RULE_TILTS, then
 *  looked at on all pixels within a step of each, in half steps. */
function paperRules(mask, h, w) {
  const { RULE_CORE, RULE_EDGE, RULE_TILTS, RULE_SAMPLE, RULE_LENIENT, RULE_CANDIDATES } = P.rules;
  const out = new Uint8Array(h * w);
  for (const along of ["rows", "columns"]) {   // rules along the rows, then along the columns
    const [, W] = along === "rows" ? [h, w] : [w, h];
    const rr = [], cc = [];
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        if (!mask[y * w + x]) continue;
        rr.push(along === "rows" ? y : x);
        cc.push(along === "rows" ? x : y);
      }
    }
    if (rr.length < RULE_CORE * W) continue;
    const k = Math.max(1, Math.floor(W / RULE_SAMPLE));
    const sr = rr.filter((_, i) => cc[i] % k === 0), sc = cc.filter((c) => c % k === 0);
    const lenient = RULE_LENIENT * RULE_CORE * Math.ceil(W / k);
    const held = RULE_TILTS.map((t) => heldOf(countsAt(sr, sc, t, W).counts, lenient));
    const likely = held.map((_, j) => j).sort((a, b) => held[b] - held[a] || a - b)
      .slice(0, RULE_CANDIDATES).filter((j) => held[j] > 0);
    if (!likely.length) continue;
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
    if (found === null) continue;
    const { idx, counts } = found;
    const core = [];
    counts.forEach((c, r) => { if (c >= RULE_CORE * W) core.push(r); });
    const rows = new Set(core);
    for (const d of [-1, 1]) for (const r of core) if (counts[r + d] >= RULE_EDGE * W) rows.add(r + d);
    idx.forEach((r, i) => {
      if (rows.has(r)) out[along === "rows" ? rr[i] * w + cc[i] : cc[i] * w + rr[i]] = 1;
    });
  }
  return out;
}

/** rules.faint_rules (step 1a): paper rules among the ink fainter than RULE_FAINT of the pen's
 *  (d: the deviation from the background, either sign; sigma: the noise). The pen's contrast is
 *  the 90th percentile of what is seen, or of what is seen off the lines from edge to edge when
 *  that is higher (squared paper around a small number: the rules are most of what is seen). */
export function faintRules(d, sigma, h, w) {
  const a = d.map(Math.abs);
  const seen = mapTo(Uint8Array, a, (x) => (x > Math.max(3 * sigma, 4.0) ? 1 : 0));   // (what steps 3b-3c call ink)
  const inked = a.filter((x, i) => seen[i]);
  if (!inked.length) return seen;
  let pen = percentile(inked, 0.9);
  const lines = paperRules(seen, h, w);
  const off = a.filter((x, i) => seen[i] && !lines[i]);
  if (off.length) pen = Math.max(pen, percentile(off, 0.9));
  const faint = P.rules.RULE_FAINT * pen;
  return paperRules(seen.map((s, i) => (s && a[i] < faint ? 1 : 0)), h, w);
}

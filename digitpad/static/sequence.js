// The sequence model on this device: the browser's twin of digitpad/sequence.py, for the number
// reader's step 10 (numbers.js): a run of touching digits the cuts cannot part, read whole by a
// CRNN + CTC. Constants come from numbers-params.json (P.sequence: HEIGHT, MAX_WIDTH, STRIDE).
//
//   const v = view(page);                      // segment.js's page -> the network's input, or null
//   const model = new SequenceModel(ort, metadata, run);   // run(feeds): the session's run, queued
//   const reading = await readSequence(page, line, model);  // numbers.js's reading shape, or null
//
// view feeds the network the page's soft ink (page.v) cropped to its mask, padded by an eighth of
// its height all round and area-resampled (preprocess.js's resampleRows/resampleCols, the twins of
// fit28.resample_area) to HEIGHT rows. The network answers one frame per STRIDE columns: (T, 1,
// classes) log-probabilities, the last class CTC's blank. A character's columns on the page run
// between its cuts with its neighbours (a gap in the ink between their frames, else midway); its
// box is the ink there, its 28x28 that ink through preprocessing steps 4-10 (preprocess.js's
// finish), as on the server.

import { P } from "./numparams.js";
import { rankingsOf } from "./grammar.js";
import { fileBox } from "./level.js";
import { bbox, finish, resampleCols, resampleRows } from "./preprocess.js";

/** Python's round(): a half goes to the even neighbour (round(2.5) is 2; Math.round says 3). */
function roundHalfEven(x) {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** sequence.view: the page's soft ink as the network's input, or null when there is none.
 *  -> {x: Float32Array (HEIGHT, w) row-major, w, y0, x0 (page pixel of the crop's corner),
 *  pad (working px padded each side), scaleX (view columns per working pixel)}. */
export function view(page) {
  const { HEIGHT, MAX_WIDTH } = P.sequence;
  const box = bbox(page.mask, page.h, page.w);   // [y0, y1, x0, x1], end-exclusive
  if (box === null) return null;
  const [y0, y1, x0, x1] = box;
  const hc = y1 - y0, wc = x1 - x0;
  const pad = Math.max(1, Math.floor(hc / 8));   // a margin of an eighth of the ink's height all round
  const h = hc + 2 * pad, w = wc + 2 * pad;
  const padded = new Float64Array(h * w);   // (h, w), zeros around the crop
  for (let y = 0; y < hc; y++) {
    padded.set(page.v.subarray((y0 + y) * page.w + x0, (y0 + y) * page.w + x1), (y + pad) * w + pad);
  }
  const s = HEIGHT / h;
  const fits = roundHalfEven(w * s);
  const w2 = Math.max(8, Math.min(MAX_WIDTH, fits));
  const scaleX = fits <= MAX_WIDTH ? s : w2 / w;   // (a longer line is squeezed)
  const x = resampleCols(resampleRows(padded, h, w, HEIGHT, s, 0.0), HEIGHT, w, w2, scaleX, 0.0);   // (HEIGHT, w2)
  return { x: Float32Array.from(x), w: w2, y0, x0, pad, scaleX };
}

/** sequence.best_path: (T, C) probabilities (row-major) -> the characters of the most likely
 *  frame labels (repeats merged, blanks dropped): [{char, confidence, t0, t1, probs (C)}]. A
 *  character's confidence is its best frame's probability of it; probs is that frame's row. */
export function bestPath(p, T, C, alphabet) {
  const blank = alphabet.length;
  const out = [];
  let prev = blank;
  for (let t = 0; t < T; t++) {
    const row = p.subarray(t * C, (t + 1) * C);
    let k = 0;
    for (let c = 1; c < C; c++) if (row[c] > row[k]) k = c;   // (the first of equal ones, as argmax)
    const q = row[k];
    if (k !== blank && k !== prev) out.push({ char: alphabet[k], confidence: q, t0: t, t1: t, probs: row });
    else if (k !== blank) {
      const e = out[out.length - 1];
      e.t1 = t;
      if (q > e.confidence) [e.confidence, e.probs] = [q, row];
    }
    prev = k;
  }
  return out;
}

/** A digitpad sequence .onnx run by onnxruntime-web (sequence.SequenceModel's frames and read). */
export class SequenceModel {
  /** metadata: the file's own (modelfile.js); run(feeds) -> the session's outputs (Device queues
   *  it with the digit model's runs: one run at a time in the one wasm runtime). */
  constructor(ort, metadata, run) {
    this.ort = ort;
    this.metadata = metadata;
    this.run = run;
    this.alphabet = metadata.alphabet;
    this.input = metadata.input?.name || "image";
    this.output = metadata.output?.name || "logp";
  }

  /** A view -> {p: Float32Array (T, C) probabilities, T, C}, one frame per STRIDE columns. */
  async frames(v) {
    const { HEIGHT, STRIDE } = P.sequence;
    const W = Math.ceil(v.w / STRIDE) * STRIDE;   // the width padded with zeros to whole frames
    const x = new Float32Array(HEIGHT * W);   // (1, 1, HEIGHT, W)
    for (let y = 0; y < HEIGHT; y++) x.set(v.x.subarray(y * v.w, (y + 1) * v.w), y * W);
    const out = (await this.run({ [this.input]: new this.ort.Tensor("float32", x, [1, 1, HEIGHT, W]) }))[this.output];
    const [T, , C] = out.dims;   // (T, 1, C) log-probabilities
    const p = new Float32Array(T * C);   // (float32, as the server's np.exp of float32 log-probabilities)
    for (let i = 0; i < p.length; i++) p[i] = Math.exp(out.data[i]);
    return { p, T, C };
  }

  /** CTC's best path through frames(v). */
  async read(v) {
    const { p, T, C } = await this.frames(v);
    return bestPath(p, T, C, this.alphabet);
  }
}

/** sequence.read_sequence: the page read by the sequence model as the characters of its alphabet
 *  (digits, and a number's separators where its recipe had them), in numbers.js's reading shape
 *  ({text, characters, confidence, candidates, aside}), or null (no ink, nothing read, some of it
 *  no number's character (P.sequence.OTHER), or a character over no ink). */
export async function readSequence(page, line, model) {
  const v = view(page);
  const chars = v !== null ? await model.read(v) : [];
  if (!chars.length || chars.some((e) => e.char === P.sequence.OTHER)) return null;
  const { h, w } = page;
  const cols = new Float64Array(v.w);   // ink per view column (0: no ink at all)
  for (let y = 0; y < P.sequence.HEIGHT; y++) for (let c = 0; c < v.w; c++) cols[c] += v.x[y * v.w + c];
  let first = 0;   // where the view's blank left margin ends (no gap: CTC may emit a first character over it)
  while (first < v.w && cols[first] === 0) first++;
  const edges = [0.0];   // view columns: where neighbours part (sequence._cut)
  for (let k = 1; k < chars.length; k++) {
    // the first column with no ink from the first's last frame to the second's first, else midway
    const lo = Math.max(chars[k - 1].t1 * P.sequence.STRIDE, first);
    const hi = Math.min(v.w, (chars[k].t0 + 1) * P.sequence.STRIDE);
    let gap = -1;
    for (let c = lo; c < hi && gap < 0; c++) if (cols[c] === 0) gap = c;
    edges.push(gap >= 0 ? gap + 0.5 : (chars[k - 1].t1 + chars[k].t0 + 1) / 2 * P.sequence.STRIDE);
  }
  edges.push(Infinity);
  const out = [];
  for (let k = 0; k < chars.length; k++) {
    const e = chars[k], c0 = edges[k], c1 = edges[k + 1];
    // view column c -> working column x0 - pad + c / scaleX
    const a = Math.max(0, Math.floor(v.x0 - v.pad + c0 / v.scaleX));
    const b = c1 === Infinity ? w : Math.max(a, Math.min(w, Math.ceil(v.x0 - v.pad + c1 / v.scaleX)));
    let bx0 = w, bx1 = -1, by0 = h, by1 = -1;   // the ink in columns a..b-1
    for (let y = 0; y < h; y++) {
      for (let x = a; x < b; x++) {
        if (!page.mask[y * w + x]) continue;
        bx0 = Math.min(bx0, x);
        bx1 = Math.max(bx1, x + 1);
        by0 = Math.min(by0, y);
        by1 = y + 1;
      }
    }
    if (bx1 < 0) return null;   // a character over no ink: not a reading to show
    const ch = by1 - by0, cw = bx1 - bx0;
    const ink = new Float64Array(ch * cw);   // (ch, cw) the page's ink in the box
    for (let y = 0; y < ch; y++) ink.set(page.ink.subarray((by0 + y) * w + bx0, (by0 + y) * w + bx1), y * cw);
    const res = finish(ink, ch, cw, page.noise, P.preprocess.MIN_INK_PIXELS, false);
    // the best frame's probabilities of the characters (the blank's share out); the scores are
    // every character's but OTHER's, with OTHER's share out too (a digits-only model's: the ten
    // bars), `other` is OTHER's share
    const raw = [...model.alphabet].map((a, i) => [a, e.probs[i]]);
    const total = raw.reduce((sum, [, q]) => sum + q, 0) || 1.0;
    const pOther = raw.find(([a]) => a === P.sequence.OTHER)?.[1] ?? 0.0;
    const scores = new Map(raw.filter(([a]) => a !== P.sequence.OTHER).map(([a, q]) => [a, q / (total - pOther)]));
    out.push({
      char: e.char, confidence: e.confidence,
      box: fileBox(page, by0, by1, bx0, bx1),
      alternatives: [], scores,
      image: res.kind === "done" ? res.image : new Uint8Array(784), other: pOther / total,
    });
  }
  // The grammar has the last word here too, as on the reader's path (a straight '(' read as a 1)
  rankingsOf(out.map((c) => c.scores)).forEach((ranked, k) => {
    const c = out[k], ch = ranked[0][0];
    if (ch !== c.char) [c.char, c.confidence] = [ch, c.scores.get(ch)];   // (the grammar's choice's share)
    c.alternatives = ranked.filter(([a]) => a !== ch).slice(0, 3);
  });
  const confidence = out.reduce((p, c) => p * c.confidence, 1.0);
  return { text: out.map((c) => c.char).join(""), characters: out, confidence, candidates: 0, aside: line.aside };
}

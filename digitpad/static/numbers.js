// Read a whole handwritten number on this device: the browser's twin of digitpad/numbers.py
// (steps 6-10 of its docstring: candidates, class scores, the search, spaces, the sequence
// model), on the pieces of segment.js and cuts.js, each candidate's 28x28 made by preprocess.js's
// `finish` (the same steps 4-10 the server runs) and read by the model in ONE batch per stage;
// digits that touch read again whole by sequence.js. Constants come from
// numbers-params.json (P.numbers), written from the Python module.
//
//   const reading = await readNumber(decodedOf(imageData), model, sequence);
//   // model: {labels, predictBatch(images: Uint8Array(784)[]) -> Promise<Float32 probabilities[]>}
//   // sequence: sequence.js's SequenceModel, or null (no step 10, as a server without one)
//   reading.text; reading.characters[0]   // {char, confidence, box [x, y, w, h], alternatives, scores, image}

import { P } from "./numparams.js";
import { finish, median } from "./preprocess.js";
import { componentsOf, inkPage } from "./segment.js";
import { fileBox, levelled } from "./level.js";
import { cut } from "./cuts.js";
import { colonBlob, features, lines, marks, verify, writerLean } from "./glyphs.js";
import { rankingsOf } from "./grammar.js";
import { readSequence } from "./sequence.js";

// ------------------------------------------------------------------ 6. candidates

/** runs.paint(*runs.joined(pieces), box): the pieces' runs as a 0/1 mask of box [y0, y1, x0, x1]. */
function paint(pieces, [y0, y1, x0, x1]) {
  const w = x1 - x0, m = new Uint8Array((y1 - y0) * w);
  for (const p of pieces) {
    for (let i = 0; i < p.row.length; i++) m.fill(1, (p.row[i] - y0) * w + p.start[i] - x0, (p.row[i] - y0) * w + p.end[i] - x0);
  }
  return m;
}

/** numbers._grow: one 3x3 dilation of an (h, w) mask. */
function grow(m, h, w) {
  const g = Uint8Array.from(m);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) if ((y > 0 && m[(y - 1) * w + x]) || (y < h - 1 && m[(y + 1) * w + x])) g[y * w + x] = 1;
  }
  const out = Uint8Array.from(g);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) if ((x > 0 && g[y * w + x - 1]) || (x < w - 1 && g[y * w + x + 1])) out[y * w + x] = 1;
  }
  return out;
}

/** numbers._image: one candidate's 28x28 (or null) and its ink box [y0, y1, x0, x1] (working px). */
function image(page, parts) {
  const y0 = Math.min(...parts.map((p) => p.y0)), y1 = Math.max(...parts.map((p) => p.y1));
  const x0 = Math.min(...parts.map((p) => p.x0)), x1 = Math.max(...parts.map((p) => p.x1));
  const box = [Math.max(0, y0 - 1), Math.min(page.h, y1 + 1), Math.max(0, x0 - 1), Math.min(page.w, x1 + 1)];
  const h = box[1] - box[0], w = box[3] - box[2];
  const mine = paint(parts, box), around = grow(mine, h, w);
  const ink = new Float64Array(h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x, at = (y + box[0]) * page.w + x + box[2];
      const other = page.mask[at] && !mine[i];
      ink[i] = page.ink[at] * (around[i] && !other ? 1 : 0);
    }
  }
  const res = finish(ink, h, w, page.noise, P.preprocess.MIN_INK_PIXELS, false);
  return { img: res.kind === "done" ? res.image : null, maskBox: [y0, y1, x0, x1] };
}

const keyOf = (parts) => parts.map((p) => `${p.comp},${p.x0},${p.x1},${p.area}`).join(";");

/** numbers.candidates: the candidate characters of `pieces` (reused from `seen` when made there). */
function candidates(page, pieces, line, seen) {
  const N = P.numbers;
  const spans = [];
  const small = pieces.map((p) => p.height <= N.SMALL * line.height);
  for (let i = 0; i < pieces.length; i++) {
    let right = -Infinity;
    for (let j = i; j < Math.min(pieces.length, i + N.MAX_PARTS); j++) {
      const p = pieces[j];
      // a small piece joins, or is joined, across the wider gap (a '%''s rings sit apart)
      const gap = small[j] || small.slice(i, j).every(Boolean) ? N.SMALL_JOIN_GAP : N.JOIN_GAP;
      if (j > i && p.d0 - right > gap * line.height) break;
      right = Math.max(right, p.d1);
      if (j > i && right - Math.min(...pieces.slice(i, j + 1).map((q) => q.d0)) > N.MAX_WIDTH * line.height) break;
      spans.push([i, j + 1]);
    }
  }
  const where = new Map();
  pieces.forEach((p, k) => where.set(p.comp, [...(where.get(p.comp) || []), k]));
  for (const ks of where.values()) {
    const [a, b] = [ks[0], ks[ks.length - 1]];
    if (ks.length > 1 && b - a === ks.length - 1 && !spans.some(([i, j]) => i === a && j === b + 1)) spans.push([a, b + 1]);
  }
  return spans.map(([i, j]) => {
    const parts = pieces.slice(i, j), key = keyOf(parts);
    const old = seen.get(key);
    if (old !== undefined) return { ...old, i, j };
    const { img, maskBox } = image(page, parts);
    const c = { i, j, maskBox, parts, image: img, scores: new Map(), fit: -Infinity, probs: null };
    seen.set(key, c);
    return c;
  });
}

// ------------------------------------------------------------------ 7. class scores

/** numbers.class_scores: each character's score (a Map, in Python's dict order). */
export function classScores(probs, labels, tall, geo) {
  const N = P.numbers, MARKS = N.MARKS;
  const out = new Map();
  if (probs !== null) {
    labels.forEach((lab, k) => {
      if (!MARKS.includes(lab) && lab !== "other") out.set(lab, tall ? probs[k] : probs[k] * 1e-3);
    });
  }
  for (const lab of MARKS + "/()") {
    if (labels.includes(lab) && probs !== null) {
      if (MARKS.includes(lab)) out.set(lab, geo.has(lab) ? Math.max(probs[labels.indexOf(lab)], N.MARK_FLOOR) * (0.5 + geo.get(lab)) : 0.0);
      else if (geo.has(lab)) {   // geo 0: a straight stroke leaning like the writer's 1s; 1: as only a slash does
        const g = geo.get(lab);
        out.set(lab, g === 0 ? out.get(lab) * N.NOT_SLASH : g >= 1 ? 1.0 : Math.min(1.0, out.get(lab) * (0.5 + g)));
      }
    } else if (geo.has(lab) && MARKS.includes(lab)) out.set(lab, geo.get(lab));
  }
  return out;
}

// ------------------------------------------------------------------ 8. search

/** numbers.score: a candidate's class scores and its log-score as one character (c.fit). */
function score(c, probs, labels, line, compArea, tallPieces, lean = null) {
  const N = P.numbers;
  const [y0, y1] = c.maskBox;
  let tall = (y1 - y0) >= N.TALL * line.height;
  const whole = c.parts.every((p) => p.whole);
  const small = (c.parts.every((p) => p.height <= N.SMALL * line.height) && (y1 - y0) <= 0.75 * line.height) ||
    (whole && c.parts.length === 1 && colonBlob(c.parts[0], line));   // a mark, however tall
  let geo = new Map();
  if (whole && small) geo = marks(c.parts, c.maskBox, line, tallPieces);
  else if (whole && tall) geo = lines(c.parts, line, lean);
  if (small) tall = false;   // a mark, or a piece of a character: not read as a digit
  c.scores = classScores(probs, labels, tall, geo);
  if (probs !== null && labels.includes(P.charset.OTHER_NAME)) c.pOther = probs[labels.indexOf(P.charset.OTHER_NAME)];
  if (tall && probs !== null) {
    c.other = c.pOther ?? 0.0;
    c.fit = verify(features(c.parts, c.maskBox, c.scores, line, compArea, c.other));
  } else {
    const [top, best] = geo.size ? [...geo.entries()].reduce((a, b) => (b[1] > a[1] ? b : a)) : [null, 0.0];
    c.fit = best > 0 ? Math.log(best) : -7.0;   // (0: geometry says what it is not)
    if (top === ":") c.fit += N.CHAR_BONUS;   // worth both its dots
  }
}

function componentAreas(pieces) {
  const area = new Map();
  for (const p of pieces) area.set(p.comp, (area.get(p.comp) || 0) + p.area);
  return area;
}

/** numbers._search: the best path of candidates covering pieces 0..n-1 (a small piece may be skipped). */
function search(n, cands, pieces, line) {
  const N = P.numbers;
  const best = new Array(n + 1).fill(-Infinity), back = new Array(n + 1).fill(null);
  best[0] = 0.0;
  const ending = new Map();
  for (const c of cands) ending.set(c.j, [...(ending.get(c.j) || []), c]);
  for (let j = 1; j <= n; j++) {
    const p = pieces[j - 1];
    if (p.height < 0.45 * line.height && best[j - 1] + N.SKIP_COST > best[j]) {
      best[j] = best[j - 1] + N.SKIP_COST;
      back[j] = j - 1;
    }
    for (const c of ending.get(j) || []) {
      if (!c.scores.size || best[c.i] === -Infinity) continue;
      const s = best[c.i] + c.fit + N.CHAR_BONUS;
      if (s > best[j]) {
        best[j] = s;
        back[j] = c;
      }
    }
  }
  const path = [];
  for (let j = n; j > 0;) {
    const b = back[j];
    if (b === null) break;   // unreachable (no candidate covers a piece): not expected
    if (typeof b === "number") j = b;
    else {
      path.push(b);
      j = b.i;
    }
  }
  return { path: path.reverse(), score: best[n] };
}

/** numbers._read: steps 6-8 on one set of pieces -> {path, images read}. */
async function readPieces(page, pieces, line, model, seen) {
  const cands = candidates(page, pieces, line, seen);
  const todo = cands.filter((c) => c.image !== null && !c.scores.size && c.fit === -Infinity);
  const tallPieces = pieces.filter((p) => p.height >= P.numbers.TALL * line.height);
  const area = componentAreas(pieces), lean = writerLean(tallPieces);
  if (todo.length) {
    const probs = await model.predictBatch(todo.map((c) => c.image));   // ONE batch: (N, C)
    todo.forEach((c, k) => score(c, probs[k], model.labels, line, area, tallPieces, lean));
  }
  for (const c of cands) if (c.image === null && c.fit === -Infinity) score(c, null, model.labels, line, area, tallPieces, lean);
  const found = search(pieces.length, cands, pieces, line);
  return { path: found.path, images: todo.length, total: found.score };
}

// ------------------------------------------------------------------ reading

/** numbers.read_number: decoded planes -> {text, characters, confidence, candidates, aside}. */
export async function readNumber(dec, model, sequence = null) {
  const N = P.numbers;
  let page = inkPage(dec);
  const first = page && componentsOf(page);
  if (!first) return { text: "", characters: [], confidence: 0.0, candidates: 0, aside: 0 };
  const { page: p, found } = levelled(page, first);   // (step 4a: a line written uphill or downhill, turned level)
  page = p;
  const { comps, line } = found;
  const seen = new Map();   // candidates already read, by their pieces
  let { path, images, total } = await readPieces(page, comps, line, model, seen);
  let doubt = new Set();
  for (const c of path) {
    if (c.fit < Math.log(N.ACCEPT) || (c.maskBox[3] - c.maskBox[2]) > N.WIDE * line.height) c.parts.forEach((p) => doubt.add(p.comp));
  }
  if (doubt.size) {
    const again = await readPieces(page, cut(comps, line, doubt), line, model, seen);
    images += again.images;
    // the better of the two readings (cut pieces cannot always rebuild what whole components made)
    if (again.total >= total && (comps.length > 1 || path.length > 1 || cutLone(path[0], total, again.path, again.total, line))) {
      path = again.path;
    }
  }
  const reading = assemble(path, page, line, images);
  return sequence !== null ? sequenceOr(reading, path, page, line, sequence) : reading;
}

/** numbers._cut_lone: one stroke read whole as one character; is its cut reading the better one?
 * A stroke read clearly as one digit: each cut character verifies at LONE_CUT and the cut reading
 * wins by LONE_MARGIN (a lone digit is not split); any other up to STROKE_WIDE line heights wide:
 * at STROKE_CUT on geometric average (a letter is not cut into digits); a wider one: always. */
function cutLone(whole, total, cutPath, cutTotal, line) {
  const N = P.numbers;
  const fits = cutPath.map((c) => c.fit);
  let digit = 0.0;
  for (const [ch, p] of whole.scores) if (P.charset.DIGITS.includes(ch) && p > digit) digit = p;
  if (digit >= N.LONE) return Math.min(...fits) >= Math.log(N.LONE_CUT) && cutTotal - total >= N.LONE_MARGIN;
  const wide = whole.maskBox[3] - whole.maskBox[2] > N.STROKE_WIDE * line.height;
  return wide || fits.reduce((s, f) => s + f, 0.0) / fits.length >= Math.log(N.STROKE_CUT);
}

/** numbers._assemble (step 9): characters with boxes in file pixels, spaces, confidence. */
function assemble(path, page, line, images) {
  const N = P.numbers;
  const chars = [], gaps = [];
  const rankings = rankingsOf(path.map((c) => c.scores));
  path.forEach((c, k) => {
    const ranked = rankings[k];
    const total = [...c.scores.values()].reduce((s, v) => s + v, 0) || 1.0;
    const [ch, p] = ranked[0];
    const [y0, y1, x0, x1] = c.maskBox;
    const box = fileBox(page, y0, y1, x0, x1);
    // A mark's scores are its geometry times the model's (floored) probability, not a
    // probability: its confidence is its share of them. Other characters' are the model's.
    const norm = N.MARKS.includes(ch) ? total : Math.max(1.0, total);
    chars.push({
      char: ch, confidence: p / norm, box, alternatives: ranked.slice(1, 4).map(([a, q]) => [a, q / norm]),
      image: c.image || new Uint8Array(784), scores: new Map([...c.scores].map(([a, q]) => [a, q / norm])),
      other: c.pOther ?? null,   // the model's P(other) for image (null: the model did not read it)
    });
    if (k) gaps.push(x0 - path[k - 1].maskBox[3]);
  });
  const confidence = chars.length ? chars.reduce((s, c) => s * c.confidence, 1.0) : 0.0;
  return { text: spaced(chars, gaps, line.height), characters: chars, confidence, candidates: images, aside: line.aside };
}

/** numbers._spaced (step 9): the characters' string, one space where the gap before a character
 *  (gaps, in the unit of the line height) is over SPACE_GAP heights and SPACE_RATIO times the median gap. */
function spaced(chars, gaps, height) {
  const N = P.numbers;
  const med = gaps.length ? median(gaps) : 0;
  let text = "";
  chars.forEach((ch, k) => {
    if (k && gaps[k - 1] > N.SPACE_GAP * height && gaps[k - 1] > N.SPACE_RATIO * Math.max(med, 1.0)) text += " ";
    text += ch.char;
  });
  return text;
}

/** numbers._sequence_or (step 10): digits that touch (the reader cut a component, or read one
 *  over WIDE line heights as one character) read again by the sequence model; its reading is kept
 *  when more confident. Elsewhere the model reads where the reader doubts a character (below
 *  SEQ_DOUBT) and calls none more likely no character (SEQ_OTHER), kept only when sure (SEQ_SURE),
 *  more confident and with no character fewer; with the reader's digits, no character fewer and
 *  SEQ_SAME sure, kept however sure the reader. Not where ink was set aside (the sequence model
 *  would see a frame), nor where the reader found one of KEPT_SYMBOLS that the sequence model
 *  knows, nor a symbol that it does not know whole or a '%' (a symbol of cut pieces may be a bit
 *  of a digit). */
async function sequenceOr(found, path, page, line, sequence) {
  const N = P.numbers;
  const touch = path.some((c) => c.parts.some((p) => !p.whole || c.maskBox[3] - c.maskBox[2] > N.WIDE * line.height));
  const symbol = found.characters.some((ch, k) => !P.charset.DIGITS.includes(ch.char)
    && (sequence.alphabet.includes(ch.char) ? N.KEPT_SYMBOLS.includes(ch.char)
      : ch.char === "%" || path[k].parts.every((p) => p.whole)));
  const doubt = found.characters.some((ch) => ch.confidence < N.SEQ_DOUBT)
    && found.characters.every((ch) => (ch.other ?? 0.0) < N.SEQ_OTHER);
  if (line.aside || !(touch || doubt) || symbol) return found;
  const seq = await readSequence(page, line, sequence);
  if (seq === null) return found;
  const whole = seq.characters.length >= found.characters.length;   // no character fewer
  const digits = (text) => [...text].filter((ch) => P.charset.DIGITS.includes(ch)).join("");
  const same = whole && seq.confidence >= N.SEQ_SAME && digits(seq.text) === digits(found.text);   // its separators win
  if (!same && !(seq.confidence > found.confidence && (touch || (whole && seq.confidence >= N.SEQ_SURE)))) return found;
  const cs = seq.characters;
  const gaps = cs.slice(1).map((b, k) => b.box[0] - (cs[k].box[0] + cs[k].box[2]));   // file px
  return { ...seq, text: spaced(cs, gaps, line.height * page.scale), candidates: found.candidates };
}

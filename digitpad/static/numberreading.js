// A whole number read on this device, in POST /api/read's shape: the browser's twin of
// digitpad/numberreading.py (statuses, the lone-digit rule, "?" for a character that is not a
// number's). numbers.js finds the characters; a lone digit is read exactly as on-device digit
// reading reads the image (Device.predictImageData, the twin of /api/predict).
//
//   const answer = await readNumberOnDevice(device, imageData, thresholds);   // GET /api/config's
//   answer.text, answer.status, answer.characters[0].box

import { P } from "./numparams.js";
import { previewURL } from "./ondevice.js";
import { readNumber } from "./numbers.js";
import { decodedOf } from "./segment.js";

/** RGBA pixels -> POST /api/read's answer, computed on the device (where = "device"). */
export async function readNumberOnDevice(device, pixels, thresholds = {}) {
  const t0 = performance.now();
  const { DIGITS, NUMBER_ALPHABET, OTHER_NAME } = P.charset;
  const model = { labels: device.labels, predictBatch: (images) => device.probabilitiesBatch(images) };
  const found = await readNumber(decodedOf(pixels), model, device.sequence);   // (step 10 when it has one)
  let chars = found.characters, confidence = found.confidence;
  const lone = chars.length === 1 && DIGITS.includes(chars[0].char) && !found.aside   // (not underlined)
    ? await device.predictImageData(pixels, { thresholds, preview: false }) : null;   // exactly as one digit is read
  // numberreading._others: is each character outside the number alphabet (the model's `other`)?
  let others;
  if (lone !== null) others = [lone.status === "not_digit"];
  else if (!chars.length || !device.labels.includes(OTHER_NAME)) others = chars.map((c) => !NUMBER_ALPHABET.includes(c.char));
  else {
    // P(other) as read with each character; only the ones the model did not read (marks from
    // geometry alone: a blank 28x28) go to the model now.
    const other = chars.map((c) => c.other);
    const unread = other.flatMap((p, i) => (p === null ? [i] : []));
    if (unread.length) {
      const k = device.labels.indexOf(OTHER_NAME);
      const probs = await device.probabilitiesBatch(unread.map((i) => chars[i].image));
      unread.forEach((i, n) => { other[i] = probs[n][k]; });
    }
    const likely = other.map((p) => 1.0 - p);
    const cutoff = thresholds.not_digit_threshold ?? 0;
    others = chars.map((c, i) => likely[i] < cutoff || !NUMBER_ALPHABET.includes(c.char));
    if (!others.every(Boolean)) {   // among a number's characters: IN_NUMBER_NOT_DIGIT, never a small mark
      const inNumber = Math.min(cutoff, P.numberreading.IN_NUMBER_NOT_DIGIT);
      others = chars.map((c, i) => !NUMBER_ALPHABET.includes(c.char)
        || (!P.numbers.MARKS.includes(c.char) && likely[i] < inNumber));
    }
  }
  let text = found.text;
  if (lone !== null && lone.status !== "empty") {   // one digit: the single-digit reading's own figures
    const digit = lone.status !== "not_digit" ? String(lone.digit) : chars[0].char;
    text = digit;
    confidence = lone.confidence;
    chars = [{ ...chars[0], char: digit, confidence: lone.confidence, image: lone.image,
               scores: new Map(lone.probabilities.map((p, d) => [String(d), p])) }];
  }
  const uncertain = thresholds.uncertain_threshold ?? 0.6;
  const out = chars.map((c, i) => {
    let status = others[i] ? "other" : c.confidence < uncertain ? "uncertain" : "ok";
    if (lone !== null && !others[i] && lone.status === "uncertain") status = "uncertain";
    return {
      char: others[i] ? P.numberreading.OTHER_CHAR : c.char, confidence: c.confidence, status, box: c.box,
      alternatives: c.alternatives.filter(([a]) => NUMBER_ALPHABET.includes(a)).map(([a, p]) => ({ char: a, p })),
      probabilities: Array.from({ length: 10 }, (_, d) => c.scores.get(String(d)) ?? 0.0),
      preview: previewURL(c.image),
    };
  });
  const shown = out.map((c) => c.char)[Symbol.iterator]();   // into the text's non-space places
  text = [...text].map((ch) => (ch === " " ? ch : shown.next().value)).join("");
  const status = !out.length ? "empty" : out.every((c) => c.status === "other") ? "not_number"
    : out.some((c) => c.status !== "ok") ? "uncertain" : "ok";
  return {
    text, status, confidence, characters: out, model: device.metadata.version,
    sequence_model: device.sequence?.metadata.version ?? null, where: "device",
    timing_ms: { total: performance.now() - t0 }, candidates: found.candidates,
  };
}

// On-device reading: the shipped .onnx model run in the browser by onnxruntime-web (wasm,
// vendored, single-threaded), fed by preprocess.js (the JS mirror of digitpad.preprocess).
//
//   const device = await loadDevice();            // throws if the runtime or the model cannot load
//   const reading = await device.predictImageData(imageData, {thresholds});  // /api/predict's shape
//
// thresholds are GET /api/config's (uncertain_threshold, not_digit_threshold, doubtful_threshold):
// the status is decided by the same rule as digitpad.reading.Thresholds.status.
//
// The runtime and the model are fetched from this server only (no CDN); the service worker
// (sw.js) keeps them for offline use. The model URL carries the file's hash (?v=...), so a new
// model is fetched when it changes and a cached one is reused while it does not. The model's
// description (input, normalization, version) is read from the model file's own bytes
// (modelfile.js): weights and metadata travel as one unit. When the server reads numbers with a
// sequence model (config.sequence_url), the device loads it too (device.sequence, sequence.js:
// the number reader's step 10); with none (null), neither reads with one.

import { modelMetadata } from "./modelfile.js";
import { loadParams, P } from "./numparams.js";
import { normalize, toMnist } from "./preprocess.js";
import { SequenceModel } from "./sequence.js";

export const ORT_VERSION = "1.30.0";
export const ORT_DIR = `vendor/onnxruntime-web-${ORT_VERSION}/`;

let loading = null;
let loaded = false;

/** Fetch JSON from the server (the service worker answers from its cache when offline). */
async function getJSON(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url} answered ${r.status}`);
  return r.json();
}

/** Load the runtime and the model (with its metadata), once; later calls share the promise. */
export function loadDevice() {
  if (!loading) {
    loading = load().then((device) => {
      loaded = true;
      return device;
    }, (e) => {
      loading = null;   // let a later attempt retry
      throw e;
    });
  }
  return loading;
}

/** Whether on-device reading can start without the server: the model is loaded in this page,
 *  or the service worker keeps it (one visit in on-device mode stored it, with the runtime, and
 *  the sequence model when the kept config names one). */
export async function deviceAvailable() {
  if (loaded) return true;
  try {
    const kept = (path) => caches.match(new URL(path, document.baseURI).href, { ignoreSearch: true });
    const config = await kept("api/config");
    const sequence = config ? (await config.json()).sequence_url : null;
    return Boolean(await kept("api/model.onnx")) && (!sequence || Boolean(await kept("api/sequence.onnx")));
  } catch {
    return false;   // no Cache Storage (e.g. not a secure context)
  }
}

/** A model file's bytes. */
async function getBytes(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url} answered ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

async function load() {
  const t0 = performance.now();
  const base = new URL(ORT_DIR, document.baseURI).href;
  const ort = await import(`./${ORT_DIR}ort.wasm.min.mjs`);
  ort.env.wasm.numThreads = 1;   // no SharedArrayBuffer / cross-origin isolation needed
  ort.env.wasm.proxy = false;
  ort.env.wasm.wasmPaths = base;
  const [config] = await Promise.all([getJSON("api/config"), loadParams()]);   // (params: the number reader's)
  const [bytes, seqBytes] = await Promise.all([getBytes(config.model_url || "api/model.onnx"),
    config.sequence_url ? getBytes(config.sequence_url) : null]);
  const metadata = modelMetadata(bytes);   // the weights' own description, never a separate answer
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"] });
  const device = new Device(ort, session, metadata);
  if (seqBytes !== null) {
    const seqMeta = modelMetadata(seqBytes);
    if (seqMeta.kind !== P.sequence.KIND || seqMeta.input?.height !== P.sequence.HEIGHT) {
      throw new Error(`${config.sequence_url} is not a digitpad sequence model of ${P.sequence.HEIGHT} rows`);
    }
    const seqSession = await ort.InferenceSession.create(seqBytes, { executionProviders: ["wasm"] });
    device.sequence = new SequenceModel(ort, seqMeta, (feeds) => device._run(feeds, seqSession));
  }
  device.loadMs = performance.now() - t0;
  return device;
}

function softmax(logits) {
  const max = Math.max(...logits);
  const e = logits.map((v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

/** 28x28 white-on-black uint8 -> a PNG data URL (the "what the model sees" preview). */
export function previewURL(image) {
  const c = document.createElement("canvas");
  c.width = c.height = 28;
  const ctx = c.getContext("2d");
  const img = ctx.createImageData(28, 28);
  for (let i = 0; i < 784; i++) {
    img.data[4 * i] = img.data[4 * i + 1] = img.data[4 * i + 2] = image[i];
    img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  return c.toDataURL("image/png");
}

/** digitpad.reading.digit_view: the ten digit probabilities renormalised over the digits
 *  (float32), and their total before (the digit likelihood; 1 for a digits-only model). */
export function digitView(probs) {
  if (probs.length === 10) return { digits: probs, likelihood: 1.0 };
  let sum = 0;
  for (let i = 0; i < 10; i++) sum = Math.fround(sum + probs[i]);
  const total = Math.max(sum, 1e-30);
  return { digits: probs.slice(0, 10).map((p) => Math.fround(p / total)), likelihood: sum };
}

/** digitpad.reading.Thresholds.status, with GET /api/config's thresholds. */
export function statusOf(confidence, likelihood, empty, t) {
  if (empty) return "empty";
  if (likelihood < (t.not_digit_threshold ?? 0)) return "not_digit";
  return confidence < (t.uncertain_threshold ?? 0.6) || likelihood < (t.doubtful_threshold ?? 0) ? "uncertain" : "ok";
}

export class Device {
  constructor(ort, session, metadata) {
    this.ort = ort;
    this.session = session;
    this.metadata = metadata;
    this.input = metadata.input?.name || session.inputNames[0];
    this.output = metadata.output?.name || session.outputNames[0];
    this.queue = Promise.resolve();
    this.sequence = null;   // sequence.js's SequenceModel (loadDevice sets it when the server has one)
  }

  /** session.run, one at a time: ONNX Runtime Web's session cannot run twice at once, and a
   *  read started while an older one still runs (the pen moved on) would fail inside it. The
   *  sequence model's runs join the same queue (one wasm runtime under both sessions). */
  _run(feeds, session = this.session) {
    const run = this.queue.then(() => session.run(feeds));
    this.queue = run.catch(() => {});
    return run;
  }

  /** (784) uint8 28x28 -> the model's probabilities, one per class (float32 precision, like the server's). */
  async probabilities(image) {
    const x = normalize(image, this.metadata.normalization);
    const feeds = { [this.input]: new this.ort.Tensor("float32", x, [1, 1, 28, 28]) };
    const out = await this._run(feeds);
    return softmax(Array.from(out[this.output].data)).map(Math.fround);
  }

  /** The model's class names ("0".."9", symbols, "other"), from its metadata. */
  get labels() {
    return this.metadata.labels || ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
  }

  /** N 28x28 images -> N arrays of probabilities, in ONE model run ((N, 1, 28, 28) input). */
  async probabilitiesBatch(images) {
    if (!images.length) return [];
    const x = new Float32Array(images.length * 784);
    images.forEach((image, i) => x.set(normalize(image, this.metadata.normalization), i * 784));
    const feeds = { [this.input]: new this.ort.Tensor("float32", x, [images.length, 1, 28, 28]) };
    const out = (await this._run(feeds))[this.output].data;   // (N, C) logits
    const C = out.length / images.length;
    return images.map((_, i) => softmax(Array.from(out.subarray(i * C, (i + 1) * C))).map(Math.fround));
  }

  /** RGBA pixels -> a reading with /api/predict's fields, plus where = "device". */
  async predictImageData(imageData, { thresholds = {}, preview = true } = {}) {
    const t0 = performance.now();
    const pre = toMnist(imageData);
    const t1 = performance.now();
    let digit = null, confidence = 0, likelihood = 0, probs = new Array(10).fill(0);
    if (!pre.empty) {
      ({ digits: probs, likelihood } = digitView(await this.probabilities(pre.image)));
      digit = probs.indexOf(Math.max(...probs));
      confidence = probs[digit];
    }
    const t2 = performance.now();
    return {
      digit, confidence, probabilities: probs, digit_likelihood: likelihood,
      status: statusOf(confidence, likelihood, pre.empty, thresholds),
      preview: preview ? previewURL(pre.image) : "",
      image: pre.image,
      model: this.metadata.version,
      where: "device",
      timing_ms: { preprocess: t1 - t0, inference: t2 - t1, total: performance.now() - t0 },
    };
  }
}

// digitpad page: wires the pad, the prediction loop, uploads, where digits are read, the keyboard.
//
// Every reading goes through predict(): input() turns the pad into {blob, source, place} and
// `backend.predict(input, {signal})` answers with POST /api/read's shape (the whole number, each
// character with its box). A backend only has to implement that one method and be put in BACKENDS.

import { Pad } from "./pad.js";
import { ApiError, getConfig, readOnServer } from "./api.js";
import * as view from "./view.js";
import * as feedback from "./feedback.js";
import { deviceAvailable, loadDevice } from "./ondevice.js";
import { readNumberOnDevice } from "./numberreading.js";
import { outbox } from "./outbox.js";

const DEBOUNCE_MS = 100;   // predict this long after the last pen move...
const MAX_WAIT_MS = 300;   // ...but at least this often during a long stroke

export const BACKENDS = {
  server: { name: "server", label: "the server", predict: (input, opts) => readOnServer(input.blob, opts) },
  device: {
    name: "device", label: "this device",
    predict: async (input) => {
      const device = await loadDevice();
      const pixels = input.imageData || await decodePixels(input.blob);
      return readNumberOnDevice(device, pixels, state.config);   // the twin of POST /api/read
    },
  },
};
const MODE_KEY = "digitpad.mode";

/** An image Blob -> its RGBA pixels, as the server's decoder would see them (no colour management). */
async function decodePixels(blob) {
  const bitmap = await createImageBitmap(blob, { premultiplyAlpha: "none", colorSpaceConversion: "none" });
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const ctx = canvas.getContext("2d");
  ctx.drawImage(bitmap, 0, 0);
  return ctx.getImageData(0, 0, bitmap.width, bitmap.height);
}

const $ = (id) => document.getElementById(id);

/** A one-character reading as feedback's "Right?" sees it: {digit, confidence, status, model}. */
function asDigit(r) {
  const c = r.characters[0];
  const digit = /^[0-9]$/.test(c.char) ? Number(c.char) : c.probabilities.indexOf(Math.max(...c.probabilities));
  return { digit, confidence: c.confidence, status: c.status === "other" ? "not_digit" : c.status, model: r.model };
}

const state = {
  backend: BACKENDS.server,
  seq: 0,             // id of the newest prediction request; only its answer is shown
  controller: null,   // aborts the request in flight when a newer one starts
  timer: 0,
  firstPending: 0,    // when the current debounce burst started (for MAX_WAIT_MS)
  config: { feedback: false, model: "", uncertain_threshold: 0.6, not_digit_threshold: 0, doubtful_threshold: 0 },
  reading: null,      // the reading shown, with the exact input it was made from (for feedback)
};

const pad = new Pad($("pad"));

/** The pad's content as the model's input: the PNG drawing (cropped to the ink), or the uploaded
 *  file; `place` maps a character's box in it onto the pad. */
async function input() {
  const rendered = pad.render();
  const inp = { blob: await pad.toBlob(rendered), source: pad.image ? "upload" : "draw", place: rendered.place };
  // On device, a drawing's pixels are read straight from the canvas: the same RGBA the PNG holds.
  if (state.backend === BACKENDS.device && !pad.image) inp.imageData = pad.toImageData(rendered);
  return inp;
}

/** Predict what is on the pad now; answers to older requests are dropped. */
export async function predict() {
  clearTimeout(state.timer);
  state.timer = 0;
  state.firstPending = 0;
  const seq = ++state.seq;
  state.controller?.abort();
  state.controller = null;
  feedback.hide();
  if (pad.isEmpty) {
    view.showEmpty();
    view.setBusy(false);
    return;
  }
  view.setBusy(true);
  const controller = new AbortController();
  state.controller = controller;
  try {
    const inp = await input();
    const backend = state.backend;
    const t0 = performance.now();
    const reading = await backend.predict(inp, { signal: controller.signal });
    if (seq !== state.seq) return;   // stale: the pad changed since this request started
    view.setOffline(false);
    view.showNumber(reading, inp.place);
    showWhere(backend, performance.now() - t0);
    if (backend === BACKENDS.server && feedback.hasWaiting()) outbox.flush();   // the server answers again
    state.reading = { ...reading, input: inp };
    // "Right?" asks about one character (a digit); numbers are corrected by typing them.
    if (reading.characters.length === 1 && /^[0-9?]$/.test(reading.characters[0].char)) {
      if (pad.pointerId === null) feedback.show({ ...asDigit(reading), input: inp });
    } else if (reading.characters.length && pad.pointerId === null) {
      feedback.showText({ ...reading, input: inp });
    }
  } catch (e) {
    if (e.name === "AbortError" || seq !== state.seq) return;
    if (state.backend === BACKENDS.device) {   // the runtime or the model did not load
      deviceFailed(e);
      return;
    }
    if (e instanceof ApiError && e.status < 500) {
      view.setOffline(false);
      view.showError(e.message);
      return;
    }
    const detail = e instanceof ApiError ? `The server answered ${e.status}: ${e.message}`
      : "Is digitpad serve running? Check your connection.";
    view.setOffline(true, detail);
    // The model kept by the service worker (or already loaded) reads without the server: offer it.
    if (await deviceAvailable() && seq === state.seq) view.setOffline(true, detail, { canUseDevice: true });
  } finally {
    if (seq === state.seq) {
      view.setBusy(false);
      state.controller = null;
    }
  }
}

/** Debounced predict for live reading while the pen moves. */
function schedule() {
  view.setBusy(true);
  const now = performance.now();
  if (!state.firstPending) state.firstPending = now;
  clearTimeout(state.timer);
  const wait = Math.max(0, Math.min(DEBOUNCE_MS, state.firstPending + MAX_WAIT_MS - now));
  state.timer = setTimeout(predict, wait);
}

pad.addEventListener("change", (e) => {
  const kind = e.detail.kind;
  if (kind !== "move") $("pad-wrap").classList.toggle("has-ink", !pad.isEmpty);
  if (kind === "start" || kind === "move") {
    if (kind === "start") feedback.hide();
    schedule();
  } else {
    predict();   // pen up, clear, undo, new image: read it now
  }
});

// ------------------------------------------------------------------ tools: clear, undo, upload

$("clear").addEventListener("click", () => pad.clear());
$("undo").addEventListener("click", () => pad.undo());

async function useFile(file) {
  if (!file) return;
  view.setBusy(true);
  try {
    await pad.setImage(file, file.name);   // -> "change" -> predict()
  } catch {
    pad.clear();
    view.setBusy(false);
    view.showError(`Can't open ${file.name || "that file"}: use a PNG, JPEG, WebP, BMP or GIF image.`);
  }
}

$("upload").addEventListener("change", (e) => {
  useFile(e.target.files[0]);
  e.target.value = "";   // choosing the same file again still fires "change"
});

const wrap = $("pad-wrap");
wrap.addEventListener("dragover", (e) => {
  if (![...e.dataTransfer.types].includes("Files")) return;
  e.preventDefault();
  e.dataTransfer.dropEffect = "copy";
  wrap.classList.add("dragging");
});
wrap.addEventListener("dragleave", () => wrap.classList.remove("dragging"));
wrap.addEventListener("drop", (e) => {
  e.preventDefault();
  wrap.classList.remove("dragging");
  useFile([...e.dataTransfer.files].find((f) => f.type.startsWith("image/")) || e.dataTransfer.files[0]);
});
document.addEventListener("paste", (e) => {
  const file = [...(e.clipboardData?.files || [])].find((f) => f.type.startsWith("image/"));
  if (file) {
    e.preventDefault();
    useFile(file);
  }
});

// ------------------------------------------------------------------ keyboard

/** Keys typed into a text field belong to it; everywhere else (the pad, buttons, the mode radios)
 *  they are the page's shortcuts. */
function typingIn(el) {
  if (el instanceof HTMLTextAreaElement || el instanceof HTMLSelectElement || el?.isContentEditable) return true;
  return el instanceof HTMLInputElement && !["radio", "checkbox", "button", "submit", "reset", "file"].includes(el.type);
}

document.addEventListener("keydown", (e) => {
  if (typingIn(e.target)) return;
  if (e.key === "Escape") {
    pad.clear();
    e.preventDefault();
  } else if ((e.ctrlKey || e.metaKey) && !e.shiftKey && e.key.toLowerCase() === "z") {
    pad.undo();
    e.preventDefault();
  } else if (/^[0-9]$/.test(e.key) && !e.ctrlKey && !e.metaKey && !e.altKey && feedback.isAsking()) {
    feedback.answer(Number(e.key));
    e.preventDefault();
  }
});

// ------------------------------------------------------------------ where it is read: device or server

function showWhere(backend, ms) {
  view.setWhere(`computed on ${backend.label} in ${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms`, backend.name);
}

function setMode(mode, { remember = true } = {}) {
  state.backend = BACKENDS[mode] || BACKENDS.server;
  $("mode-" + state.backend.name).checked = true;
  if (remember) {
    try { localStorage.setItem(MODE_KEY, state.backend.name); } catch { /* private mode: not remembered */ }
  }
  $("mode-note").hidden = true;
  view.setWhere("");
  if (state.backend === BACKENDS.device) {
    keepForOffline();
    view.setWhere("loading the model on this device…");
    loadDevice().then((d) => {
      if (state.backend === BACKENDS.device && !$("where").dataset.where) {
        view.setWhere(`model ready on this device (${Math.round(d.loadMs)} ms)`);
      }
    }, deviceFailed);
  }
  if (!pad.isEmpty) predict();
}

/** Register sw.js, which keeps the page, the runtime (~3.7 MB compressed) and the model for offline
 *  use. Only once on-device mode is chosen: reading on the server needs the network anyway. */
function keepForOffline() {
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker.register("sw.js").catch((e) => console.warn("service worker not registered:", e));
}

function deviceFailed(e) {
  if (state.backend !== BACKENDS.device) return;
  console.warn("on-device reading unavailable:", e);
  setMode("server", { remember: false });
  const note = $("mode-note");
  note.textContent = `Can't run the model on this device (${e.message || e}); reading on the server instead.`;
  note.hidden = false;
}

for (const b of document.querySelectorAll("input[name='mode']")) {
  b.addEventListener("change", () => { if (b.checked) setMode(b.value); });
}
$("use-device").addEventListener("click", () => setMode("device"));

// ------------------------------------------------------------------ start

async function loadConfig() {
  try {
    state.config = await getConfig();
    $("model-version").textContent = `model: ${state.config.model}`;
    if (state.config.trained_on) {
      $("trained-on").textContent = `Trained on ${state.config.trained_on}`;
      $("trained-on").title = state.config.trained_on;
    }
    feedback.setEnabled(Boolean(state.config.feedback));
    view.setOffline(false);
    outbox.flush();
    return true;
  } catch {
    view.setOffline(true, "Is digitpad serve running? Check your connection.");
    return false;
  }
}

$("retry").addEventListener("click", async () => {
  view.setBusy(true);
  if (await loadConfig()) predict();
  else view.setBusy(false);
});

view.buildBars();
view.showEmpty();
outbox.refresh();   // corrections kept from an earlier visit: say so, and retry until the server answers
loadConfig();
let savedMode = "server";
try { savedMode = localStorage.getItem(MODE_KEY) || "server"; } catch { /* storage blocked */ }
setMode(savedMode, { remember: false });

// digitpad's service worker: keeps the page, onnxruntime-web and the models so that, after one
// visit, the page loads and reads digits and numbers on this device with no network.
//
// It keeps an allow-list and nothing else:
// - the page's own files and api/config (what the page needs to start): network first, so a
//   new version is seen at once; the cached copy answers when the network fails;
// - versioned files (vendor/onnxruntime-web-<version>/..., api/model.onnx?v=<hash> and the
//   number reader's api/sequence.onnx?v=<hash>): cache first; they never change under the same
//   URL. A new model hash is a new URL: it is fetched once, and older entries of that model are
//   dropped. A model's metadata is read from the model file itself (modelfile.js): weights and
//   description are one cached unit.
// Everything else goes to the network untouched and is never stored: the feedback admin API
// and its images, /docs, /openapi.json, health checks, POSTs. Nor is any answer to a request
// that carried Authorization, or that says Cache-Control: no-store.

const CACHE = "digitpad-v2";   // v2: v1 kept every same-origin GET; activating v2 deletes it
const ORT_DIR = "vendor/onnxruntime-web-1.30.0/";
const PAGE = [
  "./", "index.html", "style.css", "app.js", "pad.js", "view.js", "api.js", "ondevice.js", "modelfile.js",
  "feedback.js", "outbox.js", "preprocess.js", "favicon.svg", "blank28.png", "api/config",
  "numparams.js", "numbers-params.json", "rules.js", "runs.js", "segment.js", "level.js", "cuts.js", "glyphs.js", "grammar.js", "numbers.js", "numberreading.js",
  "sequence.js",
];
const RUNTIME = [ORT_DIR + "ort.wasm.min.mjs", ORT_DIR + "ort-wasm-simd-threaded.mjs", ORT_DIR + "ort-wasm-simd-threaded.wasm"];
const SCOPE = new URL(self.registration.scope);
const PAGE_PATHS = new Set(PAGE.map((u) => new URL(u, SCOPE).pathname));
const RUNTIME_PATHS = new Set(RUNTIME.map((u) => new URL(u, SCOPE).pathname));
const MODEL_PATHS = new Set(["api/model.onnx", "api/sequence.onnx"].map((u) => new URL(u, SCOPE).pathname));

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    await cache.addAll([...PAGE, ...RUNTIME].map((u) => new Request(u, { cache: "reload" })));
    // The models' URLs carry their hashes: ask the (just cached) config for them (no
    // sequence_url: the server reads numbers without a sequence model, and so does the device).
    const config = await (await cache.match("api/config")).json();
    for (const url of [config.model_url, config.sequence_url]) {
      if (url) await cache.add(new Request(url, { cache: "reload" }));
    }
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) if (name !== CACHE) await caches.delete(name);
    await self.clients.claim();
  })());
});

/** "page", "versioned", or null: not ours to keep. */
function kind(url) {
  if (url.origin !== self.location.origin) return null;
  if (RUNTIME_PATHS.has(url.pathname)) return "versioned";
  if (MODEL_PATHS.has(url.pathname) && url.searchParams.has("v")) return "versioned";
  if (PAGE_PATHS.has(url.pathname)) return "page";
  return null;
}

/** Only plain, successful, storable answers go into the cache. */
function storable(response) {
  const control = (response.headers.get("cache-control") || "").toLowerCase();
  return response.ok && response.type === "basic" && !control.includes("no-store") && !control.includes("private");
}

async function cacheFirst(request) {
  const cache = await caches.open(CACHE);
  const hit = await cache.match(request);
  if (hit) return hit;
  const response = await fetch(request);
  if (storable(response)) {
    const path = new URL(request.url).pathname;
    if (MODEL_PATHS.has(path)) {   // a new version of a model: forget its older ones
      for (const old of await cache.keys()) {
        if (new URL(old.url).pathname === path) await cache.delete(old);
      }
    }
    await cache.put(request, response.clone());
  }
  return response;
}

async function networkFirst(request) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    if (storable(response)) await cache.put(request, response.clone());
    return response;
  } catch (e) {
    const hit = await cache.match(request, { ignoreSearch: request.mode === "navigate" });
    if (hit) return hit;
    throw e;
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET" || request.headers.has("authorization")) return;
  const k = kind(new URL(request.url));
  if (k === null) return;   // the network's answer, untouched and never kept
  event.respondWith(k === "versioned" ? cacheFirst(request) : networkFirst(request));
});

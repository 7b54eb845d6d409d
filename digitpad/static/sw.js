// digitpad's service worker: keeps the page, onnxruntime-web and the model so that, after one
// visit, the page loads and reads digits on this device with no network.
//
// - Versioned files (vendor/onnxruntime-web-<version>/..., api/model.onnx?v=<hash>): cache
//   first; they never change under the same URL. A new model hash is a new URL: it is fetched
//   once, and older model entries are dropped.
// - Everything else the page GETs (the page, its modules, api/config, api/model): network
//   first, so a new version is seen at once; the cached copy answers when the network fails.
// - POSTs (api/predict, api/feedback) are never cached.

const CACHE = "digitpad-v1";
const ORT_DIR = "vendor/onnxruntime-web-1.30.0/";
const PRECACHE = [
  "./", "index.html", "style.css", "app.js", "pad.js", "view.js", "api.js", "ondevice.js", "feedback.js", "outbox.js",
  "preprocess.js",
  "favicon.svg", "blank28.png", "api/config", "api/model",
  ORT_DIR + "ort.wasm.min.mjs", ORT_DIR + "ort-wasm-simd-threaded.mjs", ORT_DIR + "ort-wasm-simd-threaded.wasm",
];

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    await cache.addAll(PRECACHE.map((u) => new Request(u, { cache: "reload" })));
    // The model's URL carries its hash: ask the (just cached) config for it.
    const config = await (await cache.match("api/config")).json();
    if (config.model_url) await cache.add(new Request(config.model_url, { cache: "reload" }));
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) if (name !== CACHE) await caches.delete(name);
    await self.clients.claim();
  })());
});

function isVersioned(url) {
  return url.pathname.includes("/vendor/") || (url.pathname.endsWith("/api/model.onnx") && url.searchParams.has("v"));
}

async function cacheFirst(request) {
  const cache = await caches.open(CACHE);
  const hit = await cache.match(request);
  if (hit) return hit;
  const response = await fetch(request);
  if (response.ok) {
    const url = new URL(request.url);
    if (url.pathname.endsWith("/api/model.onnx")) {   // a new model: forget the older ones
      for (const old of await cache.keys()) {
        if (new URL(old.url).pathname.endsWith("/api/model.onnx")) await cache.delete(old);
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
    if (response.ok) await cache.put(request, response.clone());
    return response;
  } catch (e) {
    const hit = await cache.match(request, { ignoreSearch: request.mode === "navigate" });
    if (hit) return hit;
    throw e;
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (url.pathname === "/docs" || url.pathname === "/openapi.json" || url.pathname === "/healthz") return;
  event.respondWith(isVersioned(url) ? cacheFirst(request) : networkFirst(request));
});

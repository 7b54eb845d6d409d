// Talking to the digitpad server. Every function resolves to parsed JSON or throws an ApiError
// (HTTP error with the server's {"error": {"code", "message"}}) or a NetworkError (no answer).

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export class NetworkError extends Error {}

async function call(url, options = {}) {
  let response;
  try {
    response = await fetch(url, { cache: "no-store", ...options });
  } catch (e) {
    if (e.name === "AbortError") throw e;
    throw new NetworkError("the server did not answer");
  }
  let body = null;
  try { body = await response.json(); } catch { /* not JSON: a proxy's error page, say */ }
  if (!response.ok) {
    const err = body && body.error ? body.error : {};
    throw new ApiError(response.status, err.code || "http_" + response.status, err.message || response.statusText);
  }
  return body;
}

/** POST an image Blob to /api/predict (multipart field "image"). */
export function predictOnServer(blob, { signal } = {}) {
  const form = new FormData();
  form.append("image", blob, blob.name || "pad.png");
  return call("api/predict", { method: "POST", body: form, signal });
}

/** POST an image Blob to /api/read (multipart field "image"): the whole number, each character's box. */
export function readOnServer(blob, { signal } = {}) {
  const form = new FormData();
  form.append("image", blob, blob.name || "pad.png");
  return call("api/read", { method: "POST", body: form, signal });
}

export function getConfig() {
  return call("api/config");
}

/** POST a correction / confirmation to /api/feedback (JSON). */
export function sendFeedback(payload) {
  return call("api/feedback", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(payload),
  });
}

/** POST a corrected number to /api/read/feedback (JSON: image, text, boxes, source). */
export function sendNumberFeedback(payload) {
  return call("api/read/feedback", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(payload),
  });
}

/** Blob -> "data:image/...;base64,..." */
export function blobToDataURL(blob) {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(r.result);
    r.onerror = () => reject(r.error);
    r.readAsDataURL(blob);
  });
}

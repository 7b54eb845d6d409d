// Corrections that could not be sent because the server did not answer (on-device mode with the
// server down, or no network) wait here, in IndexedDB, and are sent oldest first when it answers
// again: flush() is called when the page starts, when the browser comes back online, after any
// answer from the server, and every RETRY_MS while some are waiting.
//
//   await outbox.add(payload);       // the JSON body of POST /api/feedback
//   await outbox.add({ number: payload });   // ... of POST /api/read/feedback (a corrected number)
//   outbox.addEventListener("change", (e) => show(e.detail.count));

import { ApiError, sendFeedback, sendNumberFeedback } from "./api.js";

const DB_NAME = "digitpad";
const STORE = "feedback-outbox";
const RETRY_MS = 20_000;

/** One IndexedDB request in its own transaction -> its result. */
async function request(mode, make) {
  const db = await new Promise((resolve, reject) => {
    const open = indexedDB.open(DB_NAME, 1);
    open.onupgradeneeded = () => open.result.createObjectStore(STORE, { autoIncrement: true });
    open.onsuccess = () => resolve(open.result);
    open.onerror = () => reject(open.error);
  });
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const req = make(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = tx.onabort = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

class Outbox extends EventTarget {
  constructor() {
    super();
    this.timer = 0;
    this.flushing = null;
  }

  /** Keep a correction until the server takes it. Throws if this browser cannot store it. */
  async add(payload) {
    await request("readwrite", (s) => s.add(payload));
    await this._changed();
  }

  /** Send what waits, oldest first; stops at the first one the server does not answer. */
  flush() {
    if (!this.flushing) this.flushing = this._send().finally(() => { this.flushing = null; });
    return this.flushing;
  }

  async _send() {
    let keys;
    try {
      keys = await request("readonly", (s) => s.getAllKeys());
    } catch {
      return;   // no IndexedDB here: nothing was ever stored
    }
    for (const key of keys) {
      const payload = await request("readonly", (s) => s.get(key));
      try {
        if (payload?.number) await sendNumberFeedback(payload.number);
        else if (payload) await sendFeedback(payload);
      } catch (e) {
        if (!(e instanceof ApiError) || e.status >= 500) break;   // still unreachable: later
        console.warn("a saved correction was refused by the server:", e.message);   // 4xx: never accepted
      }
      await request("readwrite", (s) => s.delete(key));
    }
    await this._changed();
  }

  /** Announce how many wait (and retry every RETRY_MS while some do), e.g. when the page starts. */
  refresh() {
    return this._changed().catch(() => {});   // no IndexedDB: nothing waits
  }

  async _changed() {
    const count = await request("readonly", (s) => s.count());
    clearInterval(this.timer);
    this.timer = count ? setInterval(() => this.flush(), RETRY_MS) : 0;
    this.dispatchEvent(new CustomEvent("change", { detail: { count } }));
  }
}

export const outbox = new Outbox();
addEventListener("online", () => outbox.flush());

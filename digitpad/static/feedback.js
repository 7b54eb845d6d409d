// "Right?": confirm a reading or pick the right digit, and send it to POST /api/feedback with the
// exact input the reading was made from. A number (any other reading) is corrected by typing it:
// "Not right? Type it:" sends the string, the input and the reading's boxes to POST
// /api/read/feedback. Without a server (on-device mode offline) the correction waits in the
// outbox (IndexedDB) and is sent when the server answers again.
//
//   feedback.show(reading)       // after a one-digit reading: {digit, confidence, model, input: {blob, source}}
//   feedback.showText(reading)   // after a number: POST /api/read's answer + {input: {blob, source}}
//   feedback.hide()              // the pad changed
//   feedback.answer(7)           // "it's a 7" (the digit keys); nothing when "Right?" is not shown

import { NetworkError, blobToDataURL, sendFeedback, sendNumberFeedback } from "./api.js";
import { outbox } from "./outbox.js";
import { aDigit, setOutbox } from "./view.js";

const $ = (id) => document.getElementById(id);

let reading = null;   // the reading "Right?" is about
let enabled = false;  // the server collects corrections (GET /api/config)
let waiting = 0;      // corrections in the outbox

export function setEnabled(on) {
  enabled = on;
  document.body.classList.toggle("feedback-on", on);   // one-column layouts keep its room
}

/** Corrections wait in the outbox: the caller flushes it when the server answers again. */
export function hasWaiting() {
  return waiting > 0;
}

export function show(r) {
  if (!enabled) return;
  reading = r;
  $("feedback").hidden = false;
  $("feedback-ask").hidden = false;
  $("feedback-fix").hidden = true;
  $("feedback-thanks").hidden = true;
  // Not a digit: nothing to confirm, but a person can still say which digit it is.
  const notDigit = r.status === "not_digit";
  $("feedback-q").textContent = notDigit ? "It is a digit:" : "Right?";
  $("feedback-confirm").hidden = notDigit;
  $("feedback-or").hidden = notDigit;
  $("feedback-confirm").textContent = `Yes, ${r.digit}`;
  for (const b of document.querySelectorAll("#feedback button")) b.disabled = false;
}

/** A number's reading: offer to type the right string (the reading's own, "?" left out, to edit). */
export function showText(r) {
  if (!enabled) return;
  reading = r;
  $("feedback").hidden = false;
  $("feedback-ask").hidden = true;
  $("feedback-fix").hidden = false;
  $("feedback-thanks").hidden = true;
  const field = $("feedback-text");
  field.value = r.text.replaceAll("?", "").replace(/\s+/g, " ").trim();
  for (const el of $("feedback-fix").elements) el.disabled = false;
}

export function hide() {
  $("feedback").hidden = true;
}

export function isAsking() {
  return Boolean(reading) && !$("feedback").hidden && !$("feedback-ask").hidden;
}

export async function answer(label) {
  if (!isAsking()) return;
  const r = reading;
  for (const b of document.querySelectorAll("#feedback button")) b.disabled = true;
  const thanks = $("feedback-thanks");
  const said = label === r.digit ? "Thanks for confirming!" : `Thanks! Saved as ${aDigit(label)}.`;
  try {
    const payload = {
      image: await blobToDataURL(r.input.blob),
      label,
      predicted: r.digit,
      confidence: r.confidence,
      model: r.model,
      source: r.input.source,
    };
    try {
      await sendFeedback(payload);
      thanks.textContent = said;
    } catch (e) {
      if (!(e instanceof NetworkError)) throw e;
      await outbox.add(payload);   // no server now: it waits on this device (throws if it cannot)
      thanks.textContent = `${said} It is sent when the server answers.`;
    }
    thanks.classList.remove("failed");
    $("feedback-ask").hidden = true;
  } catch (e) {
    thanks.textContent = `Couldn't save that: ${e.message}`;
    thanks.classList.add("failed");
    for (const b of document.querySelectorAll("#feedback button")) b.disabled = false;
  }
  thanks.hidden = false;
}

/** Send the typed string for the number read (its boxes: those of the reading shown, in the
 *  pixels of the exact input sent; the server checks them and prefers its own). */
async function sendText() {
  const r = reading;
  if (!r || $("feedback-fix").hidden) return;
  const text = $("feedback-text").value.trim().replace(/\s+/g, " ");
  const thanks = $("feedback-thanks");
  if (!text) {
    thanks.textContent = "Type the number it shows, e.g. 737-1340.";
    thanks.classList.add("failed");
    thanks.hidden = false;
    return;
  }
  for (const el of $("feedback-fix").elements) el.disabled = true;
  const said = text === r.text ? "Thanks for confirming!" : `Thanks! Saved as ${text}.`;
  try {
    const payload = {
      image: await blobToDataURL(r.input.blob),
      text,
      boxes: r.characters.map((c) => c.box),
      source: r.input.source,
    };
    try {
      await sendNumberFeedback(payload);
      thanks.textContent = said;
    } catch (e) {
      if (!(e instanceof NetworkError)) throw e;
      await outbox.add({ number: payload });   // no server now: it waits on this device
      thanks.textContent = `${said} It is sent when the server answers.`;
    }
    thanks.classList.remove("failed");
    $("feedback-fix").hidden = true;
  } catch (e) {
    thanks.textContent = `Couldn't save that: ${e.message}`;
    thanks.classList.add("failed");
    for (const el of $("feedback-fix").elements) el.disabled = false;
  }
  thanks.hidden = false;
}

$("feedback-fix").addEventListener("submit", (e) => {
  e.preventDefault();
  sendText();
});
$("feedback-confirm").addEventListener("click", () => answer(reading?.digit));
for (const b of document.querySelectorAll(".digit-picker button")) {
  b.addEventListener("click", () => answer(Number(b.dataset.digit)));
}
outbox.addEventListener("change", (e) => {
  waiting = e.detail.count;
  setOutbox(waiting);
});

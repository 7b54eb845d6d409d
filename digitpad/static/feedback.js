// "Right?": confirm a reading or pick the right digit, and send it to POST /api/feedback with the
// exact input the reading was made from. Without a server (on-device mode offline) the correction
// waits in the outbox (IndexedDB) and is sent when the server answers again.
//
//   feedback.show(reading)   // after a reading: {digit, confidence, model, input: {blob, source}}
//   feedback.hide()          // the pad changed
//   feedback.answer(7)       // "it's a 7" (the digit keys); nothing when "Right?" is not shown

import { NetworkError, blobToDataURL, sendFeedback } from "./api.js";
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
  $("feedback-thanks").hidden = true;
  // Not a digit: nothing to confirm, but a person can still say which digit it is.
  const notDigit = r.status === "not_digit";
  $("feedback-q").textContent = notDigit ? "It is a digit:" : "Right?";
  $("feedback-confirm").hidden = notDigit;
  $("feedback-or").hidden = notDigit;
  $("feedback-confirm").textContent = `Yes, ${r.digit}`;
  for (const b of document.querySelectorAll("#feedback button")) b.disabled = false;
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

$("feedback-confirm").addEventListener("click", () => answer(reading?.digit));
for (const b of document.querySelectorAll(".digit-picker button")) {
  b.addEventListener("click", () => answer(Number(b.dataset.digit)));
}
outbox.addEventListener("change", (e) => {
  waiting = e.detail.count;
  setOutbox(waiting);
});

// Rendering a reading: the big digit, its confidence, the ten bars (+ a hidden table for
// screen readers), the 28x28 preview and where it was computed. Knows the DOM, nothing about
// the network.

const $ = (id) => document.getElementById(id);

/** "a 7", "an 8": the article as the digit is spoken. */
export function aDigit(d) {
  return `${d === 8 ? "an" : "a"} ${d}`;
}

const MESSAGES = {
  empty: "Draw a digit",
  ok: (d) => `Looks like ${aDigit(d)}`,
  uncertain: "Not sure \u2014 is that a digit?",
  not_digit: "That doesn't look like a digit",
  noink: "No digit found \u2014 draw one or try another image",
};

/** The line under the big digit. */
function message(r) {
  if (r.status === "ok") return MESSAGES.ok(r.digit);
  if (r.status === "uncertain" || r.status === "not_digit") return MESSAGES[r.status];
  return MESSAGES.noink;
}

export function buildBars() {
  const bars = $("bars");
  const rows = $("prob-table").tBodies[0];
  for (let d = 0; d < 10; d++) {
    const col = document.createElement("div");
    col.className = "bar";
    col.dataset.digit = String(d);
    col.innerHTML = `<span class="bar-value">0%</span><span class="bar-track"><span class="bar-fill"></span></span><span class="bar-label">${d}</span>`;
    bars.appendChild(col);
    const tr = document.createElement("tr");
    tr.innerHTML = `<th scope="row">${d}</th><td>0%</td>`;
    rows.appendChild(tr);
  }
}

function pct(p) {
  if (p >= 0.995) return "100%";
  if (p > 0 && p < 0.005) return "<1%";
  return `${Math.round(p * 100)}%`;
}

function setBars(probabilities, best) {
  const cols = $("bars").children;
  const cells = $("prob-table").tBodies[0].rows;
  probabilities.forEach((p, d) => {
    const col = cols[d];
    col.style.setProperty("--p", String(p));
    col.classList.toggle("best", d === best);
    col.querySelector(".bar-value").textContent = p > 0 ? pct(p) : "";
    cells[d].cells[1].textContent = `${(p * 100).toFixed(1)}%`;
  });
}

/** Show a reading ({digit, confidence, probabilities, digit_likelihood, status, preview}). Not a
 *  digit: no digit is claimed (the bars, greyed, still say which digit it is closest to). */
export function showReading(r) {
  const card = $("result");
  card.dataset.state = r.status;
  const notDigit = r.status === "not_digit";
  $("prediction").textContent = r.digit === null || notDigit ? "?" : String(r.digit);
  $("confidence").textContent = r.status === "empty" ? "\u00a0"
    : notDigit ? `${(r.digit_likelihood * 100).toFixed(1)}% a digit` : `${(r.confidence * 100).toFixed(1)}% sure`;
  $("status-text").textContent = message(r);
  $("preview").src = r.preview;
  setBars(r.probabilities, r.digit);
}

/** The blank state: nothing drawn. */
export function showEmpty() {
  const card = $("result");
  card.dataset.state = "empty";
  $("prediction").textContent = "?";
  $("confidence").textContent = "\u00a0";
  $("status-text").textContent = MESSAGES.empty;
  $("preview").src = "blank28.png";
  setBars(new Array(10).fill(0), -1);
  setWhere("");
}

/** An error the user can act on (e.g. "that file is not an image"): no reading is shown. */
export function showError(message) {
  const card = $("result");
  card.dataset.state = "error";
  $("prediction").textContent = "!";
  $("confidence").textContent = "\u00a0";
  $("status-text").textContent = message;
  $("preview").src = "blank28.png";
  setBars(new Array(10).fill(0), -1);
  setWhere("");
}

/** The line under "Read it": where the reading shown was computed, and how fast, or the state of
 *  the on-device model. `where` ("device" / "server") is set only for a reading. */
export function setWhere(text, where = "") {
  const el = $("where");
  el.textContent = text;
  if (where) el.dataset.where = where;
  else delete el.dataset.where;
}

export function setBusy(busy) {
  const value = busy ? "true" : "false";
  const card = $("result");
  if (card.getAttribute("aria-busy") !== value) card.setAttribute("aria-busy", value);   // called per pen move
}

/** The "Can't reach the server" box; `canUseDevice` offers on-device reading in it. */
export function setOffline(offline, detail, { canUseDevice = false } = {}) {
  $("offline").hidden = !offline;
  $("use-device").hidden = !(offline && canUseDevice);
  if (detail) $("offline-detail").textContent = detail;
  if (offline) setWhere("");   // the last "computed on the server in N ms" is not this state's
  document.body.classList.toggle("is-offline", offline);
}

/** Corrections saved on this device, waiting for the server. */
export function setOutbox(count) {
  const el = $("outbox");
  el.hidden = count === 0;
  el.textContent = count === 1 ? "1 correction saved on this device: it is sent when the server answers."
    : `${count} corrections saved on this device: they are sent when the server answers.`;
}

// Rendering a reading: the number (each character a button: tap or focus it), its boxes over
// the ink, the chosen character's confidence, ten bars (+ a hidden table for screen readers) and
// 28x28 preview, and where it was computed. Knows the DOM, nothing about the network.
//
// A reading has POST /api/read's shape: {text, status, confidence, characters: [{char,
// confidence, status, box, probabilities, preview}]}. One character looks as the page always
// did for one digit: the big digit, "Looks like a 7", its bars.

const $ = (id) => document.getElementById(id);

/** "a 7", "an 8": the article as the digit is spoken. */
export function aDigit(d) {
  return `${d === 8 ? "an" : "a"} ${d}`;
}

const MESSAGES = {
  empty: "Write a digit or a number",
  ok: (c) => (/^[0-9]$/.test(c) ? `Looks like ${aDigit(Number(c))}` : `Looks like a ${c}`),
  uncertain: "Not sure \u2014 is that a digit?",
  not_digit: "That doesn't look like a digit",
  number_ok: (text) => `Reads ${text}`,
  number_uncertain: "Not sure about the marked characters: tap one to see why",
  not_number: "That doesn't look like a number",
  noink: "Nothing found \u2014 write something or try another image",
};

/** The state of the whole reading (the card's data-state, which the styles follow). */
export function stateOf(r) {
  const n = r.characters.length;
  if (n === 0) return "empty";
  if (n === 1) return { ok: "ok", uncertain: "uncertain", other: "not_digit" }[r.characters[0].status];
  return { ok: "ok", uncertain: "uncertain", not_number: "not_number" }[r.status] || "uncertain";
}

/** The line under the reading. */
function message(r, state) {
  if (state === "empty") return MESSAGES.noink;
  if (r.characters.length === 1) {
    return state === "ok" ? MESSAGES.ok(r.characters[0].char) : MESSAGES[state];
  }
  return state === "ok" ? MESSAGES.number_ok(r.text) : state === "not_number" ? MESSAGES.not_number
    : MESSAGES.number_uncertain;
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

/** Show a reading (POST /api/read's shape); `place(box)` maps a character's box to fractions of
 *  the pad, for its frame over the ink. The chosen character is the first doubtful one, else the first. */
export function showNumber(r, place) {
  const card = $("result");
  const state = stateOf(r);
  card.dataset.state = state;
  card.dataset.length = String(r.characters.length);
  const out = $("prediction");
  out.replaceChildren();
  out.classList.toggle("many", r.characters.length > 1);
  out.style.setProperty("--chars", String(Math.max(1, r.text.length)));
  const boxes = $("boxes");
  boxes.replaceChildren();
  let k = 0;
  for (const ch of r.text) {
    if (ch === " ") {
      out.append(Object.assign(document.createElement("span"), { className: "gap", textContent: " " }));
      continue;
    }
    const c = r.characters[k];
    const i = k++;
    const b = document.createElement("button");
    b.type = "button";
    b.className = `char ${c.status}`;
    b.textContent = c.char;
    b.setAttribute("data-testid", `char-${i}`);
    b.setAttribute("aria-label", `character ${i + 1}: ${c.status === "other" ? "not a character of a number"
      : c.char}, ${(c.confidence * 100).toFixed(0)}% sure`);
    b.addEventListener("click", () => select(r, i));
    b.addEventListener("focus", () => select(r, i));
    out.append(b);
    if (place) {
      const f = place(c.box);
      const frame = document.createElement("div");
      frame.className = `box ${c.status}`;
      frame.setAttribute("data-testid", `box-${i}`);
      Object.assign(frame.style, { left: `${f.left * 100}%`, top: `${f.top * 100}%`, width: `${f.width * 100}%`,
                                   height: `${f.height * 100}%` });
      boxes.append(frame);
    }
  }
  $("status-text").textContent = message(r, state);
  const doubtful = r.characters.findIndex((c) => c.status !== "ok");
  select(r, doubtful >= 0 ? doubtful : 0);
}

/** Show one character's confidence, ten bars and 28x28. */
function select(r, i) {
  const c = r.characters[i];
  if (!c) return;
  for (const [j, el] of [...document.querySelectorAll("#prediction .char")].entries()) el.classList.toggle("chosen", j === i);
  for (const [j, el] of [...document.querySelectorAll("#boxes .box")].entries()) el.classList.toggle("chosen", j === i);
  $("result").dataset.chosen = c.status;
  $("confidence").textContent = c.status === "other" ? "not a character of a number" : `${(c.confidence * 100).toFixed(1)}% sure`;
  $("preview").src = c.preview;
  const digit = /^[0-9]$/.test(c.char) ? Number(c.char) : -1;
  setBars(c.probabilities, c.status === "other" ? -1 : digit);
}

/** The blank state: nothing drawn. */
export function showEmpty() {
  const card = $("result");
  card.dataset.state = "empty";
  card.dataset.length = "0";
  $("prediction").textContent = "?";
  $("prediction").classList.remove("many");
  $("boxes").replaceChildren();
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
  card.dataset.length = "0";
  $("prediction").textContent = "!";
  $("prediction").classList.remove("many");
  $("boxes").replaceChildren();
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

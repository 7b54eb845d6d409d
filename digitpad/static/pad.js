// The drawing pad: Pointer Events in (mouse, touch, pen), strokes kept as vector data.
//
// The pad is wide (a number is written left to right) or square (a phone), whatever the CSS
// makes it. Strokes are stored in units of the pad's height (y in 0..1 from the top, x from the
// pad's middle), so the pad can be resized (phone rotation, window resize: the writing stays
// centred) and redrawn crisply at any devicePixelRatio, and undo is "drop the last stroke and redraw". What is sent to the model
// is rendered separately by render(): dark ink on transparent, EXPORT_SIZE px per pad height
// (a digit written across the pad's height is as big as on the pendigits 280 canvas), cropped
// to the ink and a margin (a wide pad's empty width is not sent), whatever the screen theme.

export const EXPORT_SIZE = 280;            // export px per pad height (the pendigits canvas size)
export const PEN_WIDTH = 16 / 280;         // pen width as a fraction of the pad's height
export const MARGIN = 0.15;                // room kept around the ink in an export, in pad heights

export class Pad extends EventTarget {
  /** @param {HTMLCanvasElement} canvas */
  constructor(canvas) {
    super();
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.strokes = [];          // [[{x, y}, ...], ...] in pad heights, x from the pad's middle
    this.current = null;        // the stroke being drawn
    this.pointerId = null;      // one pointer at a time: a second finger is ignored
    this.image = null;          // an uploaded image shown on the pad ({bitmap, blob, name})
    this.frame = 0;
    this._readInk();
    this._bind();
    this._resize();
    new ResizeObserver(() => this._resize()).observe(canvas);
  }

  get isEmpty() { return this.strokes.length === 0 && !this.image; }

  _bind() {
    const c = this.canvas;
    c.addEventListener("pointerdown", (e) => this._down(e));
    c.addEventListener("pointermove", (e) => this._move(e));
    c.addEventListener("pointerup", (e) => this._up(e));
    c.addEventListener("pointercancel", (e) => this._up(e));
    // Belt and braces with `touch-action: none`: no scrolling, zooming or context menu while drawing.
    c.addEventListener("touchstart", (e) => e.preventDefault(), { passive: false });
    c.addEventListener("contextmenu", (e) => e.preventDefault());
    matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => { this._readInk(); this.redraw(); });
  }

  _point(e) {
    const r = this.canvas.getBoundingClientRect();
    return { x: (e.clientX - r.left - r.width / 2) / r.height, y: (e.clientY - r.top) / r.height };
  }

  /** The pad's width in pad heights. */
  get aspect() {
    const r = this.canvas.getBoundingClientRect();
    return r.height > 0 ? r.width / r.height : 1;
  }

  _down(e) {
    if (this.pointerId !== null || (e.pointerType === "mouse" && e.button !== 0)) return;
    e.preventDefault();
    // preventDefault() also stops the browser from moving focus: the pad takes it itself, so that
    // the keys (Esc, Ctrl+Z) act where the pen is, not on whatever was clicked before.
    this.canvas.focus({ preventScroll: true, focusVisible: false });
    this.canvas.setPointerCapture(e.pointerId);
    this.pointerId = e.pointerId;
    if (this.image) { this.image = null; this.strokes = []; }   // drawing replaces an uploaded image
    this.current = [this._point(e)];
    this.strokes.push(this.current);
    this._changed("start");
  }

  _move(e) {
    if (e.pointerId !== this.pointerId || !this.current) return;
    e.preventDefault();
    // Coalesced events carry the points the browser merged between frames: smoother curves.
    const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [];
    for (const ev of events.length ? events : [e]) this.current.push(this._point(ev));
    this._changed("move");
  }

  _up(e) {
    if (e.pointerId !== this.pointerId) return;
    this.pointerId = null;
    if (this.current && e.type === "pointerup") this.current.push(this._point(e));
    this.current = null;
    this._changed("end");
  }

  _changed(kind) {
    this._schedule();
    const n = String(this.strokes.length);
    if (this.canvas.dataset.strokes !== n) this.canvas.dataset.strokes = n;
    this.dispatchEvent(new CustomEvent("change", { detail: { kind } }));
  }

  clear() {
    this.strokes = [];
    this.current = null;
    this.pointerId = null;
    this.image = null;
    this._changed("clear");
  }

  undo() {
    if (this.image) { this.clear(); return; }
    if (!this.strokes.length) return;
    this.strokes.pop();
    if (this.current && !this.strokes.includes(this.current)) { this.current = null; this.pointerId = null; }
    this._changed("undo");
  }

  /** Show an uploaded image on the pad (fit inside, centred); strokes are dropped. */
  async setImage(blob, name = "image") {
    const bitmap = await createImageBitmap(blob);
    this.strokes = [];
    this.current = null;
    this.image = { bitmap, blob, name };
    this._changed("image");
  }

  // ---------------------------------------------------------------- drawing

  _resize() {
    const dpr = window.devicePixelRatio || 1;
    const r = this.canvas.getBoundingClientRect();
    const w = Math.max(1, Math.round(r.width * dpr));
    const h = Math.max(1, Math.round(r.height * dpr));
    if (this.canvas.width !== w || this.canvas.height !== h) {
      this.canvas.width = w;   // resizing the backing store clears it: redraw from the vectors
      this.canvas.height = h;
    }
    this.redraw();
  }

  /** The theme's ink colour (CSS --ink), read once per theme change, not per frame. */
  _readInk() {
    this.inkColor = getComputedStyle(this.canvas).getPropertyValue("--ink").trim() || "#111";
  }

  _schedule() {
    if (!this.frame) this.frame = requestAnimationFrame(() => { this.frame = 0; this.redraw(); });
  }

  redraw() {
    const { canvas, ctx } = this;
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    if (this.image) {
      drawFit(ctx, this.image.bitmap, canvas.width, canvas.height);
      return;
    }
    drawStrokes(ctx, this.strokes, canvas.height, this.inkColor, canvas.width / 2);
  }

  // ---------------------------------------------------------------- export (the model's input)

  /** The ink's extent in pad heights (the pen's width included; x from the middle): {x0, y0, x1, y1}, or null. */
  inkBox() {
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    for (const s of this.strokes) {
      for (const q of s) {
        x0 = Math.min(x0, q.x); y0 = Math.min(y0, q.y); x1 = Math.max(x1, q.x); y1 = Math.max(y1, q.y);
      }
    }
    if (x0 === Infinity) return null;
    const r = PEN_WIDTH / 2;
    return { x0: x0 - r, y0: y0 - r, x1: x1 + r, y1: y1 + r };
  }

  /** What is read: the drawing (black strokes on transparent, cropped to the ink and MARGIN
   *  around it, within the pad) or the uploaded image fitted in an EXPORT_SIZE square. Returns
   *  {canvas, place}: place(box) maps a box [x, y, w, h] in the canvas's (or the uploaded file's)
   *  pixels to {left, top, width, height} as fractions of the pad's width and height. */
  render() {
    const out = document.createElement("canvas");
    const ctx = out.getContext("2d");
    const aspect = this.aspect;
    if (this.image) {
      out.width = out.height = EXPORT_SIZE;
      drawFit(ctx, this.image.bitmap, EXPORT_SIZE, EXPORT_SIZE);
      const { width: iw, height: ih } = this.image.bitmap;
      const s = Math.min(aspect / iw, 1 / ih);   // the image fitted in the pad (pad heights per px)
      const ox = (aspect - iw * s) / 2, oy = (1 - ih * s) / 2;
      return { canvas: out, place: ([x, y, w, h]) => fractions(ox + x * s, oy + y * s, w * s, h * s, aspect) };
    }
    const mid = aspect / 2;   // x from the pad's left edge, in pad heights: x + mid
    const ink = this.inkBox() || { x0: -mid, y0: 0, x1: mid, y1: 1 };
    const x0 = Math.max(0, ink.x0 + mid - MARGIN), y0 = Math.max(0, ink.y0 - MARGIN);
    const x1 = Math.min(aspect, ink.x1 + mid + MARGIN), y1 = Math.min(1, ink.y1 + MARGIN);
    const px = (v) => Math.round(v * EXPORT_SIZE);
    out.width = Math.max(1, px(x1) - px(x0));
    out.height = Math.max(1, px(y1) - px(y0));
    ctx.translate(-px(x0), -px(y0));
    drawStrokes(ctx, this.strokes, EXPORT_SIZE, "#000", mid * EXPORT_SIZE);
    const left = px(x0) / EXPORT_SIZE, top = px(y0) / EXPORT_SIZE;
    const place = ([x, y, w, h]) =>
      fractions(left + x / EXPORT_SIZE, top + y / EXPORT_SIZE, w / EXPORT_SIZE, h / EXPORT_SIZE, aspect);
    return { canvas: out, place };
  }

  /** The pad's content as an image Blob: the drawing as PNG, or the uploaded file itself. */
  toBlob(rendered = this.render()) {
    if (this.image) return Promise.resolve(this.image.blob);
    return new Promise((resolve, reject) =>
      rendered.canvas.toBlob((b) => (b ? resolve(b) : reject(new Error("canvas export failed"))), "image/png"));
  }

  /** The drawing as ImageData (RGBA, the same pixels toBlob's PNG holds), for in-browser reading. */
  toImageData(rendered = this.render()) {
    const c = rendered.canvas;
    return c.getContext("2d").getImageData(0, 0, c.width, c.height);
  }
}

/** A box in pad heights -> fractions of the pad's width and height. */
function fractions(x, y, w, h, aspect) {
  return { left: x / aspect, top: y, width: w / aspect, height: h };
}

/** Strokes (in pad heights, x from the middle) onto a context where a pad height is `size` px and
 *  the pad's middle is at x = `mid` px: quadratic curves through midpoints. */
export function drawStrokes(ctx, strokes, size, color, mid) {
  ctx.save();
  ctx.strokeStyle = ctx.fillStyle = color;
  ctx.lineWidth = PEN_WIDTH * size;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  for (const s of strokes) {
    if (!s.length) continue;
    const p = s.map((q) => ({ x: mid + q.x * size, y: q.y * size }));
    if (p.length === 1 || (p.length === 2 && p[0].x === p[1].x && p[0].y === p[1].y)) {
      ctx.beginPath();   // a tap: a round dot
      ctx.arc(p[0].x, p[0].y, ctx.lineWidth / 2, 0, 2 * Math.PI);
      ctx.fill();
      continue;
    }
    ctx.beginPath();
    ctx.moveTo(p[0].x, p[0].y);
    for (let i = 1; i < p.length - 1; i++) {
      const mx = (p[i].x + p[i + 1].x) / 2, my = (p[i].y + p[i + 1].y) / 2;
      ctx.quadraticCurveTo(p[i].x, p[i].y, mx, my);
    }
    const last = p[p.length - 1];
    ctx.lineTo(last.x, last.y);
    ctx.stroke();
  }
  ctx.restore();
}

function drawFit(ctx, bitmap, w, h) {
  const s = Math.min(w / bitmap.width, h / bitmap.height);
  const dw = bitmap.width * s, dh = bitmap.height * s;
  ctx.imageSmoothingQuality = "high";
  ctx.drawImage(bitmap, (w - dw) / 2, (h - dh) / 2, dw, dh);
}

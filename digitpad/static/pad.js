// The drawing pad: Pointer Events in (mouse, touch, pen), strokes kept as vector data.
//
// Strokes are stored in pad-relative coordinates (0..1 on both axes), so the pad can be
// resized (phone rotation, window resize) and redrawn crisply at any devicePixelRatio, and
// undo is "drop the last stroke and redraw". What is sent to the model is rendered separately
// by render(): always dark ink on a transparent EXPORT_SIZE square, whatever the screen theme.

export const EXPORT_SIZE = 280;            // px of the exported PNG (the pendigits canvas size)
export const PEN_WIDTH = 16 / 280;         // pen width as a fraction of the pad's side

export class Pad extends EventTarget {
  /** @param {HTMLCanvasElement} canvas */
  constructor(canvas) {
    super();
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.strokes = [];          // [[{x, y}, ...], ...] in 0..1 pad units
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
    return { x: (e.clientX - r.left) / r.width, y: (e.clientY - r.top) / r.height };
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
    drawStrokes(ctx, this.strokes, canvas.width, this.inkColor);
  }

  // ---------------------------------------------------------------- export (the model's input)

  /** The pad as an EXPORT_SIZE square canvas: the strokes in black on transparent, or the
   *  uploaded image fitted inside. */
  render() {
    const out = document.createElement("canvas");
    out.width = out.height = EXPORT_SIZE;
    const ctx = out.getContext("2d");
    if (this.image) drawFit(ctx, this.image.bitmap, EXPORT_SIZE, EXPORT_SIZE);
    else drawStrokes(ctx, this.strokes, EXPORT_SIZE, "#000");
    return out;
  }

  /** The pad's content as an image Blob: the drawing as PNG, or the uploaded file itself. */
  toBlob() {
    if (this.image) return Promise.resolve(this.image.blob);
    return new Promise((resolve, reject) =>
      this.render().toBlob((b) => (b ? resolve(b) : reject(new Error("canvas export failed"))), "image/png"));
  }

  /** The pad's content as ImageData (EXPORT_SIZE square RGBA), for in-browser preprocessing. */
  toImageData() {
    return this.render().getContext("2d").getImageData(0, 0, EXPORT_SIZE, EXPORT_SIZE);
  }
}

/** Strokes (0..1 units) onto a square context of side `size` px: quadratic curves through midpoints. */
export function drawStrokes(ctx, strokes, size, color) {
  ctx.save();
  ctx.strokeStyle = ctx.fillStyle = color;
  ctx.lineWidth = PEN_WIDTH * size;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  for (const s of strokes) {
    if (!s.length) continue;
    const p = s.map((q) => ({ x: q.x * size, y: q.y * size }));
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

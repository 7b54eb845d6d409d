// A number written uphill or downhill, turned level before it is read: the browser's twin of
// digitpad/level.py (step 4a of reading a number; the step is its docstring's). Constants come from
// numbers-params.json (P.level), written from the Python module. The arithmetic is the Python
// module's, operation for operation (no trigonometry), so both turn a page to the same doubles.
//
//   const { page: p, found: f } = levelled(page, found);   // segment.js's page and componentsOf(page)
//   fileBox(p, y0, y1, x0, x1)                              // working box -> [x, y, w, h] file pixels

import { P } from "./numparams.js";
import { componentsOf, fitLine } from "./segment.js";

/** level.tilt (step 4a): the line's slope (>0 running downhill), 0 when unclear. */
export function tilt(comps, line) {
  const L = P.level;
  const tall = comps.filter((c) => c.height >= 0.5 * line.height);
  let agree = false, base = 0.0, top = 0.0;
  if (tall.length >= 3) {
    const cx = tall.map((c) => (c.x0 + c.x1) / 2);
    base = fitLine(cx, tall.map((c) => c.y1), Infinity)[1];
    top = fitLine(cx, tall.map((c) => c.y0), Infinity)[1];
    agree = Math.abs(base - top) <= L.AGREE;
  }
  // (digits that touch: a few wide components, their tops and bottoms no line: the ink's long axis)
  const b = agree ? (base + top) / 2 : axis(comps, line);
  return L.LEVEL_MIN <= Math.abs(b) && Math.abs(b) <= L.LEVEL_MAX ? b : 0.0;
}

/** level._axis: the slope of the ink's long axis (second moments of its runs, the slant sheared out), 0
 * unless the ink spreads LONG times as far along it as across it. */
function axis(comps, line) {
  let n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0, syy = 0;
  for (const c of comps) {
    for (let i = 0; i < c.row.length; i++) {
      const y = c.row[i], a = c.start[i], e = c.end[i], k = e - a;
      const x = (a + e - 1) / 2 + line.slant * (y - line.mid);
      n += k;
      sx += k * x;
      sy += k * y;
      sxx = sxx + k * x * x + k * (k * k - 1) / 12;
      sxy += k * x * y;
      syy += k * y * y;
    }
  }
  const mx = sx / n, my = sy / n;
  const cxx = sxx / n - mx * mx, cxy = sxy / n - mx * my, cyy = syy / n - my * my;
  const d = (cxx - cyy) / 2, m = (cxx + cyy) / 2;
  const q = Math.sqrt(d * d + cxy * cxy);   // the eigenvalues are m + q (along) and m - q (across)
  return d + q > 0 && m + q >= P.level.LONG * P.level.LONG * (m - q) ? cxy / (d + q) : 0.0;
}

/** level.levelled: the page and componentsOf(page), turned level where the tilt is clear. */
export function levelled(page, found) {
  const b = tilt(found.comps, found.line);
  if (b === 0.0) return { page, found };
  const turned = level(page, b);
  const again = componentsOf(turned);
  return again !== null ? { page: turned, found: again } : { page, found };
}

/** level.unturned: turned page pixel (u, v) -> the page's pixel before the turn [x, y]. */
function unturned([c, s, cu, cv, cx, cy], u, v) {
  return [cx + c * (u - cu) - s * (v - cv), cy + s * (u - cu) + c * (v - cv)];
}

/** level.level: the page turned by the slope b (its line level), with the turn that maps back. */
export function level(page, b) {
  const { h, w } = page;
  const r = Math.sqrt(1.0 + b * b);
  const c = 1.0 / r, s = b / r;
  const h2 = Math.ceil(w * Math.abs(s) + h * c), w2 = Math.ceil(w * c + h * Math.abs(s));
  const turn = [c, s, (w2 - 1) / 2, (h2 - 1) / 2, (w - 1) / 2, (h - 1) / 2];
  const ink = new page.ink.constructor(h2 * w2), v = new page.v.constructor(h2 * w2), mask = new Uint8Array(h2 * w2);
  for (let yy = 0; yy < h2; yy++) {
    for (let xx = 0; xx < w2; xx++) {
      const [x, y] = unturned(turn, xx, yy);
      const xi = Math.floor(x + 0.5), yi = Math.floor(y + 0.5);   // the nearest pixel (the ink keeps its levels)
      if (xi < 0 || xi >= w || yi < 0 || yi >= h) continue;
      const i = yy * w2 + xx, j = yi * w + xi;
      ink[i] = page.ink[j];
      v[i] = page.v[j];
      mask[i] = page.mask[j];
    }
  }
  return { ...page, ink, v, mask, h: h2, w: w2, turn };
}

/** numberresult.file_box: working rows y0..y1, columns x0..x1 -> [x, y, w, h] in the file's pixels
 * (on a page turned level, the box around the four corners turned back). */
export function fileBox(page, y0, y1, x0, x1) {
  const s = page.scale, [ox, oy] = page.origin;
  if (!page.turn) return [Math.trunc(ox + x0 * s), Math.trunc(oy + y0 * s), Math.ceil((x1 - x0) * s), Math.ceil((y1 - y0) * s)];
  const xs = [], ys = [];
  for (const [x, y] of [[x0, y0], [x1, y0], [x0, y1], [x1, y1]]) {
    const [ux, uy] = unturned(page.turn, x - 0.5, y - 0.5);   // (pixel i spans i..i+1; the turn's centres are at integers)
    xs.push(ox + (ux + 0.5) * s);
    ys.push(oy + (uy + 0.5) * s);
  }
  const left = Math.trunc(Math.max(0.0, Math.min(...xs))), top = Math.trunc(Math.max(0.0, Math.min(...ys)));
  return [left, top, Math.ceil(Math.max(...xs) - left), Math.ceil(Math.max(...ys) - top)];
}

// A mask as horizontal runs and its 8-connected components: the browser's twin of digitpad/runs.py
// (steps 1-3 of reading a number; the step numbers are segment.py's docstring's).
//
//   const runs = runsOf(mask, h, w);                 // {row, start, end} Int32Arrays, row-major; [start, end)
//   const edges = runEdges(runs);                    // {a, b}: the pairs of touching runs
//   const { comp, count } = labelRuns(runs.row.length, edges);   // each run's component, by first run
//   const { mask, joins } = hysteresis(v, h, w, weak);            // v >= 0.5 grown through v > weak

/** Step 2: the mask's horizontal runs (row, start, end), row-major. */
export function runsOf(mask, h, w) {
  const row = [], start = [], end = [];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (!mask[y * w + x] || (x > 0 && mask[y * w + x - 1])) continue;
      let e = x;
      while (e < w && mask[y * w + e]) e++;
      row.push(y);
      start.push(x);
      end.push(e);
    }
  }
  return { row: Int32Array.from(row), start: Int32Array.from(start), end: Int32Array.from(end) };
}

/** Step 3: pairs of touching runs (a in row r - 1, b in row r; diagonal neighbours count). */
export function runEdges({ row, start, end }) {
  const a = [], b = [];
  let prev = 0;   // first run of the row above
  for (let j = 0; j < row.length; j++) {
    while (prev < j && row[prev] < row[j] - 1) prev++;
    for (let i = prev; i < j && row[i] === row[j] - 1; i++) {
      if (start[i] <= end[j] && start[j] <= end[i]) {
        a.push(i);
        b.push(j);
      }
    }
  }
  return { a, b };
}

/** Step 3: each run's 8-connected component, numbered by its first run, and their count. */
export function labelRuns(n, { a, b }) {
  const parent = Int32Array.from({ length: n }, (_, i) => i);
  const find = (i) => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]];
    return i;
  };
  for (let e = 0; e < a.length; e++) {
    const ra = find(a[e]), rb = find(b[e]);
    if (ra !== rb) parent[Math.max(ra, rb)] = Math.min(ra, rb);   // the root is the first run
  }
  const comp = new Int32Array(n), number = new Map();
  for (let i = 0; i < n; i++) {
    const r = find(i);
    if (!number.has(r)) number.set(r, number.size);
    comp[i] = number.get(r);
  }
  return { comp, count: number.size };
}

/** Step 1 (runs.hysteresis): the mask v >= 0.5 of the (h, w) soft ink v grown by hysteresis, the
 * components of v > weak that hold a pixel of it (0/1 bytes); and how many fewer components that
 * has than v >= 0.5 alone (the pieces the weaker ink joins). */
export function hysteresis(v, h, w, weak) {
  const strong = Uint8Array.from(v, (x) => (x >= 0.5 ? 1 : 0));
  const s = runsOf(strong, h, w);
  const nStrong = labelRuns(s.row.length, runEdges(s)).count;
  const runs = runsOf(Uint8Array.from(v, (x) => (x > weak ? 1 : 0)), h, w);
  const { comp, count } = labelRuns(runs.row.length, runEdges(runs));
  const keep = new Uint8Array(count);
  for (let i = 0; i < comp.length; i++) {
    if (keep[comp[i]]) continue;
    for (let x = runs.start[i]; x < runs.end[i]; x++) {
      if (strong[runs.row[i] * w + x]) {
        keep[comp[i]] = 1;
        break;
      }
    }
  }
  const mask = new Uint8Array(h * w);
  for (let i = 0; i < comp.length; i++) {
    if (keep[comp[i]]) mask.fill(1, runs.row[i] * w + runs.start[i], runs.row[i] * w + runs.end[i]);
  }
  return { mask, joins: nStrong - keep.reduce((n, x) => n + x, 0) };
}

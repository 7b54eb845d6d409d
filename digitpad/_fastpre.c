/* digitpad._fastpre: steps 2 and 4-10 of digitpad.preprocess.to_mnist in C, bit for bit.
 *
 * preprocess.py stays the readable reference (and the fallback when this module is not
 * built); this file mirrors its numpy code operation by operation, so the results are
 * identical, not merely close: every float64 operation happens in the same order as numpy
 * does it (np.cumsum is a sequential sum, divisions stay divisions, round(x) is
 * floor(x + 0.5)), and it must be compiled without FMA contraction or fast-math
 * (setup.py: -O3 -ffp-contract=off; -O3 only vectorises element-wise loops, it never reorders
 * a floating-point sum without -ffast-math). Where numpy's order is not pinned (a float .sum()), the
 * values summed are integers or halves, exact in any order. tests/test_preprocess_fast.py
 * compares the two engines on real and synthetic images.
 *
 * Arrays come in through the buffer protocol (numpy arrays; no numpy headers needed) and
 * results go into arrays the caller allocated. All arrays are row-major; masks hold 0/1
 * bytes. No state but per-thread scratch buffers reused between calls (arena_alloc); the GIL
 * is released while the pure C part runs.
 *
 *   block_mean(x (H, W) uint8, k, out (ceil(H/k), ceil(W/k)) float64, divisor)  preprocess.block_mean
 *   finish(ink (h, w) float64, noise, min_pixels, zoom, normalize_stroke, out (28, 28) uint8)
 *       -> (kind, y0, y1, x0, x1, stroke)                                  preprocess._finish_numpy
 *       kind 0: empty; 1: zoom, box = candidates' bbox; 2: done, box = ink bbox, out written;
 *       3: no ink left at the intermediate resolution (read as empty, as the numpy code does)
 *   candidate_ink(mask, ink, y0, y1, x0, x1, row, start, end, out)         runs.candidate_ink
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* preprocess.py's constants; CONSTANTS exports them so Python refuses a stale build. */
#define INTER_SIDE 80
#define PAD 8
#define STROKE_TARGET 0.12
#define STROKE_MAX 0.2
#define MAX_THIN 0.3
#define MIN_CONTRAST 16.0
#define ZOOM_SIDE 24

enum { KIND_EMPTY = 0, KIND_ZOOM = 1, KIND_DONE = 2, KIND_FAIL = 3 };

/* Python's max(a, b) and min(a, b): the first argument unless the second is strictly
 * larger (smaller); the same as fmax/fmin except with NaN, where Python's rule is kept. */
static double py_max(double a, double b) { return b > a ? b : a; }
static double py_min(double a, double b) { return b < a ? b : a; }

/* ------------------------------------------------------------------ allocation */

/* Every buffer of one finish() call comes from an arena: one cleanup path, no leaks. The
 * buffers are kept per thread and reused by the next call (slot i of a call is the same
 * buffer each time): a call needs a few hundred KB, and fresh blocks that size come from
 * mmap, so each call used to pay page faults and zeroing for them, a fifth of its time.
 * Blocks over CACHE_MAX (inputs far over the WORK_SIDE working size) are not kept. */
#define ARENA_SLOTS 24
#define CACHE_MAX ((size_t)4 << 20)
typedef struct {
    void *p;
    size_t cap;
} block;
static _Thread_local block cache[ARENA_SLOTS];

typedef struct {
    void *own[ARENA_SLOTS]; /* uncached blocks, freed by arena_free */
    int used;
} arena;

/* count * size bytes, uninitialised unless zero (a contract: every caller below writes a
 * buffer before reading it, except the one it asks to be zeroed). NULL when out of memory. */
static void *arena_alloc(arena *a, size_t count, size_t size, int zero)
{
    if (a->used == ARENA_SLOTS || (size && count > SIZE_MAX / size))
        return NULL;
    size_t need = count * size ? count * size : 1;
    int i = a->used++;
    a->own[i] = NULL;
    void *p;
    if (need > CACHE_MAX) {
        p = a->own[i] = malloc(need);
    } else {
        if (cache[i].cap < need) {
            free(cache[i].p);
            cache[i].p = malloc(need);
            cache[i].cap = cache[i].p ? need : 0;
        }
        p = cache[i].p;
    }
    if (p != NULL && zero)
        memset(p, 0, need);
    return p;
}

static void arena_free(arena *a)
{
    for (int i = 0; i < a->used; i++)
        free(a->own[i]);
    a->used = 0;
}

/* ------------------------------------------------------------------ array helpers */

/* sorted(v)[k] (preprocess.percentile): quickselect, reordering v. Any selection algorithm
 * gives the same value; after 2 log2(n) rounds without converging (hostile input) it sorts
 * what is left, so the worst case stays O(n log n). v holds no NaN (candidates are > floor). */
static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double select_kth(double *v, Py_ssize_t n, Py_ssize_t k)
{
    Py_ssize_t lo = 0, hi = n - 1;
    int budget = 2;
    for (Py_ssize_t m = n; m > 1; m >>= 1)
        budget += 2;
    while (hi > lo) {
        if (budget-- == 0) {
            qsort(v + lo, (size_t)(hi - lo + 1), sizeof(double), cmp_double);
            return v[k];
        }
        double a = v[lo], b = v[lo + (hi - lo) / 2], c = v[hi];
        double pivot = a < b ? (b < c ? b : (a < c ? c : a)) : (a < c ? a : (b < c ? c : b));
        Py_ssize_t i = lo, j = hi;
        while (i <= j) { /* Hoare partition: [lo, j] <= pivot <= [i, hi] */
            while (v[i] < pivot)
                i++;
            while (v[j] > pivot)
                j--;
            if (i <= j) {
                double t = v[i];
                v[i++] = v[j];
                v[j--] = t;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            return v[k]; /* j < k < i: v[k] == pivot */
    }
    return v[k];
}

/* (y0, y1, x0, x1), end-exclusive, of the set pixels of an (h, w) mask with row stride
 * `stride`; returns 0 when there are none (preprocess._bbox). */
static int bbox(const uint8_t *m, Py_ssize_t h, Py_ssize_t w, Py_ssize_t stride, Py_ssize_t box[4])
{
    Py_ssize_t y0 = -1, y1 = -1, x0 = w, x1 = -1;
    for (Py_ssize_t y = 0; y < h; y++) {
        const uint8_t *row = m + y * stride;
        Py_ssize_t a = 0, b = w - 1;
        while (a < w && !row[a])
            a++;
        if (a == w)
            continue; /* an empty row */
        while (!row[b])
            b--;
        if (y0 < 0)
            y0 = y;
        y1 = y;
        x0 = a < x0 ? a : x0;
        x1 = b > x1 ? b : x1;
    }
    if (y0 < 0)
        return 0;
    box[0] = y0, box[1] = y1 + 1, box[2] = x0, box[3] = x1 + 1;
    return 1;
}

/* preprocess.stroke_width of an (h, w) mask with row stride `stride`: from the area a and
 * the perimeter P = edges + sqrt(1/2) corners over the 2x2 cells of the zero-padded mask
 * (edge: two side-by-side pixels set; corner: one or three set). The counts are exact, so
 * P has the same single rounding as in Python and JavaScript. zeros: w zero bytes. */
static double stroke_width(const uint8_t *m, Py_ssize_t h, Py_ssize_t w, Py_ssize_t stride, const uint8_t *zeros)
{
    /* each 2x2 pattern tl + 2 tr + 4 bl + 8 br: a corner (one or three pixels set)? a straight
     * edge (two side-by-side)? Counted in registers, not in an array (no store-to-load chain). */
    static const uint8_t is_corner[16] = {0, 1, 1, 0, 1, 0, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0};
    static const uint8_t is_edge[16] = {0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0};
    Py_ssize_t area = 0, corners = 0, edges = 0;
    for (Py_ssize_t y = -1; y < h; y++) { /* cells straddling rows y and y + 1; zeros: outside */
        const uint8_t *up = y >= 0 ? m + y * stride : zeros, *down = y + 1 < h ? m + (y + 1) * stride : zeros;
        int left = 0; /* the cell's left column (tl + 4 bl), 0 outside */
        for (Py_ssize_t x = 0; x < w; x++) {
            int right = up[x] + 4 * down[x], code = left + 2 * right;
            corners += is_corner[code];
            edges += is_edge[code];
            area += down[x];
            left = right;
        }
        corners += is_corner[left]; /* the last cell: right column outside */
        edges += is_edge[left];
    }
    if (area == 0)
        return 0.0;
    double a = (double)area;
    double p = (double)edges + (double)corners * sqrt(0.5);
    return (p / 2 - sqrt(py_max(p * p / 4 - 4 * a, 0.0))) / 2;
}

/* preprocess.resample_area along one axis. The input is `lines` lines of n samples (sample j
 * of line l at x[l * line_stride + j * step]); the output is `lines` lines of n_out samples
 * (out[l * out_line_stride + i * out_step]). Rows of a (n, m) array: step = m, line_stride =
 * 1; columns: step = 1, line_stride = m. All lines advance together (as numpy's cumsum along
 * axis 0 does), so the per-line sequential sums overlap in the pipeline.
 * Work areas: csum ((n + 1) lines), f0, f1 (lines), i0, frac (n_out + 1). */
static void resample_area(const double *x, Py_ssize_t n, Py_ssize_t lines, Py_ssize_t step, Py_ssize_t line_stride,
                          double *out, Py_ssize_t n_out, Py_ssize_t out_step, Py_ssize_t out_line_stride,
                          double scale, double offset, double *csum, double *f0, double *f1, Py_ssize_t *i0,
                          double *frac)
{
    /* Output edges in input coordinates, t = clip((i - offset) / scale, 0, n), the input pixel
     * each falls in, and how far into it. */
    for (Py_ssize_t i = 0; i <= n_out; i++) {
        double t = ((double)i - offset) / scale;
        t = t < 0.0 ? 0.0 : t; /* np.clip: maximum, then minimum */
        t = t > (double)n ? (double)n : t;
        Py_ssize_t j = (Py_ssize_t)t;
        if (j > n - 1)
            j = n - 1;
        i0[i] = j;
        frac[i] = t - (double)j;
    }
    /* csum[j][l] = sum(x[:j]) of line l, sequential like np.cumsum (whose first sum is x[0]) */
    for (Py_ssize_t l = 0; l < lines; l++) {
        csum[l] = 0.0;
        csum[lines + l] = x[l * line_stride];
    }
    for (Py_ssize_t j = 1; j < n; j++) {
        const double *prev = csum + j * lines, *xj = x + j * step;
        double *next = csum + (j + 1) * lines;
        for (Py_ssize_t l = 0; l < lines; l++)
            next[l] = prev[l] + xj[l * line_stride];
    }
    /* integral F(t) = csum[i0] + frac x[i0] at each edge; output = difference * scale */
    for (Py_ssize_t i = 0; i <= n_out; i++) {
        const double *c = csum + i0[i] * lines, *xi = x + i0[i] * step;
        for (Py_ssize_t l = 0; l < lines; l++)
            f1[l] = c[l] + frac[i] * xi[l * line_stride];
        if (i > 0)
            for (Py_ssize_t l = 0; l < lines; l++)
                out[l * out_line_stride + (i - 1) * out_step] = (f1[l] - f0[l]) * scale;
        double *t = f0;
        f0 = f1;
        f1 = t;
    }
}

/* One 3-tap max (min if shrink) along axis 0 (neighbours above and below) or 1 (left and
 * right) of an (h, w) mask; outside the array counts as background (preprocess._shift_op). */
/* (restrict everywhere below: m, out, t1 and t2 are distinct buffers, and loops without
 * branches inside vectorise: ~3x faster on the 90x90 intermediate masks.) */
static void shift_op(const uint8_t *restrict m, uint8_t *restrict out, Py_ssize_t h, Py_ssize_t w, int axis,
                     int shrink)
{
    for (Py_ssize_t y = 0; y < h; y++) {
        const uint8_t *row = m + y * w;
        uint8_t *restrict o = out + y * w;
        if (axis == 0) {
            const uint8_t *up = y > 0 ? row - w : NULL, *down = y < h - 1 ? row + w : NULL;
            if (shrink && (up == NULL || down == NULL))
                memset(o, 0, (size_t)w);
            else if (shrink)
                for (Py_ssize_t x = 0; x < w; x++)
                    o[x] = row[x] & up[x] & down[x];
            else if (up != NULL && down != NULL)
                for (Py_ssize_t x = 0; x < w; x++)
                    o[x] = row[x] | up[x] | down[x];
            else {
                const uint8_t *other = up != NULL ? up : down; /* NULL only when h == 1 */
                for (Py_ssize_t x = 0; x < w; x++)
                    o[x] = row[x] | (other != NULL ? other[x] : 0);
            }
        } else if (shrink) {
            o[0] = 0, o[w - 1] = 0;
            for (Py_ssize_t x = 1; x < w - 1; x++)
                o[x] = row[x - 1] & row[x] & row[x + 1];
        } else if (w == 1) {
            o[0] = row[0];
        } else {
            o[0] = row[0] | row[1];
            for (Py_ssize_t x = 1; x < w - 1; x++)
                o[x] = row[x - 1] | row[x] | row[x + 1];
            o[w - 1] = row[w - 2] | row[w - 1];
        }
    }
}

static void thicken(const uint8_t *m, uint8_t *restrict out, uint8_t *restrict t1, uint8_t *restrict t2,
                    Py_ssize_t h, Py_ssize_t w, long rho)
{
    size_t size = (size_t)h * (size_t)w;
    long n = labs(rho);
    long a = (long)floor((double)n / 2.414 + 0.5);
    int shrink = rho < 0;
    memcpy(out, m, size);
    for (long s = 0; s < a; s++) {
        shift_op(out, t1, h, w, 0, shrink);
        shift_op(t1, out, h, w, 1, shrink);
    }
    for (long s = 0; s < n - a; s++) {
        shift_op(out, t1, h, w, 0, shrink);
        shift_op(out, t2, h, w, 1, shrink);
        if (shrink)
            for (size_t i = 0; i < size; i++)
                out[i] = t1[i] & t2[i];
        else
            for (size_t i = 0; i < size; i++)
                out[i] = t1[i] | t2[i];
    }
}

/* Step 5 (preprocess._trim_specks), in place on the (h, w) mask: along rows, then columns,
 * split the ink profile into runs of non-empty lines separated by more than
 * max(2, lines // 50) empty ones and drop end runs holding < 2% of the ink. The mask may be
 * a box holding all the ink of a (rows, cols) image: the gaps are counted in the image's
 * lines. prof, start, end, keep: work areas of max(h, w) entries. Returns the ink left. */
static Py_ssize_t trim_specks(uint8_t *mask, Py_ssize_t h, Py_ssize_t w, Py_ssize_t rows, Py_ssize_t cols,
                              Py_ssize_t *prof, Py_ssize_t *start, Py_ssize_t *end, Py_ssize_t *keep)
{
    Py_ssize_t total = 0;
    for (int by_rows = 1; by_rows >= 0; by_rows--) {
        Py_ssize_t len = by_rows ? h : w, lines = by_rows ? rows : cols, nruns = 0, prev = -1;
        total = 0;
        memset(prof, 0, (size_t)len * sizeof(Py_ssize_t));
        for (Py_ssize_t y = 0; y < h; y++) {
            const uint8_t *row = mask + y * w;
            if (by_rows)
                for (Py_ssize_t x = 0; x < w; x++)
                    prof[y] += row[x];
            else
                for (Py_ssize_t x = 0; x < w; x++)
                    prof[x] += row[x];
        }
        for (Py_ssize_t j = 0; j < len; j++)
            total += prof[j];
        if (total == 0)
            return 0;
        Py_ssize_t gap = lines / 50 > 2 ? lines / 50 : 2;
        for (Py_ssize_t j = 0; j < len; j++) {
            if (!prof[j])
                continue;
            if (nruns == 0 || j - prev > gap) {
                start[nruns] = j;
                keep[nruns++] = 0;
            }
            end[nruns - 1] = j + 1;
            keep[nruns - 1] += prof[j];
            prev = j;
        }
        Py_ssize_t first = 0, last = nruns - 1;
        double limit = 0.02 * (double)total;
        while (last > first && (double)keep[first] < limit)
            first++;
        while (last > first && (double)keep[last] < limit)
            last--;
        for (Py_ssize_t r = 0; r < nruns; r++) {
            if (r >= first && r <= last)
                continue;
            total -= keep[r];
            for (Py_ssize_t j = start[r]; j < end[r]; j++) {
                if (by_rows)
                    memset(mask + j * w, 0, (size_t)w);
                else
                    for (Py_ssize_t y = 0; y < h; y++)
                        mask[y * w + j] = 0;
            }
        }
    }
    return total;
}

/* ------------------------------------------------------------------ steps 4-10 */

typedef struct {
    int kind;
    Py_ssize_t box[4]; /* zoom: candidates' (cy0, cy1, cx0, cx1); done: ink (y0, y1, x0, x1) */
    double stroke;
} finished;

/* preprocess._finish_numpy on the (h, w) ink map; writes the (28, 28) image into out when
 * res->kind is KIND_DONE. Returns -1 when memory ran out, else 0. Runs without the GIL. */
static int finish_impl(const double *ink, Py_ssize_t h, Py_ssize_t w, double noise, double min_pixels, int zoom,
                       int normalize_stroke, uint8_t *out, finished *res)
{
    arena ar = {{0}, 0};
    size_t hw = (size_t)h * (size_t)w;
    res->kind = KIND_EMPTY;
    res->stroke = 0.0;

    /* 4. soft threshold relative to the ink's own contrast. */
    double floor_ = py_max(4 * noise, 10.0);
    double *cand = arena_alloc(&ar, hw, sizeof(double), 0);
    if (cand == NULL)
        goto nomem;
    Py_ssize_t n = 0, cbox[4] = {h, -1, w, -1};
    for (Py_ssize_t y = 0; y < h; y++) {
        const double *row = ink + y * w;
        /* Any candidate in the row? (Most canvas rows have none.) Branch-free, four independent
         * comparisons a step: ~3x faster than one comparison and branch per pixel. */
        int any = 0;
        Py_ssize_t x4 = 0;
        for (; x4 + 4 <= w; x4 += 4)
            any |= (row[x4] > floor_) | (row[x4 + 1] > floor_) | (row[x4 + 2] > floor_) | (row[x4 + 3] > floor_);
        for (; x4 < w; x4++)
            any |= row[x4] > floor_;
        if (!any)
            continue;
        Py_ssize_t a = 0, b = w; /* the row's first and last candidate + 1 */
        while (!(row[a] > floor_))
            a++;
        while (!(row[b - 1] > floor_))
            b--;
        for (Py_ssize_t x = a; x < b; x++) { /* in order, without a branch per pixel */
            cand[n] = row[x];
            n += row[x] > floor_;
        }
        if (cbox[0] == h)
            cbox[0] = y;
        cbox[1] = y + 1;
        cbox[2] = a < cbox[2] ? a : cbox[2];
        cbox[3] = b > cbox[3] ? b : cbox[3];
    }
    if ((double)n < min_pixels || n == 0) /* (n == 0 only if a caller passes min_pixels <= 0) */
        goto done;
    double c = select_kth(cand, n, (Py_ssize_t)floor(0.9 * (double)(n - 1)));
    if (c < py_max(MIN_CONTRAST, 6 * noise))
        goto done;

    /* 4a. zoom: a digit that spans few working pixels; Python re-reads its box. */
    if (zoom && (cbox[1] - cbox[0] > cbox[3] - cbox[2] ? cbox[1] - cbox[0] : cbox[3] - cbox[2]) <= ZOOM_SIDE) {
        res->kind = KIND_ZOOM;
        memcpy(res->box, cbox, sizeof cbox);
        goto done;
    }
    double lo = py_max(floor_, 0.25 * c);
    double hi = py_max(0.75 * c, lo + 1.0);
    double range = hi - lo;
    /* v = clip((ink - lo) / range, 0, 1) and the mask v >= 0.5, computed only inside the
     * candidates' box (ch, cw): a mask pixel is a candidate (v >= 0.5 needs ink > lo >= floor),
     * and v is only read inside the mask's box. Both are (ch, cw) with row stride cw. */
    Py_ssize_t ch = cbox[1] - cbox[0], cw = cbox[3] - cbox[2];
    size_t csize = (size_t)ch * (size_t)cw;
    double *v = cand; /* (hw entries; the candidates are no longer needed) */
    uint8_t *mask = arena_alloc(&ar, csize, 1, 0);
    if (mask == NULL)
        goto nomem;
    for (Py_ssize_t y = 0; y < ch; y++) {
        const double *row = ink + (cbox[0] + y) * w + cbox[2];
        for (Py_ssize_t x = 0; x < cw; x++) {
            double q;
            if (row[x] <= lo) /* (ink - lo) / range <= 0: clipped to 0.0 (skips most divisions) */
                q = 0.0;
            else if (row[x] >= hi) /* ink - lo >= range, so the quotient is >= 1: clipped to 1.0 */
                q = 1.0;
            else { /* also NaN, which np.clip keeps and these comparisons keep too */
                q = (row[x] - lo) / range;
                q = q < 0.0 ? 0.0 : q;
                q = q > 1.0 ? 1.0 : q;
            }
            v[y * cw + x] = q;
            mask[y * cw + x] = q >= 0.5;
        }
    }

    /* 5. binary mask without edge specks (the gaps count the whole image's lines). */
    Py_ssize_t len = h > w ? h : w;
    Py_ssize_t *prof = arena_alloc(&ar, (size_t)len, sizeof(Py_ssize_t), 0);
    Py_ssize_t *rstart = arena_alloc(&ar, (size_t)len, sizeof(Py_ssize_t), 0);
    Py_ssize_t *rend = arena_alloc(&ar, (size_t)len, sizeof(Py_ssize_t), 0);
    Py_ssize_t *rkeep = arena_alloc(&ar, (size_t)len, sizeof(Py_ssize_t), 0);
    uint8_t *zeros = arena_alloc(&ar, (size_t)len > 96 ? (size_t)len : 96, 1, 1); /* an empty row, for stroke_width */
    if (prof == NULL || rstart == NULL || rend == NULL || rkeep == NULL || zeros == NULL)
        goto nomem;
    Py_ssize_t count = trim_specks(mask, ch, cw, h, w, prof, rstart, rend, rkeep);
    Py_ssize_t box[4];
    if ((double)count < min_pixels || !bbox(mask, ch, cw, cw, box))
        goto done;
    Py_ssize_t y0 = box[0], x0 = box[2];
    box[0] += cbox[0], box[1] += cbox[0], box[2] += cbox[2], box[3] += cbox[2]; /* in the ink map */

    /* 6. crop (a view: row stride cw); stroke width at working resolution. */
    Py_ssize_t hc = box[1] - box[0], wc = box[3] - box[2], side = hc > wc ? hc : wc;
    const double *crop = v + y0 * cw + x0;
    double w_work = stroke_width(mask + y0 * cw + x0, hc, wc, cw, zeros);

    /* 7. intermediate: longest side INTER_SIDE, PAD px of room around, binarised. */
    double f = (double)INTER_SIDE / (double)side;
    Py_ssize_t hi7 = (hc * INTER_SIDE + side - 1) / side + 2 * PAD;
    Py_ssize_t wi7 = (wc * INTER_SIDE + side - 1) / side + 2 * PAD;
    size_t n7 = (size_t)hi7 * (size_t)wi7;
    Py_ssize_t longest = len > hi7 ? len : hi7; /* >= every n, n_out and lines below */
    longest = longest > wi7 ? longest : wi7;
    longest = longest > 28 ? longest : 28;
    double *csum = arena_alloc(&ar, ((size_t)longest + 1) * (size_t)longest, sizeof(double), 0); /* (n + 1, lines) */
    double *f0 = arena_alloc(&ar, (size_t)longest, sizeof(double), 0);
    double *f1 = arena_alloc(&ar, (size_t)longest, sizeof(double), 0);
    Py_ssize_t *i0 = arena_alloc(&ar, (size_t)longest + 1, sizeof(Py_ssize_t), 0);
    double *frac = arena_alloc(&ar, (size_t)longest + 1, sizeof(double), 0);
    double *soft_r = arena_alloc(&ar, (size_t)hi7 * (size_t)wc, sizeof(double), 0); /* (hi7, wc) */
    double *soft = arena_alloc(&ar, n7, sizeof(double), 0);                          /* (hi7, wi7) */
    uint8_t *m = arena_alloc(&ar, n7, 1, 0);
    uint8_t *grown = arena_alloc(&ar, n7, 1, 0);
    uint8_t *t1 = arena_alloc(&ar, n7, 1, 0);
    uint8_t *t2 = arena_alloc(&ar, n7, 1, 0);
    if (!csum || !f0 || !f1 || !i0 || !frac || !soft_r || !soft || !m || !grown || !t1 || !t2)
        goto nomem;
    resample_area(crop, hc, wc, cw, 1, soft_r, hi7, wc, 1, f, PAD, csum, f0, f1, i0, frac); /* rows */
    resample_area(soft_r, wc, hi7, 1, wc, soft, wi7, 1, wi7, f, PAD, csum, f0, f1, i0, frac); /* columns */
    double t = py_min(0.5, 0.4 * w_work * f);
    for (size_t i = 0; i < n7; i++)
        m[i] = soft[i] >= t;
    double w_i = stroke_width(m, hi7, wi7, wi7, zeros);
    Py_ssize_t bb[4];
    if (!bbox(m, hi7, wi7, wi7, bb)) {
        res->kind = KIND_FAIL;
        goto done;
    }
    Py_ssize_t side_i = bb[1] - bb[0] > bb[3] - bb[2] ? bb[1] - bb[0] : bb[3] - bb[2];
    double stroke = w_i / (double)side_i;

    /* 8. stroke thickness -> STROKE_TARGET of the digit's size. */
    if (normalize_stroke && (stroke < STROKE_TARGET || stroke > STROKE_MAX)) {
        double goal = stroke < STROKE_TARGET ? STROKE_TARGET : STROKE_MAX;
        double r = floor((goal * (double)side_i - w_i) / (2 * (1 - goal)) + 0.5);
        double most_thin = trunc(MAX_THIN * w_i); /* int(MAX_THIN * w_i) */
        long rho = (long)py_max(-most_thin, py_min(PAD - 1, r)); /* clipped before the cast: no overflow */
        if (rho != 0) {
            thicken(m, grown, t1, t2, hi7, wi7, rho);
            int any = 0;
            for (size_t i = 0; i < n7 && !any; i++)
                any = grown[i];
            if (any)
                memcpy(m, grown, n7);
        }
    }

    /* 9. fit the long side to 20 px, centre the short side in the 20 px box, then move the box
     * by whole pixels to put the centre of mass on 14.5. Sums of integers and halves: exact. */
    bbox(m, hi7, wi7, wi7, bb); /* not empty: step 8 keeps m only if it has ink */
    Py_ssize_t bh = bb[1] - bb[0], bw = bb[3] - bb[2];
    double s = 20.0 / (double)(bh > bw ? bh : bw);
    double *mf = soft; /* (hi7, wi7) 0.0 / 1.0; soft is no longer needed */
    Py_ssize_t *cols = i0; /* (wi7) ink pixels per column; i0 (>= wi7 + 1 entries) is free here */
    memset(cols, 0, (size_t)wi7 * sizeof(Py_ssize_t));
    double mass = 0.0, sy = 0.0, sx = 0.0;
    for (Py_ssize_t y = 0; y < hi7; y++) {
        const uint8_t *restrict mrow = m + y * wi7; /* (restrict: no aliasing, so it vectorises) */
        double *restrict frow = mf + y * wi7;
        Py_ssize_t *restrict col = cols, count = 0;
        for (Py_ssize_t x = 0; x < wi7; x++) {
            uint8_t q = mrow[x];
            frow[x] = q;
            count += q;
            col[x] += q;
        }
        mass += (double)count;
        sy += (double)count * ((double)y + 0.5);
    }
    for (Py_ssize_t x = 0; x < wi7; x++)
        sx += (double)cols[x] * ((double)x + 0.5);
    double cm[2] = {sy / mass, sx / mass}, c0[2] = {(double)bb[0], (double)bb[2]}, offs[2];
    Py_ssize_t ext[2] = {bh, bw};
    for (int a = 0; a < 2; a++) {
        double extent = (double)ext[a];
        double boxo = (20.0 - extent * s) / 2;            /* where the digit starts in the 20 px box */
        double com = (cm[a] - c0[a]) * s + boxo;          /* centre of mass inside the box */
        double shift = floor(14.5 - com + 0.5);           /* box origin in the 28 px field */
        shift = py_min(py_max(shift, -boxo), 28.0 - boxo - extent * s);
        offs[a] = shift + boxo - c0[a] * s;               /* out = in * s + offset */
    }
    double *out_r = arena_alloc(&ar, (size_t)28 * (size_t)wi7, sizeof(double), 0); /* (28, wi7) */
    double *out_f = arena_alloc(&ar, 28 * 28, sizeof(double), 0);                  /* (28, 28) */
    if (out_r == NULL || out_f == NULL)
        goto nomem;
    resample_area(mf, hi7, wi7, wi7, 1, out_r, 28, wi7, 1, s, offs[0], csum, f0, f1, i0, frac); /* rows */
    resample_area(out_r, wi7, 28, 1, wi7, out_f, 28, 1, 28, s, offs[1], csum, f0, f1, i0, frac); /* columns */

    /* 10. uint8, white ink on black. */
    for (int i = 0; i < 28 * 28; i++) {
        double q = floor(out_f[i] * 255.0 + 0.5);
        out[i] = (uint8_t)(q < 0.0 ? 0.0 : (q > 255.0 ? 255.0 : q));
    }
    res->kind = KIND_DONE;
    memcpy(res->box, box, sizeof box);
    res->stroke = stroke;

done:
    arena_free(&ar);
    return 0;
nomem:
    arena_free(&ar);
    return -1;
}

/* ------------------------------------------------------------------ Python wrappers */

/* Does the buffer hold items of struct format `code` (native, or explicitly little-endian
 * on a little-endian machine, as numpy may write it)? */
static int has_format(const Py_buffer *view, char code)
{
    const char *f = view->format ? view->format : "B";
    if (*f == '@' || *f == '=')
        f++;
#if PY_LITTLE_ENDIAN
    else if (*f == '<')
        f++;
#endif
    return f[0] == code && f[1] == '\0';
}

static PyObject *py_block_mean(PyObject *Py_UNUSED(self), PyObject *args)
{
    PyObject *xo, *outo;
    Py_ssize_t k;
    double divisor;
    if (!PyArg_ParseTuple(args, "OnOd:block_mean", &xo, &k, &outo, &divisor))
        return NULL;
    Py_buffer x, out;
    if (PyObject_GetBuffer(xo, &x, PyBUF_RECORDS_RO) < 0) /* any strides: e.g. the L of an LA array */
        return NULL;
    if (PyObject_GetBuffer(outo, &out, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE) < 0) {
        PyBuffer_Release(&x);
        return NULL;
    }
    PyObject *ret = NULL;
    if (x.ndim != 2 || !has_format(&x, 'B') || x.itemsize != 1) {
        PyErr_SetString(PyExc_TypeError, "block_mean: x must be a 2-D uint8 array");
        goto exit;
    }
    if (k < 1) {
        PyErr_SetString(PyExc_ValueError, "block_mean: k must be >= 1");
        goto exit;
    }
    Py_ssize_t H = x.shape[0], W = x.shape[1], Hb = (H + k - 1) / k, Wb = (W + k - 1) / k;
    if (out.ndim != 2 || !has_format(&out, 'd') || out.itemsize != 8 || out.shape[0] != Hb || out.shape[1] != Wb) {
        PyErr_Format(PyExc_ValueError, "block_mean: out must be a (%zd, %zd) float64 C-contiguous array", Hb, Wb);
        goto exit;
    }
    /* rowsum (W): sums of the rows of one row of blocks (exact integers), zero outside the
     * columns [lo, hi) that hold ink; only the blocks over [lo, hi) are summed and divided, the
     * rest of the output row is 0.0. Most of a canvas's alpha is 0, so most work is skipped. */
    int64_t *rowsum = calloc(W ? (size_t)W : 1, sizeof(int64_t));
    if (rowsum == NULL) {
        PyErr_NoMemory();
        goto exit;
    }
    const char *src = x.buf;
    Py_ssize_t ys = x.strides[0], xs = x.strides[1];
    double *dst = out.buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t by = 0; by < Hb; by++) {
        Py_ssize_t ya = by * k, yb = ya + k < H ? ya + k : H, lo = W, hi = 0;
        for (Py_ssize_t y = ya; y < yb; y++) {
            const uint8_t *row = (const uint8_t *)(src + y * ys);
            if (xs == 1) {
                /* 8 pixels at a time, skipping all-zero words */
                Py_ssize_t xx = 0;
                for (; xx + 8 <= W; xx += 8) {
                    uint64_t word;
                    memcpy(&word, row + xx, 8);
                    if (word == 0)
                        continue;
                    for (int j = 0; j < 8; j++)
                        rowsum[xx + j] += row[xx + j];
                    lo = xx < lo ? xx : lo;
                    hi = xx + 8 > hi ? xx + 8 : hi; /* (another row of the block may reach further) */
                }
                for (; xx < W; xx++)
                    if (row[xx]) {
                        rowsum[xx] += row[xx];
                        lo = xx < lo ? xx : lo;
                        hi = xx + 1 > hi ? xx + 1 : hi;
                    }
            } else { /* a strided view (the L of an LA array): every column */
                for (Py_ssize_t xx = 0; xx < W; xx++)
                    rowsum[xx] += row[xx * xs];
                lo = 0, hi = W;
            }
        }
        double *drow = dst + by * Wb;
        memset(drow, 0, (size_t)Wb * sizeof(double)); /* all-zero bits are 0.0 */
        if (lo >= hi)
            continue;
        Py_ssize_t bx0 = lo / k, bx1 = (hi - 1) / k + 1;
        for (Py_ssize_t bx = bx0; bx < bx1; bx++) {
            Py_ssize_t xa = bx * k, xb = xa + k < W ? xa + k : W;
            int64_t sum = 0;
            for (Py_ssize_t xx = xa; xx < xb; xx++)
                sum += rowsum[xx];
            /* exact integer sum / pixel count / divisor: correctly rounded divisions in numpy's order
             * (0 / count is 0.0: skipping it saves most divisions on a canvas) */
            if (sum)
                drow[bx] = (double)sum / (double)((yb - ya) * (xb - xa)) / divisor;
        }
        Py_ssize_t xend = bx1 * k < W ? bx1 * k : W; /* rowsum back to zero where it was used */
        memset(rowsum + bx0 * k, 0, (size_t)(xend - bx0 * k) * sizeof(int64_t));
    }
    Py_END_ALLOW_THREADS
    free(rowsum);
    ret = Py_NewRef(Py_None);
exit:
    PyBuffer_Release(&x);
    PyBuffer_Release(&out);
    return ret;
}

static PyObject *py_finish(PyObject *Py_UNUSED(self), PyObject *args)
{
    PyObject *inko, *outo;
    double noise, min_pixels;
    int zoom, normalize_stroke;
    if (!PyArg_ParseTuple(args, "OddppO:finish", &inko, &noise, &min_pixels, &zoom, &normalize_stroke, &outo))
        return NULL;
    Py_buffer ink, out;
    if (PyObject_GetBuffer(inko, &ink, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0)
        return NULL;
    if (PyObject_GetBuffer(outo, &out, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE) < 0) {
        PyBuffer_Release(&ink);
        return NULL;
    }
    PyObject *ret = NULL;
    if (ink.ndim != 2 || !has_format(&ink, 'd') || ink.itemsize != 8) {
        PyErr_SetString(PyExc_TypeError, "finish: ink must be a 2-D float64 C-contiguous array");
        goto exit;
    }
    if (out.ndim != 2 || !has_format(&out, 'B') || out.itemsize != 1 || out.shape[0] != 28 || out.shape[1] != 28) {
        PyErr_SetString(PyExc_ValueError, "finish: out must be a (28, 28) uint8 C-contiguous array");
        goto exit;
    }
    finished res;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = finish_impl(ink.buf, ink.shape[0], ink.shape[1], noise, min_pixels, zoom, normalize_stroke, out.buf, &res);
    Py_END_ALLOW_THREADS
    if (rc < 0) {
        PyErr_NoMemory();
        goto exit;
    }
    if (res.kind == KIND_EMPTY || res.kind == KIND_FAIL)
        res.box[0] = res.box[1] = res.box[2] = res.box[3] = 0;
    ret = Py_BuildValue("innnnd", res.kind, res.box[0], res.box[1], res.box[2], res.box[3], res.stroke);
exit:
    PyBuffer_Release(&ink);
    PyBuffer_Release(&out);
    return ret;
}

/* fit28.stroke_width of a 2-D bool or uint8 (0/1) C-contiguous mask. */
static PyObject *py_stroke_width(PyObject *Py_UNUSED(self), PyObject *args)
{
    PyObject *mo;
    if (!PyArg_ParseTuple(args, "O:stroke_width", &mo))
        return NULL;
    Py_buffer m;
    if (PyObject_GetBuffer(mo, &m, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0)
        return NULL;
    PyObject *ret = NULL;
    if (m.ndim != 2 || !(has_format(&m, '?') || has_format(&m, 'B')) || m.itemsize != 1) {
        PyErr_SetString(PyExc_TypeError, "stroke_width: mask must be a 2-D bool or uint8 C-contiguous array");
        goto exit;
    }
    Py_ssize_t h = m.shape[0], w = m.shape[1];
    uint8_t *zeros = calloc(w ? (size_t)w : 1, 1);
    if (zeros == NULL) {
        PyErr_NoMemory();
        goto exit;
    }
    double sw;
    Py_BEGIN_ALLOW_THREADS
    sw = stroke_width(m.buf, h, w, w, zeros);
    Py_END_ALLOW_THREADS
    free(zeros);
    ret = PyFloat_FromDouble(sw);
exit:
    PyBuffer_Release(&m);
    return ret;
}

/* segment.label_runs: the 8-connected component of each of n runs from the run graph's edges
 * (a[e], b[e]), numbered 0..k-1 by each component's first run, into the int64 `out`; returns k.
 * Union-find whose root is always the component's smallest run (so after one ascending pass of
 * path compression every run points at its first run, as the numpy reference's labels do). */
static PyObject *py_label_runs(PyObject *Py_UNUSED(self), PyObject *args)
{
    PyObject *ao, *bo, *outo;
    if (!PyArg_ParseTuple(args, "OOO:label_runs", &ao, &bo, &outo))
        return NULL;
    Py_buffer a = {0}, b = {0}, out = {0};
    PyObject *ret = NULL;
    if (PyObject_GetBuffer(ao, &a, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0)
        return NULL;
    if (PyObject_GetBuffer(bo, &b, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0)
        goto exit;
    if (PyObject_GetBuffer(outo, &out, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE) < 0)
        goto exit;
    if (a.ndim != 1 || b.ndim != 1 || out.ndim != 1 || a.itemsize != 8 || b.itemsize != 8 || out.itemsize != 8
        || !(has_format(&a, 'q') || has_format(&a, 'l')) || !(has_format(&b, 'q') || has_format(&b, 'l'))
        || !(has_format(&out, 'q') || has_format(&out, 'l')) || a.shape[0] != b.shape[0]) {
        PyErr_SetString(PyExc_TypeError, "label_runs: a, b (equal length) and out must be 1-D int64 arrays");
        goto exit;
    }
    Py_ssize_t n = out.shape[0], edges = a.shape[0];
    const int64_t *ea = a.buf, *eb = b.buf;
    int64_t *p = out.buf;
    for (Py_ssize_t e = 0; e < edges; e++)
        if (ea[e] < 0 || ea[e] >= n || eb[e] < 0 || eb[e] >= n) {
            PyErr_SetString(PyExc_ValueError, "label_runs: an edge names a run out of range");
            goto exit;
        }
    int64_t k = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++)
        p[i] = i;
    for (Py_ssize_t e = 0; e < edges; e++) {
        int64_t x = ea[e], y = eb[e];
        while (p[x] != x) { /* find, halving the path */
            p[x] = p[p[x]];
            x = p[x];
        }
        while (p[y] != y) {
            p[y] = p[p[y]];
            y = p[y];
        }
        if (x < y)
            p[y] = x;
        else if (y < x)
            p[x] = y;
    }
    for (Py_ssize_t i = 0; i < n; i++) /* ascending: p[i] < i is already its root's label */
        p[i] = p[i] == i ? k++ : p[p[i]];
    Py_END_ALLOW_THREADS
    ret = PyLong_FromLongLong(k);
exit:
    PyBuffer_Release(&a);
    if (b.obj)
        PyBuffer_Release(&b);
    if (out.obj)
        PyBuffer_Release(&out);
    return ret;
}

/* runs.candidate_ink (step 6 of reading a number): out (y1 - y0, x1 - x0) float64 = the page's
 * ink over the box times (the runs' mask grown by one pixel, 3x3, and not another piece's ink:
 * the page's mask outside the runs). The factor is 1.0 or 0.0 and multiplied, as numpy's
 * float64 * bool is: ink * 0.0 keeps numpy's -0.0 and NaN. mask (h, w) bool and ink (h, w)
 * float64 may be strided views; row, start, end: int64 runs inside the box. */
static PyObject *py_candidate_ink(PyObject *Py_UNUSED(self), PyObject *args)
{
    PyObject *mo, *io, *ro, *so, *eo, *outo;
    Py_ssize_t y0, y1, x0, x1;
    if (!PyArg_ParseTuple(args, "OOnnnnOOOO:candidate_ink", &mo, &io, &y0, &y1, &x0, &x1, &ro, &so, &eo, &outo))
        return NULL;
    Py_buffer m = {0}, ink = {0}, r = {0}, st = {0}, en = {0}, out = {0};
    PyObject *ret = NULL;
    uint8_t *mine = NULL;
    if (PyObject_GetBuffer(mo, &m, PyBUF_RECORDS_RO) < 0)
        return NULL;
    if (PyObject_GetBuffer(io, &ink, PyBUF_RECORDS_RO) < 0 || PyObject_GetBuffer(ro, &r, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0
        || PyObject_GetBuffer(so, &st, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0
        || PyObject_GetBuffer(eo, &en, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0
        || PyObject_GetBuffer(outo, &out, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE) < 0)
        goto exit;
    if (m.ndim != 2 || m.itemsize != 1 || !(has_format(&m, '?') || has_format(&m, 'B')) || ink.ndim != 2
        || ink.itemsize != 8 || !has_format(&ink, 'd') || ink.shape[0] != m.shape[0] || ink.shape[1] != m.shape[1]) {
        PyErr_SetString(PyExc_TypeError, "candidate_ink: mask must be a 2-D bool array and ink a float64 one of its shape");
        goto exit;
    }
    Py_ssize_t n = r.shape[0];
    if (r.ndim != 1 || st.ndim != 1 || en.ndim != 1 || r.itemsize != 8 || st.itemsize != 8 || en.itemsize != 8
        || !(has_format(&r, 'q') || has_format(&r, 'l')) || !(has_format(&st, 'q') || has_format(&st, 'l'))
        || !(has_format(&en, 'q') || has_format(&en, 'l')) || st.shape[0] != n || en.shape[0] != n) {
        PyErr_SetString(PyExc_TypeError, "candidate_ink: row, start and end must be 1-D int64 arrays of one length");
        goto exit;
    }
    if (y0 < 0 || y1 < y0 || y1 > m.shape[0] || x0 < 0 || x1 < x0 || x1 > m.shape[1]) {
        PyErr_SetString(PyExc_ValueError, "candidate_ink: the box is not inside the page");
        goto exit;
    }
    Py_ssize_t bh = y1 - y0, bw = x1 - x0;
    if (out.ndim != 2 || out.itemsize != 8 || !has_format(&out, 'd') || out.shape[0] != bh || out.shape[1] != bw) {
        PyErr_Format(PyExc_ValueError, "candidate_ink: out must be a (%zd, %zd) float64 C-contiguous array", bh, bw);
        goto exit;
    }
    const int64_t *row = r.buf, *start = st.buf, *end = en.buf;
    for (Py_ssize_t i = 0; i < n; i++)
        if (row[i] < y0 || row[i] >= y1 || start[i] < x0 || end[i] < start[i] || end[i] > x1) {
            PyErr_SetString(PyExc_ValueError, "candidate_ink: a run lies outside the box");
            goto exit;
        }
    size_t size = (size_t)bh * (size_t)bw;
    mine = calloc(2 * size + 1, 1); /* the runs' mask, then the rows' dilation of it */
    if (mine == NULL) {
        PyErr_NoMemory();
        goto exit;
    }
    uint8_t *g = mine + size;
    double *dst = out.buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++)
        memset(mine + (row[i] - y0) * bw + (start[i] - x0), 1, (size_t)(end[i] - start[i]));
    for (Py_ssize_t y = 0; y < bh; y++) /* g: each pixel or the one above or below (runs.grow's first half) */
        for (Py_ssize_t x = 0; x < bw; x++)
            g[y * bw + x] = mine[y * bw + x] | (y > 0 ? mine[(y - 1) * bw + x] : 0) | (y + 1 < bh ? mine[(y + 1) * bw + x] : 0);
    for (Py_ssize_t y = 0; y < bh; y++) {
        const uint8_t *gr = g + y * bw, *mr = mine + y * bw;
        const char *maskrow = (const char *)m.buf + (y0 + y) * m.strides[0] + x0 * m.strides[1];
        const char *inkrow = (const char *)ink.buf + (y0 + y) * ink.strides[0] + x0 * ink.strides[1];
        for (Py_ssize_t x = 0; x < bw; x++) {
            int grown = gr[x] | (x > 0 ? gr[x - 1] : 0) | (x + 1 < bw ? gr[x + 1] : 0);
            int other = maskrow[x * m.strides[1]] != 0 && !mr[x];
            double v;
            memcpy(&v, inkrow + x * ink.strides[1], sizeof v);
            dst[y * bw + x] = v * (double)(grown && !other);
        }
    }
    Py_END_ALLOW_THREADS
    ret = Py_NewRef(Py_None);
exit:
    free(mine);
    PyBuffer_Release(&m);
    if (ink.obj)
        PyBuffer_Release(&ink);
    if (r.obj)
        PyBuffer_Release(&r);
    if (st.obj)
        PyBuffer_Release(&st);
    if (en.obj)
        PyBuffer_Release(&en);
    if (out.obj)
        PyBuffer_Release(&out);
    return ret;
}

static PyMethodDef methods[] = {
    {"block_mean", py_block_mean, METH_VARARGS,
     "block_mean(x, k, out, divisor): exact means of k x k blocks of the 2-D uint8 x, divided by divisor,\n"
     "into the float64 out."},
    {"finish", py_finish, METH_VARARGS,
     "finish(ink, noise, min_pixels, zoom, normalize_stroke, out) -> (kind, y0, y1, x0, x1, stroke):\n"
     "steps 4-10 of preprocess.to_mnist (preprocess._finish_numpy); kind 0 empty, 1 zoom, 2 done, 3 failed."},
    {"stroke_width", py_stroke_width, METH_VARARGS,
     "stroke_width(mask) -> float: fit28.stroke_width of a 2-D bool or uint8 mask."},
    {"label_runs", py_label_runs, METH_VARARGS,
     "label_runs(a, b, out) -> k: segment.label_runs of len(out) runs with edges (a, b), labels into out."},
    {"candidate_ink", py_candidate_ink, METH_VARARGS,
     "candidate_ink(mask, ink, y0, y1, x0, x1, row, start, end, out): runs.candidate_ink of the runs over the\n"
     "box (y0, y1, x0, x1) of the page's mask and ink, into the float64 out."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "digitpad._fastpre",
    "Steps 2 and 4-10 of digitpad.preprocess.to_mnist in C, bit-identical to the numpy reference.",
    0, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__fastpre(void)
{
    PyObject *mod = PyModule_Create(&module);
    if (mod == NULL)
        return NULL;
    PyObject *consts = Py_BuildValue("{sisisdsdsdsdsi}", "INTER_SIDE", INTER_SIDE, "PAD", PAD, "STROKE_TARGET",
                                     STROKE_TARGET, "STROKE_MAX", STROKE_MAX, "MAX_THIN", MAX_THIN, "MIN_CONTRAST",
                                     MIN_CONTRAST, "ZOOM_SIDE", ZOOM_SIDE);
    if (consts == NULL || PyModule_AddObject(mod, "CONSTANTS", consts) < 0) {
        Py_XDECREF(consts);
        Py_DECREF(mod);
        return NULL;
    }
    return mod;
}

"""The C engine (``digitpad._fastpre``) against the numpy reference: bit-identical results.

``preprocess.to_mnist`` runs steps 2 and 4-10 in C with the C engine (``digitpad.engines``);
these tests run both engines on the same decoded images (real pen drawings in every style, MNIST digits, and
synthetic edge cases) and require identical ``Preprocessed`` fields, not merely close ones.

    DIGITPAD_PENDIGITS=... DIGITPAD_DATA_DIR=... .venv/bin/python -m pytest tests/test_preprocess_fast.py -q
"""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from digitpad import engines, fit28, inkmap
from digitpad import preprocess as pp
from digitpad.decode import Decoded, decode

try:
    from digitpad import _fastpre
except ImportError:  # not built (no compiler at install time): only the CI check below runs
    _fastpre = None

needs_ext = pytest.mark.skipif(_fastpre is None, reason="digitpad._fastpre is not built (pip install -e . builds it)")


def test_extension_is_built_in_ci():
    """CI must run the C engine, so that a broken build cannot silently fall back to numpy."""
    if os.environ.get("CI") != "true":
        pytest.skip("only enforced when CI=true (locally the numpy fallback is allowed)")
    assert _fastpre is not None, "digitpad._fastpre did not import: did `pip install -e .` compile it?"
    assert engines.default().name == "c", engines.default()
    assert engines.default().fast_png, "digitpad._fastpng did not import"


# ------------------------------------------------------------------ whole pipeline, both engines


def _fields(pre: pp.Preprocessed) -> tuple:
    return pre.image.dtype, pre.image.shape, pre.image.tobytes(), pre.empty, pre.bbox, pre.polarity, pre.stroke


def _both(img: Decoded, normalize_stroke: bool = True) -> tuple[tuple, tuple]:
    """to_mnist's fields with the numpy engine and with the C engine."""
    return tuple(_fields(pp.to_mnist(img, engine=e, normalize_stroke=normalize_stroke))
                 for e in (engines.NUMPY, engines.choose("c")))


def _assert_same(cases: list[tuple[str, Decoded, bool]]) -> None:
    diffs = []
    for name, img, ns in cases:
        want, got = _both(img, ns)
        if want != got:
            fields = ["dtype", "shape", "image", "empty", "bbox", "polarity", "stroke"]
            bad = {f: "(differs)" if f == "image" else (w, g) for f, w, g in zip(fields, want, got) if w != g}
            diffs.append(f"{name} (normalize_stroke={ns}): numpy vs C {bad}")
    assert not diffs, f"{len(diffs)} of {len(cases)} differ:\n" + "\n".join(diffs[:20])


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def _decoded(img: Image.Image) -> Decoded:
    return decode(_png(img))


@needs_ext
def test_pen_drawings_in_every_style(pendigits_path: Path):
    from digitpad.pendigits import STYLES, load, render

    records = load(pendigits_path)
    chosen = records[:: max(1, len(records) // 20)][:20]
    cases = [(f"{r['id']} [{style}]", decode(render(r, STYLES[style])), True)
             for style in STYLES for r in chosen]
    cases += [(f"{r['id']} [{style}]", decode(render(r, STYLES[style])), False)
              for style in ("canvas-280", "thick-brush-200", "thin-pen-600", "tiny-corner-800") for r in chosen[:5]]
    assert len(cases) >= 20 * len(STYLES)
    _assert_same(cases)
    # The set covers the branches that matter: empty, zoomed, thickened and thinned digits.
    strokes = [pp.to_mnist(img).stroke for _, img, _ in cases[:len(chosen) * len(STYLES)]]
    assert min(strokes) < fit28.STROKE_TARGET and max(strokes) > fit28.STROKE_MAX


@needs_ext
def test_mnist_digits_as_png(mnist_dir: Path):
    from digitpad.data import load_split

    x, _ = load_split("test", mnist_dir)
    idx = np.random.default_rng(0).choice(len(x), 60, replace=False)
    cases = []
    for i in idx:
        cases.append((f"mnist {i}", decode(_png(Image.fromarray(x[i]))), True))
        big = Image.fromarray(255 - x[i]).resize((280, 280), Image.BILINEAR)
        cases.append((f"mnist {i} 280 inverted", decode(_png(big)), True))
    cases.append((f"mnist {idx[0]} raw strokes", decode(_png(Image.fromarray(x[idx[0]]))), False))
    _assert_same(cases)


def _gray(a) -> Image.Image:
    return Image.fromarray(np.asarray(a, np.uint8), "L")


def _synthetic() -> list[tuple[str, Image.Image]]:
    """Edge cases: blank, tiny, dots, lines, specks at the edges, blobs that get thinned,
    digits small enough to zoom, very wide and tall images, noise."""
    rng = np.random.default_rng(1)
    out = [("blank white", Image.new("RGB", (280, 280), "white")),
           ("blank transparent", Image.new("RGBA", (280, 280), (0, 0, 0, 0))),
           ("1x1 black", Image.new("L", (1, 1), 0)), ("1x1 white", Image.new("L", (1, 1), 255)),
           ("1x1 rgba", Image.new("RGBA", (1, 1), (0, 0, 0, 255))), ("2x2", _gray([[0, 255], [255, 0]])),
           ("all black", Image.new("L", (280, 280), 0)),
           ("checkerboard", _gray((np.indices((280, 280)).sum(0) % 2) * 255)),
           ("gradient", _gray(np.tile(np.linspace(0, 255, 280), (280, 1))))]
    for side in (28, 280, 1000):
        c, r = side // 2, max(1, side // 100)
        a = np.full((side, side), 255, np.uint8)
        a[c - r:c + r + 1, c - r:c + r + 1] = 0
        out.append((f"dot {side}", _gray(a)))
        a = np.full((side, side), 255, np.uint8)
        a[side // 3, :] = 0
        out.append((f"row line {side}", _gray(a)))
        out.append((f"column line {side}", _gray(a.T)))
    for side in (100, 280):
        im = Image.new("L", (side, side), 255)
        ImageDraw.Draw(im).line([(side * .2, side * .2), (side * .8, side * .8)], fill=0, width=max(1, side // 20))
        out.append((f"diagonal {side}", im))
        im = im.copy()
        for x, y in [(0, 0), (side - 2, 0), (0, side - 2), (side - 2, side - 2), (side // 2, 0), (0, side // 2)]:
            ImageDraw.Draw(im).rectangle([x, y, x + 1, y + 1], fill=0)
        out.append((f"diagonal with edge specks {side}", im))
    for side, rad in ((280, 125), (280, 90), (200, 99), (600, 250)):
        im = Image.new("L", (side, side), 255)
        ImageDraw.Draw(im).ellipse([side / 2 - rad, side / 2 - rad, side / 2 + rad, side / 2 + rad], fill=0)
        out.append((f"blob {side} r{rad}", im))
        im = Image.new("RGBA", (side, side), (0, 0, 0, 0))
        ImageDraw.Draw(im).ellipse([side / 2 - rad, side / 2 - rad, side / 2 + rad * 0.6, side / 2 + rad],
                                   fill=(0, 0, 0, 255))
        out.append((f"transparent blob {side} r{rad}", im))
    for side, size in ((800, 10), (1200, 20), (2000, 30), (401, 3)):
        im = Image.new("L", (side, side), 255)
        x0 = side // 5
        ImageDraw.Draw(im).line([(x0, x0), (x0 + size, x0), (x0 + size // 3, x0 + size * 2)], fill=0, width=2)
        out.append((f"tiny digit {size} px on {side}", im))
    for w, h in ((5000, 1), (1, 5000), (3000, 7), (9, 2500), (2000, 40), (40, 2000), (201, 3)):
        a = np.full((h, w), 255, np.uint8)
        a[h // 3:h // 3 + max(1, h // 5), w // 4:3 * w // 4] = 0
        a[:, w // 2:w // 2 + max(1, w // 50)] = 0
        out.append((f"{w}x{h}", _gray(a)))
    for side in (5, 28, 100, 280, 750):
        out.append((f"noise L {side}", _gray(rng.integers(0, 256, (side, side)))))
        out.append((f"noise RGBA {side}", Image.fromarray(rng.integers(0, 256, (side, side, 4), dtype=np.uint8))))
        out.append((f"paper grain {side}", _gray(240 - rng.integers(0, 20, (side, side)))))
        out.append((f"sparse dots {side}", _gray(255 - (rng.random((side, side)) < 0.02) * 255)))
    return out


@needs_ext
def test_synthetic_edge_cases():
    cases = [(name, _decoded(img), ns) for name, img in _synthetic() for ns in (True, False)]
    _assert_same(cases)
    results = [pp.to_mnist(img) for _, img, _ in cases]
    assert any(r.empty for r in results) and not all(r.empty for r in results)


# ------------------------------------------------------------------ the two C functions


@needs_ext
@pytest.mark.parametrize("shape", [(1, 1), (7, 5), (280, 280), (1, 5000), (5000, 3), (403, 211)])
@pytest.mark.parametrize("k", [1, 2, 3, 7, 25])
@pytest.mark.parametrize("divisor", [1.0, 255.0])
def test_block_mean_matches_numpy(shape, k, divisor):
    x = np.random.default_rng(k).integers(0, 256, shape, dtype=np.uint8)
    x[: shape[0] // 2] = 0  # zero words are a fast path
    la = np.stack([x, 255 - x], axis=-1)  # (H, W, 2): la[..., 0] is a strided view, as for LA images
    want = engines.NUMPY.block_mean(x, k, divisor)
    c = engines.choose("c")
    for got in (c.block_mean(x, k, divisor), c.block_mean(la[..., 0], k, divisor)):
        assert got.dtype == np.float64 and got.shape == want.shape
        assert got.tobytes() == want.tobytes()


def _finish_both(ink: np.ndarray, noise: float, zoom: bool, normalize_stroke: bool):
    min_pixels = max(pp.MIN_INK_PIXELS, pp.MIN_INK_SHARE * ink.size)
    args = (ink, noise, min_pixels, zoom, normalize_stroke)
    try:
        want = fit28.finish(*args)
    except ValueError as e:
        want = e
    try:
        got = engines.choose("c").finish(*args)
    except ValueError as e:
        got = e
    return want, got


def _same_finish(want, got) -> bool:
    if isinstance(want, Exception) or isinstance(got, Exception):
        return type(want) is type(got) and str(want) == str(got)
    same_image = (want.image is None and got.image is None) or (
        want.image is not None and got.image is not None and want.image.tobytes() == got.image.tobytes())
    return want.kind == got.kind and want.box == got.box and same_image and want.stroke == got.stroke


@needs_ext
def test_finish_matches_numpy_on_random_ink_maps():
    """Random blobs, noise levels and sizes straight into steps 4-10 (every branch of them)."""
    rng = np.random.default_rng(7)
    kinds, bad = set(), []
    for i in range(300):
        h, w = int(rng.integers(1, 120)), int(rng.integers(1, 120))
        ink = np.zeros((h, w))
        for _ in range(int(rng.integers(1, 6))):  # soft rectangles and lines of ink
            y, x = rng.integers(0, h), rng.integers(0, w)
            ink[y:y + rng.integers(1, h + 1), x:x + rng.integers(1, w + 1)] += rng.uniform(5, 255)
        ink += rng.uniform(0, 30) * rng.random((h, w))  # grain
        ink = np.clip(ink, 0, 255)
        noise = float(rng.choice([0.0, rng.uniform(0, 8)]))
        zoom, norm = bool(rng.integers(2)), bool(rng.integers(2))
        want, got = _finish_both(ink, noise, zoom, norm)
        kinds.add(getattr(want, "kind", "error"))
        if not _same_finish(want, got):
            bad.append((i, h, w, noise, zoom, norm, want, got))
    assert not bad, bad[:3]
    assert {"empty", "zoom", "done"} <= kinds, kinds


@needs_ext
def test_finish_with_nan_and_inf_agrees_and_never_crashes():
    ink = np.zeros((60, 60))
    ink[10:50, 20:30] = 200.0
    ink[30, 25] = np.nan
    ink[12, 22] = np.inf
    for zoom in (False, True):
        want, got = _finish_both(ink, 0.0, zoom, True)
        assert _same_finish(want, got), (want, got)


@needs_ext
def test_c_functions_refuse_bad_arguments():
    out = np.empty((28, 28), np.uint8)
    ink = np.zeros((10, 10))
    with pytest.raises(TypeError):
        _fastpre.finish(ink.astype(np.float32), 0.0, 4.0, False, True, out)
    with pytest.raises(TypeError):
        _fastpre.finish(np.zeros(10), 0.0, 4.0, False, True, out)
    with pytest.raises((TypeError, ValueError, BufferError)):
        _fastpre.finish(np.zeros((10, 20))[:, ::2], 0.0, 4.0, False, True, out)  # not contiguous
    with pytest.raises(ValueError):
        _fastpre.finish(ink, 0.0, 4.0, False, True, np.empty((28, 27), np.uint8))
    with pytest.raises((TypeError, ValueError, BufferError)):
        _fastpre.finish(ink, 0.0, 4.0, False, True, out.copy().view(np.int8))
    with pytest.raises((TypeError, ValueError, BufferError)):
        ro = np.empty((28, 28), np.uint8)
        ro.flags.writeable = False
        _fastpre.finish(ink, 0.0, 4.0, False, True, ro)
    assert _fastpre.finish(np.zeros((0, 0)), 0.0, 4.0, True, True, out)[0] == 0  # empty
    assert _fastpre.finish(np.full((3, 3), 255.0), 0.0, 0.0, False, True, out)[0] in (0, 2, 3)
    with pytest.raises(ValueError):
        _fastpre.block_mean(np.zeros((4, 4), np.uint8), 0, np.empty((4, 4)), 1.0)
    with pytest.raises(ValueError):
        _fastpre.block_mean(np.zeros((4, 4), np.uint8), 2, np.empty((3, 2)), 1.0)
    with pytest.raises(TypeError):
        _fastpre.block_mean(np.zeros((4, 4), np.uint16), 2, np.empty((2, 2)), 1.0)


@needs_ext
def test_number_reader_steps_match_numpy(unipen_dir: Path, pendigits_path: Path):
    """The C stroke width and run labels of the number reader (steps 1b and 3) give the numpy
    reference's exact figures: on random masks and on the ink of composed numbers."""
    from digitpad import compose, runs, segment

    c = engines.choose("c")
    rng = np.random.default_rng(3)
    masks = [rng.random((int(rng.integers(1, 90)), int(rng.integers(1, 140)))) < rng.uniform(0.02, 0.8)
             for _ in range(200)]
    masks += [np.zeros((5, 7), bool), np.ones((3, 4), bool), np.zeros((0, 3), bool)]
    hands = compose.load_hands(unipen_dir, pendigits_path, split="test")
    for i, layout in enumerate(compose.LAYOUTS):
        s = compose.compose(hands[i % len(hands)], "40736925", layout, "pad", seed=i)
        masks.append(segment.ink_page(decode(s.image), c).mask)
    for m in masks:
        assert c.stroke_width(m) == fit28.stroke_width(m)
        row, start, end = runs.runs_of(m)
        a, b = runs.run_edges(row, start, end)
        got, k = c.label_runs(len(row), a, b)
        want, n = runs.label_runs(len(row), a, b)
        assert k == n and np.array_equal(got, want)
    with pytest.raises(ValueError):  # an edge to a run that is not there
        _fastpre.label_runs(np.array([0]), np.array([5]), np.empty(3, np.int64))
    with pytest.raises(TypeError):
        _fastpre.label_runs(np.array([0], np.int32), np.array([1], np.int32), np.empty(3, np.int64))
    with pytest.raises(TypeError):
        _fastpre.stroke_width(np.zeros((3, 3)))


@needs_ext
def test_candidate_ink_matches_numpy(unipen_dir: Path, pendigits_path: Path):
    """The C candidate ink (step 6 of reading a number) is the numpy reference's bit for bit
    (NaN and -0.0 included): on random pages, boxes and runs, strided views among them, and on
    every candidate the reader makes of composed numbers; bad arguments are refused."""
    from digitpad import compose, numbers, runs, segment

    c = engines.choose("c")
    rng = np.random.default_rng(5)
    cases = []
    for t in range(600):
        h, w = int(rng.integers(1, 60)), int(rng.integers(1, 80))
        mask = rng.random((h, w)) < rng.uniform(0, 0.7)
        ink = rng.normal(0, 100, (h, w))  # negative ink: 0 * it is -0.0
        ink[rng.random((h, w)) < 0.05] = np.nan
        if t % 3 == 0:  # views into larger arrays, every other column of the mask
            mask = np.repeat(mask, 2, axis=1)[:, ::2]
            ink = np.pad(ink, 2)[2:-2, 2:-2]
        y0, x0 = int(rng.integers(0, h)), int(rng.integers(0, w))
        y1, x1 = int(rng.integers(y0 + 1, h + 1)), int(rng.integers(x0 + 1, w + 1))
        k = int(rng.integers(0, 12))
        row, start = rng.integers(y0, y1, k), rng.integers(x0, x1, k)
        cases.append((mask, ink, (y0, y1, x0, x1), row, start, np.minimum(start + rng.integers(0, 6, k), x1)))
    hands = compose.load_hands(unipen_dir, pendigits_path, split="test")
    made = 0
    for i, layout in enumerate(compose.LAYOUTS):
        page = segment.ink_page(decode(compose.compose(hands[i % len(hands)], "40736925", layout, "pad", seed=i).image), c)
        pieces, line = segment.components_of(page.mask, c)
        for parts in [cand.parts for cand in numbers.candidates(page, pieces, line)]:
            made += 1
            y0, y1 = min(p.y0 for p in parts) - 1, max(p.y1 for p in parts) + 1
            x0, x1 = min(p.x0 for p in parts) - 1, max(p.x1 for p in parts) + 1
            box = (max(0, y0), min(page.mask.shape[0], y1), max(0, x0), min(page.mask.shape[1], x1))
            cases.append((page.mask, page.ink, box, *runs.joined(parts)))
    assert made > 20
    for mask, ink, box, row, start, end in cases:
        want = runs.candidate_ink(mask, ink, box, row, start, end)
        got = c.candidate_ink(mask, ink, box, row, start, end)
        assert got.shape == want.shape and got.tobytes() == want.tobytes()
    mask, ink, out = np.zeros((4, 5), bool), np.zeros((4, 5)), np.empty((2, 2))
    one = np.array([1], np.int64)
    with pytest.raises(ValueError):  # a run outside the box
        _fastpre.candidate_ink(mask, ink, 1, 3, 1, 3, one, np.array([2], np.int64), np.array([4], np.int64), out)
    with pytest.raises(ValueError):  # a box outside the page
        _fastpre.candidate_ink(mask, ink, 3, 5, 1, 3, one, one, one, out)
    with pytest.raises(TypeError):
        _fastpre.candidate_ink(mask, ink.astype(np.float32), 1, 3, 1, 3, one, one, one, out)


@needs_ext
def test_constants_match_the_python_module():
    assert _fastpre.CONSTANTS == {"INTER_SIDE": fit28.INTER_SIDE, "PAD": fit28.PAD,
                                  "STROKE_TARGET": fit28.STROKE_TARGET, "STROKE_MAX": fit28.STROKE_MAX,
                                  "MAX_THIN": fit28.MAX_THIN, "MIN_CONTRAST": fit28.MIN_CONTRAST,
                                  "ZOOM_SIDE": fit28.ZOOM_SIDE}


@needs_ext
def test_threads_get_the_same_answers():
    """The C part runs without the GIL; concurrent calls must not disturb each other."""
    imgs = [_decoded(img) for _, img in _synthetic() if img.size == (280, 280)]
    want = [_fields(pp.to_mnist(img)) for img in imgs]
    errors: list[str] = []

    def work():
        for _ in range(3):
            for img, w in zip(imgs, want):
                if _fields(pp.to_mnist(img)) != w:
                    errors.append("mismatch")

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_settings_choose_the_engine(monkeypatch):
    """DIGITPAD_PREPROCESS (a Settings field) picks the engine the server and the CLI pass on."""
    from digitpad.settings import Settings

    monkeypatch.setenv("DIGITPAD_PREPROCESS", "numpy")
    assert engines.choose(Settings().preprocess) is engines.NUMPY
    monkeypatch.delenv("DIGITPAD_PREPROCESS")
    assert engines.choose(Settings().preprocess).name == ("c" if _fastpre is not None else "numpy")
    with pytest.raises(Exception, match="preprocess"):
        Settings(preprocess="fortran")


def test_median_below_agrees_with_numpy():
    """Step 3's transparent-background test counts instead of sorting; it must decide exactly
    as np.median(v) < t, including even lengths whose two middle values straddle t."""
    rng = np.random.default_rng(0)
    cases = [np.zeros(8), np.ones(8), np.array([0.0, 1.0]), np.array([0.2, 0.9]), np.array([0.4, 0.59]),
             np.array([0.5]), np.array([0.49]), np.array([0.0, 0.5, 1.0, np.nan])]
    cases += [rng.choice([0.0, 0.3, 0.5, 0.7, 1.0], size=int(n)) for n in rng.integers(1, 12, 400)]
    cases += [rng.random(int(n)) for n in rng.integers(1, 50, 200)]
    for v in cases:
        with np.errstate(invalid="ignore"):
            want = bool(np.median(v) < 0.5)
        assert inkmap.median_below(v, 0.5) == want, v

"""The sequence model's JavaScript twin (``static/sequence.js``) against ``digitpad.sequence``, in
a real Chromium: the network's input (``view``) bit for bit, onnxruntime-web's frames against
ONNX Runtime's, and ``readSequence`` (columns, boxes, 28x28s, scores) against ``read_sequence``
given the same frames. Each is fed the Python page's own arrays, so a difference is the twin's,
not the ink map's (tests/test_ondevice_numbers.py holds the whole reader, step 10 included).

    DIGITPAD_UNIPEN=... DIGITPAD_PENDIGITS=... .venv/bin/python -m pytest tests/test_ondevice_sequence.py -q
"""

from __future__ import annotations

import base64
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from digitpad import compose, engines, segment
from digitpad.decode import decode
from digitpad.sequence import STRIDE, SequenceModel, best_path, read_sequence, view

pytestmark = pytest.mark.browser

FRAMES_TOLERANCE = 1e-5  # onnxruntime-web's wasm kernels against ONNX Runtime's CPU ones

# Runs in the page: Python pages' arrays (base64) -> segment.js-shaped pages. Prepended to the
# snippets below, inside their async function.
PAGES_OF = """
  const { loadParams } = await import('/numparams.js');
  await loadParams();
  const bytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const pageOf = (p) => ({ h: p.h, w: p.w, noise: p.noise, scale: p.scale, origin: p.origin,
    v: new Float64Array(bytes(p.v).buffer), ink: new Float64Array(bytes(p.ink).buffer), mask: bytes(p.mask) });
"""

VIEWS = """async (pages) => {""" + PAGES_OF + """
  const { view } = await import('/sequence.js');
  return pages.map((p) => {
    const v = view(pageOf(p));
    return v && { x: Array.from(v.x), w: v.w, y0: v.y0, x0: v.x0, pad: v.pad, scaleX: v.scaleX };
  });
}"""

FRAMES = """async (views) => {
  const { loadDevice } = await import('/ondevice.js');
  const { bestPath } = await import('/sequence.js');
  const device = await loadDevice();
  const out = [];
  for (const v of views) {
    const { p, T, C } = await device.sequence.frames({ x: Float32Array.from(v.x), w: v.w });
    out.push({ p: Array.from(p), T, C, text: bestPath(p, T, C, device.sequence.alphabet).map((e) => e.char).join('') });
  }
  return out;
}"""

READS = """async ([pages, frames]) => {""" + PAGES_OF + """
  const { bestPath, readSequence } = await import('/sequence.js');
  const out = [];
  for (let i = 0; i < pages.length; i++) {
    const f = frames[i], alphabet = f.alphabet || '0123456789';
    const model = { alphabet, read: async () => bestPath(Float32Array.from(f.p), f.T, f.C, alphabet) };
    const r = await readSequence(pageOf(pages[i]), { aside: 0 }, model);
    out.push(r && { text: r.text, confidence: r.confidence, characters: r.characters.map((c) => ({
      char: c.char, confidence: c.confidence, box: c.box, alternatives: c.alternatives,
      scores: Object.fromEntries(c.scores), image: Array.from(c.image) })) });
  }
  return out;
}"""


def _b64(a: np.ndarray, dtype: type) -> str:
    return base64.b64encode(np.ascontiguousarray(a, dtype=dtype).tobytes()).decode()


def _js_page(p: segment.Page) -> dict:
    h, w = p.mask.shape
    return {"h": h, "w": w, "noise": p.noise, "scale": p.scale, "origin": list(p.origin),
            "v": _b64(p.v, np.float64), "ink": _b64(p.ink, np.float64), "mask": _b64(p.mask, np.uint8)}


def _synthetic(h: int, w: int, seed: int) -> segment.Page:
    """Soft ink over an (h, w) box, its corners inked so the mask's box is all of it."""
    rng = np.random.default_rng(seed)
    v = np.clip(rng.random((h, w)) * 1.4 - 0.2, 0.0, 1.0)
    v[[0, 0, -1, -1], [0, -1, 0, -1]] = 1.0
    return segment.Page(v * 255.0, v, v >= 0.5, 2.0, 1.5, (10.0, 20.0), engines.default())


@pytest.fixture(scope="module")
def pages(unipen_dir: Path, pendigits_path: Path) -> list[tuple[str, segment.Page]]:
    hands = compose.load_hands(unipen_dir, pendigits_path, split="test")
    eng = engines.default()
    out = []
    for i, (text, layout) in enumerate([("1939204", "touching"), ("2026", "touching"), ("66278940", "tight"),
                                        ("5550123", "spaced"), ("8", "touching")]):
        s = compose.compose(hands[i], text, layout, "pad", seed=i)
        out.append((f"{layout} {text!r}", segment.ink_page(decode(s.image), eng)))
    # 52 rows pad to 64: the width 113 * 32 / 64 = 56.5 rounds to even (Python's round, not Math.round)
    out.append(("a half column", _synthetic(52, 101, 1)))
    out.append(("a line past MAX_WIDTH (squeezed)", _synthetic(20, 2000, 2)))
    out.append(("a narrow stroke (the 8-column floor)", _synthetic(40, 1, 3)))
    assert all(p is not None for _, p in out)
    return out


@pytest.fixture(scope="module")
def page(browser, live_server: str):
    context = browser.new_context(base_url=live_server)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    pg.goto("/")
    yield pg
    context.close()
    assert errors == [], errors


def test_view_is_the_python_view(page, pages) -> None:  # noqa: ANN001 (a Playwright Page)
    got = page.evaluate(VIEWS, [_js_page(p) for _, p in pages])
    for (label, p), js in zip(pages, got, strict=True):
        v = view(p)
        assert js is not None, label
        assert (js["w"], js["y0"], js["x0"], js["pad"], js["scaleX"]) == (v.x.shape[1], v.y0, v.x0, v.pad, v.scale_x), label
        x = np.array(js["x"], np.float64).reshape(v.x.shape)
        assert np.array_equal(x, v.x.astype(np.float64)), (label, np.abs(x - v.x).max())


def test_frames_are_onnx_runtimes(page, pages) -> None:  # noqa: ANN001
    model = SequenceModel()
    views = [view(p) for _, p in pages]
    got = page.evaluate(FRAMES, [{"x": v.x.ravel().tolist(), "w": v.x.shape[1]} for v in views])
    for (label, _), v, js in zip(pages, views, got, strict=True):
        want = model.frames(v)  # (T, classes)
        assert (js["T"], js["C"]) == want.shape, label
        diff = np.abs(np.array(js["p"]).reshape(want.shape) - want).max()
        assert diff < FRAMES_TOLERANCE, (label, diff)
        assert js["text"] == "".join(e.char for e in model.read(v)), label


class _Frames:
    """A sequence model that answers fixed frames (``read_sequence`` needs ``read`` and ``alphabet``)."""

    def __init__(self, p: np.ndarray, alphabet: str = "0123456789") -> None:
        self.p, self.alphabet = p, alphabet

    def read(self, v: object) -> list:
        return best_path(self.p, self.alphabet)


def _frames(T: int, seed: int, classes: list[int] | None = None, C: int = 11) -> np.ndarray:
    """(T, C) float32 probabilities: runs of 1-3 frames of a class (of ``classes``, in turn; by
    default a random digit) between 0-2 blank frames (the last class)."""
    rng = np.random.default_rng(seed)
    labels: list[int] = []
    while len(labels) < T:
        k = int(rng.integers(0, 10)) if classes is None else classes[len(labels) % len(classes)]
        labels += [C - 1] * int(rng.integers(0, 3)) + [k] * int(rng.integers(1, 4))
    logits = rng.normal(0, 1, (T, C)) + 5.0 * np.eye(C)[labels[:T]]
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return p.astype(np.float32)


def test_read_sequence_is_the_python_one(page, pages) -> None:  # noqa: ANN001
    """Given the same frames, the same characters: columns between the frames' midpoints, boxes
    of the ink there, the 28x28 of it, the best frame's scores and alternatives."""
    _same_reading(page, pages, [_frames(-(-view(p).x.shape[1] // STRIDE), seed) for seed, (_, p) in enumerate(pages)])


def test_read_sequence_obeys_the_grammar_as_the_python_one(page, pages) -> None:  # noqa: ANN001
    """A model that knows a number's symbols, its frames made to reach the grammar (a '/' first,
    a ')' that no '(' opens, '/' between digits): the same characters, the grammar's choices
    with their shares, the same alternatives."""
    alphabet = "0123456789/()%"
    frames = [_frames(-(-view(p).x.shape[1] // STRIDE), seed, [10, 1, 2, 12, 3, 10, 4], len(alphabet) + 1)
              for seed, (_, p) in enumerate(pages)]
    wants = _same_reading(page, pages, frames, alphabet)
    raw = ["".join(e.char for e in best_path(f, alphabet)) for f in frames]
    assert any(w is not None and w.text != r for w, r in zip(wants, raw)), "the grammar changed nothing"


def _same_reading(page, pages, frames: list[np.ndarray], alphabet: str = "0123456789") -> list:  # noqa: ANN001
    """``read_sequence`` of each page, given its ``frames``, in Python and in sequence.js: the same."""
    got = page.evaluate(READS, [[_js_page(p) for _, p in pages],
                                [{"p": f.ravel().tolist(), "T": f.shape[0], "C": f.shape[1], "alphabet": alphabet}
                                 for f in frames]])
    read, wants = 0, []
    for (label, p), f, js in zip(pages, frames, got, strict=True):
        want = read_sequence(p, SimpleNamespace(aside=0), _Frames(f, alphabet))  # (only the line's aside is read)
        wants.append(want)
        if want is None:
            assert js is None, (label, js["text"])
            continue
        read += 1
        assert js is not None and js["text"] == want.text, (label, want.text)
        assert js["confidence"] == want.confidence, label
        for a, b in zip(js["characters"], want.characters, strict=True):
            assert (a["char"], a["confidence"], tuple(a["box"])) == (b.char, b.confidence, b.box), label
            assert [tuple(x) for x in a["alternatives"]] == b.alternatives and a["scores"] == b.scores, label
            assert np.array_equal(np.array(a["image"], np.uint8).reshape(28, 28), b.image), (label, b.char)
    assert read >= len(pages) // 2, f"only {read} of {len(pages)} pages read: the comparison says little"
    return wants

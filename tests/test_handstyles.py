"""Hand styles, doodles and made-up symbols: deterministic, they change the drawing the way
they claim, and what they draw is never empty once preprocessed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from digitpad import doodles, handstyles, handwriting, pendigits, synthsymbols
from digitpad.preprocess import preprocess_bytes

CANVAS = pendigits.STYLES["canvas-280"]


@pytest.fixture(scope="module")
def digits(pendigits_path: Path, unipen_dir: Path) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for r in (handwriting.load_source("pendigits", pendigits_path=pendigits_path)[:1000]
              + handwriting.load_source("unipen-digits", unipen_dir=unipen_dir)[::5]):
        out.setdefault(r["label"], []).append(r)
    return out


def centre_ink(record: dict, first: int | None = None) -> float:
    """Ink coverage in the middle third of the bounding box of the record's ``first`` strokes
    (default: all of them), with every stroke drawn."""
    a = pendigits.coverage(record, CANVAS)
    pts = np.concatenate([np.asarray(s) for s in record["strokes"][:first]])
    (x0, y0), (x1, y1) = pts.min(0), pts.max(0)
    cx, cy, w, h = (x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0
    return float(a[int(cy - h / 6): int(cy + h / 6), int(cx - w / 6): int(cx + w / 6)].mean())


def test_styles_are_deterministic_and_tagged(digits):
    r = digits["0"][0]
    a, b = handstyles.apply("slashed-zero", r, seed=3), handstyles.apply("slashed-zero", r, seed=3)
    assert a == b and a["style"] == "slashed-zero" and a["parent"] == r["id"] and a["id"] != r["id"]
    assert handstyles.apply("slashed-zero", r, seed=4) != a
    assert handstyles.variant(r, seed=0) == handstyles.variant(r, seed=0)
    assert handstyles.variant(digits["3"][0]) is None  # no style for a 3
    with pytest.raises(ValueError):
        handstyles.apply("curly-three", r)


def test_slashed_zero_puts_ink_through_the_middle(digits):
    zeros = [r for r in digits["0"][:30] if centre_ink(r) < 0.05]  # open in the middle
    assert len(zeros) >= 15
    for r in zeros:
        new = handstyles.apply("slashed-zero", r)
        assert len(new["strokes"]) == len(r["strokes"]) + 1
        assert centre_ink(new, first=len(r["strokes"])) > 0.1, r["id"]  # the oval's middle


def test_zeros_are_slashed_both_ways_and_drawn_both_ways_round(digits):
    """Most slashes rise to the right ('/'), some fall ('\\'); a mirrored zero is the same
    drawing flipped left-right in place (a clockwise zero), nothing else changed."""
    leans = []
    for r in digits["0"][:40]:
        for seed in range(5):
            slash = np.asarray(handstyles.apply("slashed-zero", r, seed=seed)["strokes"][-1])
            top, bottom = sorted((slash[0], slash[-1]), key=lambda p: p[1])
            leans.append(bottom[0] > top[0])  # falls to the right, like a backslash
    assert 0.1 < np.mean(leans) < 0.45, np.mean(leans)
    for r in digits["0"][:20]:
        new = handstyles.apply("mirrored-zero", r)
        old, pts = (np.concatenate([np.asarray(s) for s in x["strokes"]]) for x in (r, new))
        lo, hi = old.min(0), old.max(0)
        np.testing.assert_allclose(pts[:, 0], lo[0] + hi[0] - old[:, 0], atol=0.02)
        np.testing.assert_allclose(pts[:, 1], old[:, 1], atol=0.02)
    assert "mirrored-zero" in handstyles.VARIANTS["0"]


def test_added_strokes_are_what_the_detector_sees(digits):
    """The augmenter and the detector of real styles agree (two independent geometries)."""
    for style, digit, want in [("slashed-zero", "0", 0.9), ("barred-seven", "7", 0.9),
                               ("open-four", "4", 0.9), ("closed-four", "4", 0.9)]:
        made = [v for r in digits[digit][:150] if (v := handstyles.apply(style, r)) is not None]
        assert len(made) >= 10, style
        agree = np.mean([handstyles.detect_style(v) == style for v in made])
        assert agree >= want, (style, agree)


def test_one_gets_a_flag_and_a_foot(digits):
    plain = [r for r in digits["1"] if handstyles.apply("one-flag", r) is not None][:20]
    assert len(plain) >= 10
    for r in plain:
        pts = np.concatenate([np.asarray(s) for s in r["strokes"]])
        new = handstyles.apply("one-flag-foot", r)
        if new is None:  # a stem that curls at its foot takes no bar
            continue
        npts = np.concatenate([np.asarray(s) for s in new["strokes"]])
        # wider than before relative to its height: a flag and a bar stick out sideways
        assert np.ptp(npts[:, 0]) / np.ptp(npts[:, 1]) > np.ptp(pts[:, 0]) / np.ptp(pts[:, 1]) + 0.2
        assert handstyles.detect_style(handstyles.apply("one-flag", r)) == "one-flag"


def test_jitter_keeps_strokes_and_size(digits):
    r = digits["5"][0]
    new = handstyles.apply("jitter", r)
    assert [len(s) for s in new["strokes"]] == [len(s) for s in r["strokes"]]
    old, pts = (np.concatenate([np.asarray(s) for s in x["strokes"]]) for x in (r, new))
    assert not np.allclose(old, pts)
    assert np.ptp(old, axis=0).max() == pytest.approx(np.ptp(pts, axis=0).max(), abs=0.05)


@pytest.mark.parametrize("kind", sorted(doodles.KINDS))
def test_doodles_are_drawn_and_deterministic(kind):
    a = doodles.doodle(kind, seed=5, index=2)
    assert a == doodles.doodle(kind, seed=5, index=2) and a != doodles.doodle(kind, seed=6, index=2)
    pts = np.concatenate([np.asarray(s) for s in a["strokes"]])
    side = np.ptp(pts, axis=0).max()
    assert 140 <= side <= 240 and (pts.min(0) > 0).all() and (pts.max(0) < 280).all(), (kind, side)
    gaps = np.concatenate([np.linalg.norm(np.diff(np.asarray(s), axis=0), axis=1) for s in a["strokes"]])
    assert gaps.max() < 20, "resampled like a pen"
    pre = preprocess_bytes(pendigits.render(a, CANVAS))
    assert not pre.empty and pre.image.max() == 255


def test_doodles_take_every_kind_in_turn():
    recs = doodles.doodles(len(doodles.KINDS) * 2, seed=1)
    assert sorted(r["style"] for r in recs) == sorted(list(doodles.KINDS) * 2)
    assert len({r["id"] for r in recs}) == len(recs)


def test_made_up_symbols(digits):
    s_rec = {"id": "s", "label": "S", "writer": "x:y", "strokes": [[[60, 0], [0, 30], [60, 70], [0, 100]]]}
    d = synthsymbols.dollar_record(s_rec, seed=0, index=1)
    assert d["label"] == "$" and len(d["strokes"]) in (2, 3) and d["writer"] == "x:y"
    assert d == synthsymbols.dollar_record(s_rec, seed=0, index=1)
    o1, o2 = digits["0"][0], digits["0"][1]
    p = synthsymbols.percent_record(o1, o2, seed=0, index=1)
    assert p["label"] == "%" and len(p["strokes"]) == len(o1["strokes"]) + len(o2["strokes"]) + 1
    for label in synthsymbols.SIMPLE:
        rec = synthsymbols.simple_record(label, seed=0, index=3)
        assert rec["label"] == label and rec == synthsymbols.simple_record(label, seed=0, index=3)
        assert not preprocess_bytes(pendigits.render(rec, CANVAS)).empty, label

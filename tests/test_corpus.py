"""The corpus builder in a tiny configuration: the right shapes and labels, the server's own
28x28 images, writers kept to their split, and a cache that gives back the same arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from digitpad import charset, corpus, handwriting, pendigits
from digitpad.preprocess import preprocess_bytes

TINY = {"limit": 6, "doodles": 8, "synth_dollar": 3, "synth_percent": 3, "synth_simple": 1}


@pytest.fixture(scope="module")
def data(pendigits_path: Path, unipen_dir: Path) -> dict:
    return {"pendigits_path": pendigits_path, "unipen_dir": unipen_dir}


@pytest.fixture(scope="module")
def train(data) -> corpus.Corpus:
    return corpus.build(corpus.CorpusSpec("train", styles=("canvas-280", "small-center-400"), **TINY), **data)


@pytest.fixture(scope="module")
def test_split(data) -> corpus.Corpus:
    return corpus.build(corpus.CorpusSpec("test", **TINY), **data)


def test_shapes_and_columns(train):
    n = len(train)
    assert n > 50 and train.images.shape == (n, 28, 28) and train.images.dtype == np.uint8
    assert train.labels.shape == (n,) and train.augmented.shape == (n,)
    for name in corpus.COLUMNS:
        assert getattr(train, name).shape == (n,), name
    assert set(train.canvas_style) == {"canvas-280", "small-center-400"}
    assert (train.images.reshape(n, -1).max(axis=1) == 255).all(), "no empty image"


def test_small_symbols_keep_their_size_against_the_pen():
    dot = {"label": ".", "canvas": 280, "strokes": [[[140, 140], [146, 143]]]}
    digit = {"label": "7", "canvas": 280, "strokes": [[[40, 40], [240, 240]]]}
    assert corpus.style_for(digit, "small-center-400") == pendigits.STYLES["small-center-400"]
    small = corpus.style_for(dot, "thick-brush-200")
    assert small.fit == pytest.approx(0.85 * 6 / corpus.DIGIT_SIDE)
    assert corpus.style_for(dot, "canvas-280") == pendigits.STYLES["canvas-280"]


def test_labels_follow_the_charset(train):
    assert train.labels.min() >= 0, "training never holds report-only samples"
    for char, label in zip(train.char, train.labels, strict=True):
        assert label == charset.training_class(str(char)), char
    got = set(train.category)
    assert {"digit", "number-symbol", "letter", "doodle"} <= got
    assert "digit-like" not in got and "near-number" not in got
    assert train.augmented.any() and (train.hand_style[train.augmented] != "natural").all()
    assert {"slashed-zero", "barred-seven"} & set(train.hand_style), set(train.hand_style)
    assert set(train.source[train.category == "number-symbol"]) == {"unipen-symbols", "synth-symbols"}
    synth = set(train.char[train.source == "synth-symbols"])
    assert synth and synth <= set(charset.NUMBER_SYMBOLS), synth


def test_images_are_what_the_server_sees(train, data):
    i = int(np.nonzero((train.source == "pendigits") & (train.canvas_style == "small-center-400"))[0][0])
    rec = next(r for r in handwriting.load_source("pendigits", pendigits_path=data["pendigits_path"])
               if r["id"] == train.id[i])
    want = preprocess_bytes(pendigits.render(rec, pendigits.STYLES["small-center-400"])).image
    assert np.array_equal(train.images[i], want)


def test_writers_stay_in_their_split(train, test_split, data):
    splits = handwriting.writer_splits(**data)
    for c, split in ((train, "train"), (test_split, "test")):
        real = ~np.isin(c.source, ["doodles"]) & (c.lab != "synth")
        assert {splits[w] for w in c.writer[real]} == {split}
    assert not set(train.writer) & set(test_split.writer)


def test_test_split_reports_lookalikes_apart(test_split):
    cats = set(test_split.category)
    assert "digit-like" in cats
    assert (test_split.labels[np.isin(test_split.category, ["digit-like", "near-number"])] == -1).all()
    assert not test_split.augmented.any() and set(test_split.canvas_style) == {"canvas-280"}
    assert len(test_split.trainable()) == int((test_split.labels >= 0).sum())


def test_cache_round_trip(data, tmp_path):
    spec = corpus.CorpusSpec("val", limit=2, doodles=2, synth_dollar=1, synth_percent=1)
    a = corpus.build(spec, cache_dir=tmp_path, **data)
    files = list(tmp_path.glob("val-*.npz"))
    assert len(files) == 1
    b = corpus.build(spec, cache_dir=tmp_path, **data)
    assert np.array_equal(a.images, b.images) and np.array_equal(a.labels, b.labels)
    assert all(np.array_equal(a.columns[k], b.columns[k]) for k in corpus.COLUMNS)
    assert b.spec["split"] == "val" and b.spec["version"] == corpus.CORPUS_VERSION
    other = corpus.cache_key(corpus.CorpusSpec("val", limit=3), **data)
    assert other != corpus.cache_key(spec, **data)
    with pytest.raises(ValueError):
        corpus.CorpusSpec("val", styles=("no-such-style",)).resolved()

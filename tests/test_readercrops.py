"""The reader's own candidates as training images (digitpad.readercrops): labelled against the ink."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from digitpad import charset, compose, handwriting, readercrops


def test_owner_gives_purity_and_cover():
    total = np.array([100, 50, 10])  # each character's ink on the page
    own = np.array([0] * 40 + [1] * 10 + [-1] * 30)  # a candidate: 40 pixels of 0, 10 of 1, 30 unowned
    k, purity, cover = readercrops.owner(own, total)
    assert (k, purity, cover) == (0, pytest.approx(0.8), pytest.approx(0.4))
    assert readercrops.owner(np.full(5, -1), total) == (-1, 0.0, 0.0)


@pytest.fixture(scope="module")
def hands(pendigits_path: Path, unipen_dir: Path) -> list[compose.Hand]:
    return compose.load_hands(unipen_dir, pendigits_path, split="train")


def test_a_spaced_number_gives_each_character_whole(hands):
    hand = hands[0]
    s = compose.compose(hand, "4071", "spaced", "pad", seed=3)
    images, labels = readercrops.crops_of(s)
    assert all(im.shape == (28, 28) and im.dtype == np.uint8 for im in images)
    assert {4, 0, 7, 1} <= set(labels)  # every character, whole, with its class
    assert set(labels) <= {4, 0, 7, 1, charset.OTHER}  # nothing else: no class from outside the string


def test_touching_digits_give_halves_and_merges_as_other(hands):
    labels = []
    for seed, hand in enumerate(hands[:4]):
        labels += readercrops.crops_of(compose.compose(hand, "38862", "touching", "pad", seed=seed))[1]
    counts = np.bincount(labels, minlength=charset.NUM_CLASSES)
    assert counts[charset.OTHER] > 0 and counts[[3, 8, 6, 2]].all()
    assert counts.sum() == counts[[2, 3, 6, 8, charset.OTHER]].sum()


def test_crops_are_of_one_split_cached_and_deterministic(tmp_path: Path, pendigits_path: Path, unipen_dir: Path):
    kw = {"pendigits_path": pendigits_path, "unipen_dir": unipen_dir, "cache_dir": tmp_path}
    a = readercrops.load_reader_crops("train", 5, jobs=2, **kw)
    assert len(list(tmp_path.glob("reader-train-*.npz"))) == 1
    b = readercrops.load_reader_crops("train", 5, **kw)  # from the cache
    fresh = readercrops.load_reader_crops("train", 5, pendigits_path=pendigits_path, unipen_dir=unipen_dir,
                                          cache_dir=None)  # one process, no cache: the same arrays
    for other in (b, fresh):
        assert np.array_equal(a.images, other.images) and np.array_equal(a.labels, other.labels)
    assert a.summary() == {"numbers": 5, "images": len(a.labels), "other": int((a.labels == charset.OTHER).sum())}
    # Leaving a lab out is another set (leave-one-lab-out): none of its writers' numbers.
    splits = handwriting.writer_splits(pendigits_path=pendigits_path, unipen_dir=unipen_dir)
    labs = sorted({w.split(":")[0] for w, s in splits.items() if ":" in w and s == "train"})
    hands = [h for h in compose.load_hands(unipen_dir, pendigits_path, split="train", styles=True)
             if h.writer.split(":")[0] != labs[0]]
    without = readercrops.load_reader_crops("train", 5, exclude_labs=(labs[0],), **kw)
    assert len(list(tmp_path.glob("reader-train-*.npz"))) == 2
    assert np.array_equal(without.labels, readercrops.reader_crops(hands, 5).labels)

"""What a training run learns from and is validated on, and how each epoch mixes it (numpy, no torch).

    hw = load_handwriting(pendigits_path=..., unipen_dir=..., cache_dir=corpus.default_cache_dir())
    sets = training_sets(mnist_train, mnist_val, hw)         # images, labels, groups; val sets
    counts = epoch_counts(sets.groups, cfg)                   # images per group in one epoch

The handwriting is ``digitpad.corpus``: the writers of the one split (``handwriting.writer_splits``)
drawn on the page's canvas and preprocessed as the server does. Training reads the corpus's
*train* writers; validation (checkpoint, temperature, thresholds: every choice) reads MNIST's
validation split and the corpus's *val* writers. Test writers are never read here.

Each epoch is drawn from four groups in fixed shares (``TrainConfig.handwriting_share``,
``negative_share`` and ``reader_share``; MNIST gets the rest): MNIST digits, handwriting (pen
digits with their hand-style variants, and the number symbols), negatives (class ``other``:
letters, symbols, doodles), and the number reader's own candidates of composed numbers of the
train writers (``digitpad.readercrops``: whole characters with their class, halves and merges as
``other``). A group smaller than its share is repeated, a larger one sub-sampled afresh each epoch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import charset, corpus, handwriting, scorecard, thresholds
from .readercrops import ReaderCrops, load_reader_crops

MNIST, HANDWRITING, NEGATIVES, READER = 0, 1, 2, 3
GROUPS = ("mnist", "handwriting", "negatives", "reader")
CREDITS = {
    "mnist": "MNIST (LeCun, Cortes, Burges)",
    "pendigits": "pendigits (UCI Pen-Based Recognition of Handwritten Digits, Alpaydin & Alimoglu 1998; CC BY 4.0)",
    "unipen": "UNIPEN consortium, Guyon et al. 1994 (train_r01_v07; CC BY 4.0)",
}


@dataclass
class Handwriting:
    """The corpus's train and val splits, and what the model's metadata says about them."""

    train: corpus.Corpus  # trainable images only (labels >= 0)
    val: corpus.Corpus  # every val image (digit-like letters etc. have label -1: reports only)
    info: dict = field(default_factory=dict)
    reader: ReaderCrops | None = None  # the reader's candidates of the train writers' composed numbers


@dataclass
class TrainingSets:
    """Everything a run reads, as (N, 28, 28) uint8 images and (N,) class indices."""

    images: np.ndarray
    labels: np.ndarray
    groups: np.ndarray  # (N,) MNIST / HANDWRITING / NEGATIVES / READER
    val: tuple[np.ndarray, np.ndarray]  # the pooled validation set that chooses the checkpoint
    val_sets: dict[str, tuple[np.ndarray, np.ndarray]]  # its parts, logged each epoch


def load_handwriting(*, pendigits_path: str | Path, unipen_dir: str | Path, cache_dir: str | Path | None,
                limit: int | None = None, exclude_labs: tuple[str, ...] = (), reader_numbers: int = 0,
                jobs: int = 1) -> Handwriting:
    """The corpus's train (trainable) and val splits; ``limit`` records per source (cheap mode);
    ``exclude_labs``: leave every writer of these UNIPEN labs out of both (leave-one-lab-out);
    ``reader_numbers``: the reader's candidates of that many composed numbers of the train writers."""
    def build(split: str) -> corpus.Corpus:
        return corpus.build(corpus.CorpusSpec(split, limit=limit), pendigits_path=pendigits_path,
                            unipen_dir=unipen_dir, cache_dir=cache_dir, jobs=jobs)

    train, val = build("train").trainable(), build("val")
    if exclude_labs:
        train, val = train.subset(~np.isin(train.lab, exclude_labs)), val.subset(~np.isin(val.lab, exclude_labs))
    reader = load_reader_crops("train", reader_numbers, pendigits_path=pendigits_path, unipen_dir=unipen_dir,
                               cache_dir=cache_dir, exclude_labs=exclude_labs, jobs=jobs) if reader_numbers else None
    info = describe(train, val, pendigits_path=pendigits_path, unipen_dir=unipen_dir, limit=limit,
                    exclude_labs=exclude_labs)
    if reader is not None:
        info["reader_crops"] = reader.summary()
    return Handwriting(train, val, info, reader)


def describe(train: corpus.Corpus, val: corpus.Corpus, *, pendigits_path: str | Path, unipen_dir: str | Path,
             limit: int | None, exclude_labs: tuple[str, ...] = ()) -> dict:
    """The metadata entry: sources and credits, the writer split of every source, the corpus."""
    splits = handwriting.writer_splits(pendigits_path=pendigits_path, unipen_dir=unipen_dir)
    by_source: dict[str, dict[str, list[str]]] = {"pendigits": {}, "unipen": {}}
    for writer, split in sorted(splits.items()):
        source = "unipen" if ":" in writer else "pendigits"
        by_source[source].setdefault(split, []).append(writer)
    trained = {str(w) for w in set(train.writer)}
    return {
        "sources": {"pendigits": {"file": Path(pendigits_path).name, "credit": CREDITS["pendigits"]},
                    "unipen": {"files": sorted(handwriting.UNIPEN_FILES.values()), "credit": CREDITS["unipen"]}},
        "writer_split": {src: {s: ws for s, ws in sorted(d.items())} for src, d in by_source.items()},
        "writers_trained_on": {src: sum(w in trained for w in ws.get("train", [])) for src, ws in by_source.items()},
        "train": {"images": len(train), "by_category": _counts(train.category), "styles": train.spec.get("styles"),
                  "hand_style_variants": int(train.augmented.sum()), "labs": sorted({str(x) for x in set(train.lab)})},
        "val": {"images": len(val), "by_category": _counts(val.category)},
        "corpus_version": train.spec.get("version"),
        "limit": limit,
        **({"excluded_labs": list(exclude_labs)} if exclude_labs else {}),
    }


def trained_on(meta_data: dict) -> str:
    """One line: which handwriting a model was trained on (its metadata's ``data``)."""
    mnist = f"MNIST ({meta_data.get('mnist_train_images', meta_data.get('train_images', 0)):,} training images)"
    hw = meta_data.get("handwriting")
    if not hw:
        return mnist
    w = hw["writers_trained_on"]
    cats = hw["train"]["by_category"]
    labs = [x for x in hw["train"]["labs"] if x not in ("pendigits", "doodles", "synth")]
    return (f"{mnist} + pen-drawn handwriting: pendigits ({w['pendigits']} writers) and UNIPEN "
            f"({w['unipen']} writers of {len(labs)} labs; UNIPEN consortium, Guyon et al. 1994), "
            f"{cats.get('digit', 0):,} digit, {cats.get('number-symbol', 0):,} number-symbol, "
            f"{cats.get('letter', 0) + cats.get('symbol', 0):,} letter/symbol and {cats.get('doodle', 0):,} doodle images")


def training_sets(mnist_train: tuple[np.ndarray, np.ndarray], mnist_val: tuple[np.ndarray, np.ndarray],
                  hw: Handwriting | None) -> TrainingSets:
    """MNIST's train split + the corpus's train writers; MNIST's val split + the corpus's val writers."""
    x, y = mnist_train
    val_sets = {"mnist": mnist_val}
    if hw is None:
        return TrainingSets(x, y.astype(np.int64), np.full(len(y), MNIST, np.int8), mnist_val, val_sets)
    t = hw.train
    images, labels = [x, t.images], [y.astype(np.int64), t.labels.astype(np.int64)]
    groups = [np.full(len(y), MNIST, np.int8), np.where(t.labels == charset.OTHER, NEGATIVES, HANDWRITING).astype(np.int8)]
    if hw.reader is not None:
        images.append(hw.reader.images)
        labels.append(hw.reader.labels)
        groups.append(np.full(len(hw.reader.labels), READER, np.int8))
    v = hw.val.trainable()
    pen = v.category == "digit"
    val_sets.update({"pen": (v.images[pen], v.labels[pen].astype(np.int64)),
                     "other": (v.images[~pen], v.labels[~pen].astype(np.int64))})
    pooled = (np.concatenate([mnist_val[0], v.images]), np.concatenate([mnist_val[1].astype(np.int64), v.labels]))
    return TrainingSets(np.concatenate(images), np.concatenate(labels), np.concatenate(groups), pooled, val_sets)


def epoch_counts(groups: np.ndarray, *, handwriting_share: float, negative_share: float, reader_share: float = 0.0,
                 epoch_images: int | None = None) -> list[int]:
    """Images per group (GROUPS: MNIST, HANDWRITING, NEGATIVES, READER) in one epoch. Without
    handwriting the epoch is MNIST alone. A group with no images gets none (its share goes to MNIST)."""
    sizes = np.bincount(groups, minlength=len(GROUPS))
    total = int(epoch_images or sizes[MNIST] + sizes[HANDWRITING] + sizes[NEGATIVES])
    shares = (handwriting_share, negative_share, reader_share)
    if not (min(shares) >= 0 and sum(shares) <= 1):
        raise ValueError("handwriting_share + negative_share + reader_share must be within 0..1")
    rest = [round(total * share) if sizes[g] else 0 for g, share in zip((HANDWRITING, NEGATIVES, READER), shares,
                                                                          strict=True)]
    return [total - sum(rest), *rest]


def _counts(values: np.ndarray) -> dict[str, int]:
    keys, n = np.unique(values, return_counts=True)
    return {str(k): int(c) for k, c in zip(keys, n, strict=True)}


def heldout_corpus(*, pendigits_path: str | Path, unipen_dir: str | Path, cache_dir: str | Path | None,
                   limit: int | None = None, jobs: int = 1) -> corpus.Corpus:
    """The corpus's test writers (every category), read once at the end of a run: reported, never chosen on."""
    return corpus.build(corpus.CorpusSpec("test", limit=limit), pendigits_path=pendigits_path,
                        unipen_dir=unipen_dir, cache_dir=cache_dir, jobs=jobs)


def heldout_figures(test: corpus.Corpus):
    """A Predictor -> the headline ``scorecard`` figures of ``test``, read with the thresholds
    stored in the model (``publish(heldout=...)`` measures each exported file with it)."""
    def measure(reader) -> dict:
        probs = np.concatenate([reader.predict_batch(test.images[i: i + 1000]) for i in range(0, len(test), 1000)])
        card = scorecard.scorecard(test, probs, reader.metadata.get("thresholds") or thresholds.DEFAULT)
        return {"writers": "test", **scorecard.summary(card)}

    return measure

"""The one handwriting corpus for the 21-class model: every source, split by writer, drawn on
canvases and preprocessed exactly as the server sees it (``preprocess_bytes(render(...))``).

    spec = CorpusSpec("train")                                   # or "val", "test"
    c = build(spec, pendigits_path=..., unipen_dir=..., cache_dir=default_cache_dir(), jobs=2)
    c.images        # (N, 28, 28) uint8, white ink on black
    c.labels        # (N,) int16 class index (charset.CLASSES); -1: report only, never train
    c.char, c.category, c.source, c.writer, c.lab, c.canvas_style, c.hand_style, c.augmented

What goes in (writers of ``spec.split`` only, per ``handwriting.writer_splits``):

    category        sources                          class
    digit           pendigits, unipen-digits         0-9
    number-symbol   unipen-symbols - . , / : ( ) + $ %, synth-symbols        10-19
                    (synthsymbols: $ % composed from real S and o, the rest drawn)
    letter          unipen-upper, unipen-lower       other (20), minus the digit-like letters
    symbol          unipen-symbols outside the number alphabet                  other
    doodle          doodles (seeded per split)       other
    digit-like      O o l I | S s Z z B b g q G      -1 (val/test only, reported apart)
    near-number     _ ~ ' `                          -1 (val/test only, reported apart)

Augmentation (``spec.hand_styles``, ``spec.symbol_jitter``): each 0/1/4/7 drawing also once in a
hand style (``handstyles.variant``), each number symbol ``symbol_jitter`` more times with
``handstyles.jitter``; ``augmented`` marks them, ``hand_style`` names the style (for real
drawings: ``handstyles.detect_style``; for doodles: the kind). In val/test, variants are for
reporting per style: filter on ``augmented``, or build with ``variants_only``. Every record is drawn in each canvas style of
``spec.styles`` (``pendigits.STYLES`` names; ``canvas_style`` says which), keeping its size
relative to the pen (``style_for``); renderings the server reads as empty are left out.

Rendering costs ~5-15 ms an image, so ``build`` runs a process pool (``jobs``) and caches the
arrays as ``<cache_dir>/<split>-<key>.npz``, the key hashing the spec, CORPUS_VERSION and the
data files' bytes. ``bench/build_corpus.py`` builds and summarises.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import charset, doodles, handstyles, handwriting, pendigits, synthsymbols
from .preprocess import preprocess_bytes

log = logging.getLogger(__name__)

CORPUS_VERSION = 3  # bump when what a spec produces changes: old caches are then ignored
DIGIT_SIDE = 200.0  # a digit's longest side on the 280 canvas (pendigits and UNIPEN: median 200)
COLUMNS = ("char", "category", "source", "writer", "lab", "canvas_style", "hand_style", "id")
DOODLE_SEEDS = {"train": 1000, "val": 2000, "test": 3000}
DEFAULT_COUNTS = {  # split -> how many made-up records (synth_simple: of each of - . , / : ( ) +)
    "train": {"doodles": 3000, "synth_dollar": 300, "synth_percent": 300, "synth_simple": 150},
    "val": {"doodles": 400, "synth_dollar": 60, "synth_percent": 60, "synth_simple": 0},
    "test": {"doodles": 800, "synth_dollar": 100, "synth_percent": 100, "synth_simple": 0},
}


@dataclass(frozen=True)
class CorpusSpec:
    """What to build; every field is part of the cache key."""

    split: str  # "train" | "val" | "test"
    styles: tuple[str, ...] | None = None  # canvas styles; None: TRAIN_STYLES (train) / canvas-280
    hand_styles: bool | None = None  # add a hand-style variant of each 0/1/4/7; None: train only
    symbol_jitter: int | None = None  # extra jittered copies of each number symbol; None: 2 / 0
    doodles: int | None = None  # None: DEFAULT_COUNTS
    synth_dollar: int | None = None
    synth_percent: int | None = None
    synth_simple: int | None = None  # drawn - . , / : ( ) +, this many of each
    limit: int | None = None  # cheap mode: at most this many records per source
    variants_only: bool = False  # only the hand-style variants of the digits (per-style reports)
    seed: int = 0  # writer split, doodles, styles

    def resolved(self) -> CorpusSpec:
        """The spec with every None filled in from the split's defaults."""
        if self.split not in handwriting.SPLITS:
            raise ValueError(f"split must be one of {handwriting.SPLITS}, got {self.split!r}")
        train = self.split == "train"
        counts = DEFAULT_COUNTS[self.split]
        styles = self.styles or (pendigits.TRAIN_STYLES if train else ("canvas-280",))
        unknown = [n for n in styles if n not in pendigits.STYLES]
        if unknown:
            raise ValueError(f"unknown canvas style(s) {unknown}; known: {', '.join(pendigits.STYLES)}")
        pick = lambda v, default: default if v is None else v  # noqa: E731
        return dataclasses.replace(
            self, styles=tuple(styles), hand_styles=pick(self.hand_styles, train),
            symbol_jitter=pick(self.symbol_jitter, 2 if train else 0),
            **{k: pick(getattr(self, k), v) for k, v in counts.items()})


@dataclass
class Corpus:
    """Images and their per-image facts, aligned on the first axis."""

    images: np.ndarray  # (N, 28, 28) uint8
    labels: np.ndarray  # (N,) int16
    augmented: np.ndarray  # (N,) bool
    columns: dict[str, np.ndarray] = field(default_factory=dict)  # COLUMNS -> (N,) str
    spec: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.labels)

    def __getattr__(self, name: str) -> np.ndarray:
        if name in COLUMNS and "columns" in self.__dict__:
            return self.__dict__["columns"][name]
        raise AttributeError(name)

    def subset(self, mask: np.ndarray) -> Corpus:
        return Corpus(self.images[mask], self.labels[mask], self.augmented[mask],
                      {k: v[mask] for k, v in self.columns.items()}, self.spec)

    def trainable(self) -> Corpus:
        """The images a model may learn from (labels >= 0)."""
        return self.subset(self.labels >= 0)

    def save(self, path: Path) -> None:
        tmp = path.with_name(path.name + ".part.npz")
        np.savez_compressed(tmp, images=self.images, labels=self.labels, augmented=self.augmented,
                            spec=np.array(json.dumps(self.spec)), **self.columns)
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> Corpus:
        with np.load(path) as z:
            return cls(z["images"], z["labels"], z["augmented"], {k: z[k] for k in COLUMNS},
                       json.loads(str(z["spec"])))

    def summary(self) -> dict[str, dict[str, int]]:
        """category -> source -> images."""
        out: dict[str, dict[str, int]] = defaultdict(dict)
        for (cat, src), n in sorted(Counter(zip(self.category, self.source, strict=True)).items()):
            out[str(cat)][str(src)] = n
        return dict(out)


def category_of(label: str) -> str:
    """digit, number-symbol, digit-like, near-number, doodle, letter or symbol."""
    if len(label) == 1 and label in charset.DIGITS:
        return "digit"
    if len(label) == 1 and label in charset.NUMBER_SYMBOLS:
        return "number-symbol"
    if label in charset.DIGIT_LIKE:
        return "digit-like"
    if label in charset.NEAR_NUMBER:
        return "near-number"
    if label == "doodle":
        return "doodle"
    return "letter" if label.isalpha() else "symbol"


def _limit(records: list[dict], n: int | None) -> list[dict]:
    if n is None or len(records) <= n:
        return records
    idx = np.linspace(0, len(records) - 1, n).round().astype(int)  # spread over writers
    return [records[i] for i in idx]


def records(spec: CorpusSpec, *, pendigits_path: str | Path, unipen_dir: str | Path) -> list[dict]:
    """The stroke records of the corpus (before canvas styles), each with ``category``,
    ``cls`` (class index or -1) and ``augmented`` added. Deterministic."""
    spec = spec.resolved()
    splits = handwriting.writer_splits(pendigits_path=pendigits_path, unipen_dir=unipen_dir, seed=spec.seed)
    train = spec.split == "train"
    mine = lambda rs: [r for r in rs if splits.get(r["writer"]) == spec.split]  # noqa: E731
    out: list[dict] = []

    def add(rs: list[dict], augmented: bool = False) -> None:
        for r in rs:
            cat = category_of(r["label"])
            cls = charset.training_class(r["label"]) if cat != "doodle" else charset.OTHER
            if cls is None and train:
                continue
            out.append({**r, "category": cat, "cls": -1 if cls is None else cls, "augmented": augmented,
                        "hand_style": r["style"] if augmented or cat == "doodle" else handstyles.detect_style(r)})

    digits = []
    for source in ("pendigits", "unipen-digits"):
        digits += _limit(mine(handwriting.load_source(source, pendigits_path=pendigits_path,
                                                      unipen_dir=unipen_dir)), spec.limit)
    variants = [v for r in digits if (v := handstyles.variant(r, seed=spec.seed)) is not None] \
        if spec.hand_styles or spec.variants_only else []
    if spec.variants_only:
        add(variants, augmented=True)
        return out
    add(digits)
    if spec.hand_styles:
        add(variants, augmented=True)

    symbols = _limit(mine(handwriting.load_source("unipen-symbols", unipen_dir=unipen_dir)), spec.limit)
    add(symbols)
    number = [r for r in symbols if r["label"] in charset.NUMBER_SYMBOLS]
    for k in range(spec.symbol_jitter):
        add([dict(v, id=f"{v['id']}{k}") for r in number
             if (v := handstyles.apply("jitter", r, seed=spec.seed + k)) is not None], augmented=True)

    letters = []
    for source in ("unipen-upper", "unipen-lower"):
        letters += _limit(mine(handwriting.load_source(source, unipen_dir=unipen_dir)), spec.limit)
    add(letters)

    # Composed $ and % from this split's own writers' letters (and digits for the o's).
    s_parts = [r for r in letters if synthsymbols.usable_s(r)]
    o_parts = [r for r in letters + digits if synthsymbols.usable_o(r) and r["style"] == "natural"]
    o_by_writer = defaultdict(list)
    for r in o_parts:
        o_by_writer[r["writer"]].append(r)
    rng = np.random.default_rng([spec.seed, DOODLE_SEEDS[spec.split], 1])
    synth = []
    if s_parts:
        synth += [synthsymbols.dollar_record(s_parts[int(rng.integers(len(s_parts)))], spec.seed, i)
                  for i in range(spec.synth_dollar)]
    if o_parts:
        for i in range(spec.synth_percent):
            first = o_parts[int(rng.integers(len(o_parts)))]
            same = o_by_writer[first["writer"]]  # the second o by the same hand where possible
            synth.append(synthsymbols.percent_record(first, same[int(rng.integers(len(same)))], spec.seed, i))
    seed = spec.seed + DOODLE_SEEDS[spec.split]
    synth += [synthsymbols.simple_record(label, seed, i, writer=f"synth:{seed}")
              for label in synthsymbols.SIMPLE for i in range(spec.synth_simple)]
    add(_limit(synth, spec.limit))
    add(doodles.doodles(spec.doodles if spec.limit is None else min(spec.doodles, spec.limit),
                        seed=DOODLE_SEEDS[spec.split] + spec.seed))
    return out


def style_for(record: dict, name: str) -> pendigits.Style:
    """The canvas style ``name`` for this record. A style with ``fit`` scales a drawing's
    longest side to fit * canvas, which is right for a digit but would blow a '.' or a '-' up
    to a digit's size with the same pen (a dot becomes a ring, i.e. a 0): for anything but a
    digit, ``fit`` is scaled by the record's size against a digit's (DIGIT_SIDE px of the 280
    canvas), so every record keeps its size relative to the pen."""
    style = pendigits.STYLES[name]
    if style.fit is None or category_of(str(record["label"])) == "digit":
        return style
    pts = np.concatenate([np.asarray(s, dtype=np.float64).reshape(-1, 2) for s in record["strokes"] if len(s)])
    side = float(np.ptp(pts, axis=0).max()) * 280 / float(record.get("canvas", 280))
    return dataclasses.replace(style, fit=style.fit * max(side, 1.0) / DIGIT_SIDE)


def _image(job: tuple[dict, str]) -> np.ndarray | None:
    """The 28x28 the server would read, or None where it would answer "empty"."""
    record, name = job
    pre = preprocess_bytes(pendigits.render(record, style_for(record, name)))
    return None if pre.empty else pre.image


def render(recs: list[dict], styles: tuple[str, ...], jobs: int = 1) -> tuple[np.ndarray, list[tuple[int, str]]]:
    """Every record in every canvas style: ((N, 28, 28) uint8, [(record index, style)] of
    each). Drawings the server would read as empty (a tiny dot drawn with a thin pen on a big
    canvas) are left out: there is nothing to learn from a blank image."""
    work = [(i, s) for s in styles for i in range(len(recs))]
    jobs_in = [(recs[i], s) for i, s in work]
    if jobs > 1 and len(jobs_in) > 64:
        with ProcessPoolExecutor(jobs) as pool:
            images = list(pool.map(_image, jobs_in, chunksize=64))
    else:
        images = [_image(j) for j in jobs_in]
    kept = [k for k, im in enumerate(images) if im is not None]
    if len(kept) < len(images):
        log.info("%d of %d renderings are empty to the server; left out", len(images) - len(kept), len(images))
    out = np.stack([images[k] for k in kept]).astype(np.uint8) if kept else np.zeros((0, 28, 28), np.uint8)
    return out, [work[k] for k in kept]


def data_fingerprints(pendigits_path: str | Path, unipen_dir: str | Path) -> list[str]:
    """A short hash of each data file a corpus is drawn from (cache keys change with the data)."""
    files = [Path(pendigits_path)] + [Path(unipen_dir) / n for n in handwriting.UNIPEN_FILES.values()]
    return [hashlib.sha256(f.read_bytes()).hexdigest()[:16] for f in files]


def cache_key(spec: CorpusSpec, pendigits_path: str | Path, unipen_dir: str | Path) -> str:
    blob = json.dumps({"spec": dataclasses.asdict(spec.resolved()), "version": CORPUS_VERSION,
                       "data": data_fingerprints(pendigits_path, unipen_dir)}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def default_cache_dir() -> Path:
    """The per-user cache dir for corpora (benches default to $DIGITPAD_CORPUS_CACHE, else this)."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("digitpad")) / "corpus"


def build(spec: CorpusSpec, *, pendigits_path: str | Path, unipen_dir: str | Path,
          cache_dir: str | Path | None = None, jobs: int = 1) -> Corpus:
    """The corpus of ``spec`` (from the cache when there), rendered with ``jobs`` processes."""
    spec = spec.resolved()
    path = None
    if cache_dir is not None:
        path = Path(cache_dir) / f"{spec.split}-{cache_key(spec, pendigits_path, unipen_dir)}.npz"
        if path.is_file():
            log.info("corpus from cache %s", path)
            return Corpus.load(path)
    recs = records(spec, pendigits_path=pendigits_path, unipen_dir=unipen_dir)
    images, work = render(recs, spec.styles, jobs=jobs)
    rec_of = [recs[i] for i, _ in work]
    columns = {
        "char": np.array([r["label"] for r in rec_of], dtype=str),
        "category": np.array([r["category"] for r in rec_of], dtype=str),
        "source": np.array([r["source"] for r in rec_of], dtype=str),
        "writer": np.array([r["writer"] for r in rec_of], dtype=str),
        "lab": np.array([r["lab"] for r in rec_of], dtype=str),
        "canvas_style": np.array([s for _, s in work], dtype=str),
        "hand_style": np.array([r["hand_style"] for r in rec_of], dtype=str),
        "id": np.array([r["id"] for r in rec_of], dtype=str),
    }
    corpus = Corpus(images, np.array([r["cls"] for r in rec_of], dtype=np.int16),
                    np.array([r["augmented"] for r in rec_of], dtype=bool), columns,
                    dataclasses.asdict(spec) | {"version": CORPUS_VERSION})
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        corpus.save(path)
    return corpus

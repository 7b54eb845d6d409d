"""Real handwriting as uniform stroke records on the page's 280 canvas, and the one split of
its writers into train / val / test that everything shares.

Sources (``SOURCES``): pendigits digits, and the five UNIPEN dev files (isolated digits,
symbols, upper- and lower-case letters, whole numbers; see ../shared/data/README.md). Every
record looks like a pendigits one, plus where it came from::

    {"id": "unipen_1d/val/yannis21.dat#10-11", "label": "!", "writer": "val:val01", "lab": "val",
     "source": "unipen-symbols", "quality": "?", "style": "natural",
     "canvas": 280, "lineWidth": 16, "strokes": [[[x, y], ...], ...]}

``label`` is always a string ("7", "$", "a", "1,234.50"). Digits come already on the canvas.
The other UNIPEN files are in each tablet's own units, so they are put on the canvas here the
way the digit files were (measured: a digit's longest side is 180-220 px, median 200, centred
at (140, 140) +- 11 px), keeping the aspect ratio:

- letters: longest side 175-215 px (drawn per sample), like a digit;
- symbols: relative to the *writer's own* character height, so that a '.' stays a dot, a '-'
  a short dash and a '(' as tall as a digit. The reference is the median height of the writer's
  tall symbols (TALL_SYMBOLS), mapped to 200 px; writers without any use the median relative
  size of that symbol over the writers who have one. Longest side capped at 230 px;
- numbers: the string's height 180-220 px, on a canvas as wide as it needs
  (``canvas_size`` = [width, 280]; ``canvas`` stays 280 for the height).

A few labs' tablet units are not square: ASPECT scales their x (measured from letter widths
against the median of all labs, per letter: sie 1.46x and mot 1.19x too wide).

Writer splits (``writer_splits``): pendigits keeps ``pendigits.split_by_writer(seed=0)``'s
held-out writers as test and carves PENDIGITS_VAL_WRITERS validation writers from its dev
writers. UNIPEN is split once over the union of the writers of all five files (a writer is
test in every file or in none), per lab: ~30% test (at least one where a lab has two or more
writers), ~15% validation (at least one where a lab has three or more), at least one train;
big digit writers are dealt first so that they spread over the splits.
``bench/writer_splits.py`` prints the resulting table.
"""

from __future__ import annotations

import functools
import gzip
import json
import random
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from . import pendigits

CANVAS = 280
LINE_WIDTH = 16
SPLITS = ("train", "val", "test")
UNIPEN_FILES = {
    "unipen-digits": "trajectories-dev.jsonl.gz",
    "unipen-symbols": "symbols-dev.jsonl.gz",
    "unipen-upper": "letters-upper-dev.jsonl.gz",
    "unipen-lower": "letters-lower-dev.jsonl.gz",
    "unipen-numbers": "numbers-dev.jsonl.gz",
}
SOURCES = ("pendigits", *UNIPEN_FILES)
PENDIGITS_VAL_WRITERS = 4
TALL_SYMBOLS = set("()[]{}/\\|!?$%&#")
ASPECT = {"sie": 1 / 1.46, "mot": 1 / 1.19}  # x scale for labs whose tablet units are not square
# The most pen strokes a symbol is written with; more means the sample holds several
# characters (val02's ")" samples are often "))" or "),)").
MAX_STROKES = {**dict.fromkeys("()/-_|\\`'~^,.", 1), **dict.fromkeys(':;="!?+<>[]{}', 2),
               **dict.fromkeys("$%&", 3), "#": 4, "*": 6}


def _rng(key: str) -> random.Random:
    """A per-record random source: the same id always draws the same size and place."""
    return random.Random(zlib.crc32(key.encode()))


def _array(strokes: list) -> list[np.ndarray]:
    return [np.asarray(s, dtype=np.float64).reshape(-1, 2) for s in strokes if len(s)]


def _extent(strokes: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    allp = np.concatenate(strokes)
    return allp.min(axis=0), allp.max(axis=0)


def place(strokes: list[np.ndarray], scale: float, centre: tuple[float, float]) -> list[list[list[float]]]:
    """Strokes scaled by ``scale`` about their bbox centre, moved to ``centre``; JSON lists."""
    lo, hi = _extent(strokes)
    mid = (lo + hi) / 2
    return [np.round((s - mid) * scale + centre, 2).tolist() for s in strokes]


def _record(raw: dict, source: str, strokes: list, **extra) -> dict:
    writer = raw["writer"]
    return {"id": raw["id"], "label": str(raw["label"]), "writer": writer,
            "lab": "pendigits" if source == "pendigits" else writer.split(":", 1)[0],
            "source": source, "quality": raw.get("quality"), "style": "natural",
            "canvas": CANVAS, "lineWidth": LINE_WIDTH, "strokes": strokes, **extra}


def _read(path: Path) -> list[dict]:
    """The file's JSON lines, parsed once per process (and again if the file changes): a
    corpus build reads each file for the writer split and for the records. Callers copy,
    never change, what they get."""
    st = Path(path).stat()
    return _parse(str(path), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _parse(path: str, size: int, mtime_ns: int) -> list[dict]:
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _unscaled(raw: dict) -> list[np.ndarray]:
    """Tablet strokes with the lab's aspect correction applied (x scaled)."""
    strokes = _array(raw["strokes"])
    ax = ASPECT.get(raw["writer"].split(":", 1)[0], 1.0)
    return [s * (ax, 1.0) for s in strokes]


def _centre(rng: random.Random) -> tuple[float, float]:
    return CANVAS / 2 + rng.uniform(-10, 10), CANVAS / 2 + rng.uniform(-10, 10)


def _letters(raws: list[dict], source: str) -> list[dict]:
    out = []
    for raw in raws:
        strokes = _unscaled(raw)
        if not strokes:
            continue
        rng = _rng(raw["id"])
        lo, hi = _extent(strokes)
        scale = rng.uniform(175, 215) / max(float((hi - lo).max()), 1.0)
        out.append(_record(raw, source, place(strokes, scale, _centre(rng))))
    return out


def vet_symbol(label: str, strokes: list[np.ndarray]) -> str | None:
    """Why a symbol sample is not what its label says, or None. UNIPEN's symbol labels were
    not checked by hand: some samples hold several characters, and lab kai's 248 "@" are
    single fragments (straight or bent lines that read as "/" or "-")."""
    if len(strokes) > MAX_STROKES.get(label, 99):
        return f"{len(strokes)} strokes for {label!r}"
    if label == "@":  # an @ winds round: its ink is much longer than its bbox is wide
        lo, hi = _extent(strokes)
        ink = sum(float(np.linalg.norm(np.diff(s, axis=0), axis=1).sum()) for s in strokes)
        if ink < 2.5 * max(float(np.hypot(*(hi - lo))), 1.0):
            return "an '@' that does not wind"
    return None


def _symbols(raws: list[dict], vet: bool = True) -> list[dict]:
    """Symbols sized against their writer's tall symbols (see the module docstring)."""
    items = [(raw, s) for raw in raws if (s := _unscaled(raw))]
    if vet:
        items = [(raw, s) for raw, s in items if vet_symbol(raw["label"], s) is None]
    heights = defaultdict(list)  # writer -> heights of tall symbols, tablet units
    for raw, s in items:
        if raw["label"] in TALL_SYMBOLS:
            lo, hi = _extent(s)
            heights[raw["writer"]].append(float(hi[1] - lo[1]))
    ref = {w: float(np.median(h)) for w, h in heights.items() if np.median(h) > 0}
    rel = defaultdict(list)  # label -> longest side / writer's reference
    for raw, s in items:
        if raw["writer"] in ref:
            lo, hi = _extent(s)
            rel[raw["label"]].append(float((hi - lo).max()) / ref[raw["writer"]])
    typical = {label: float(np.median(v)) for label, v in rel.items()}
    out = []
    for raw, s in items:
        rng = _rng(raw["id"])
        lo, hi = _extent(s)
        side = float((hi - lo).max())
        r = side / ref[raw["writer"]] if raw["writer"] in ref else typical.get(raw["label"], 0.5)
        target = min(200 * r * rng.uniform(0.9, 1.1), 230.0)
        scale = target / max(side, 1.0)
        if side < 1:  # a single tap: a dot of the pen's width wherever it lands
            scale = 1.0
        out.append(_record(raw, "unipen-symbols", place(s, scale, _centre(rng))))
    return out


def _numbers(raws: list[dict]) -> list[dict]:
    out = []
    for raw in raws:
        strokes = _unscaled(raw)
        if not strokes:
            continue
        rng = _rng(raw["id"])
        lo, hi = _extent(strokes)
        scale = rng.uniform(180, 220) / max(float(hi[1] - lo[1]), 1.0)
        width = float(hi[0] - lo[0]) * scale
        size = [int(np.ceil(width + 80)), CANVAS]
        out.append(_record(raw, "unipen-numbers", place(strokes, scale, (size[0] / 2, CANVAS / 2)),
                           canvas_size=size))
    return out


def load_source(source: str, *, pendigits_path: str | Path | None = None,
                unipen_dir: str | Path | None = None, vet: bool = True) -> list[dict]:
    """All records of one of SOURCES, on the 280 canvas, in file order (symbols that fail
    ``vet_symbol`` left out unless ``vet`` is False). Made once per process and file version:
    the list is new, the records are shared, so copy a record before changing it."""
    if source == "pendigits":
        if pendigits_path is None:
            raise ValueError("pendigits_path is needed for source 'pendigits'")
        path = Path(pendigits_path)
    elif source not in UNIPEN_FILES:
        raise ValueError(f"unknown source {source!r}; known: {', '.join(SOURCES)}")
    elif unipen_dir is None:
        raise ValueError(f"unipen_dir is needed for source {source!r}")
    else:
        path = Path(unipen_dir) / UNIPEN_FILES[source]
    st = path.stat()
    return list(_load(source, str(path), vet, st.st_size, st.st_mtime_ns))


@functools.lru_cache(maxsize=16)
def _load(source: str, path: str, vet: bool, size: int, mtime_ns: int) -> tuple[dict, ...]:
    raws = _read(Path(path))
    return tuple(_make(source, raws, vet))


def _make(source: str, raws: list[dict], vet: bool) -> list[dict]:
    if source == "pendigits":
        return [_record(r, "pendigits", r["strokes"]) for r in raws]
    if source == "unipen-digits":
        return [_record(r, source, r["strokes"]) for r in raws]
    if source == "unipen-symbols":
        return _symbols(raws, vet)
    if source == "unipen-numbers":
        return _numbers(raws)
    return _letters(raws, source)


def unipen_writers(unipen_dir: str | Path) -> dict[str, Counter]:
    """writer -> Counter(source -> samples), over all five UNIPEN files."""
    out: dict[str, Counter] = defaultdict(Counter)
    for source, name in UNIPEN_FILES.items():
        for r in _read(Path(unipen_dir) / name):
            out[r["writer"]][source] += 1
    return dict(out)


def split_writers(writers: dict[str, Counter] | Iterable[str], *, seed: int = 0, test: float = 0.3,
                  val: float = 0.15) -> dict[str, str]:
    """UNIPEN writers ('lab:person') -> 'train' | 'val' | 'test', stratified per lab.

    Per lab: n_test = round(test n) (at least 1 when n >= 2), n_val = round(val n) (at least 1
    when n >= 3), the rest train (at least 1). Writers are dealt heaviest first (by isolated
    digits, then all samples; ``writers`` may map writer -> Counter(source -> samples)), each
    to the split furthest below its quota, ties drawn at random: so a lab's big digit writers
    spread over the splits instead of landing together. Each lab draws from its own seeded
    generator (``seed`` and the lab's name): a lab's split does not move when another changes."""
    counts = writers if isinstance(writers, dict) else {w: Counter() for w in writers}
    labs: dict[str, list[str]] = defaultdict(list)
    for w in sorted(counts):
        labs[w.split(":", 1)[0]].append(w)
    out = {}
    for lab, ws in labs.items():
        rng = random.Random(f"{seed}:{lab}")
        rng.shuffle(ws)
        ws.sort(key=lambda w: (-counts[w].get("unipen-digits", 0), -sum(counts[w].values())))  # stable
        n = len(ws)
        quota = {"test": max(round(test * n), 1 if n >= 2 else 0), "val": max(round(val * n), 1 if n >= 3 else 0)}
        while quota["test"] + quota["val"] >= n and quota["test"] + quota["val"] > 0:  # keep a train writer
            quota["val" if quota["val"] else "test"] -= 1
        quota["train"] = n - quota["test"] - quota["val"]
        left = dict(quota)
        for w in ws:
            open_ = [s for s in SPLITS if left[s] > 0]
            best = max(left[s] / quota[s] for s in open_)
            pick = rng.choice([s for s in open_ if left[s] / quota[s] == best])
            out[w] = pick
            left[pick] -= 1
    return out


def split_pendigits(records: list[dict], *, seed: int = 0, val_writers: int = PENDIGITS_VAL_WRITERS) -> dict[str, str]:
    """pendigits writers -> split: ``pendigits.split_by_writer(seed)``'s held-out writers are
    test; ``val_writers`` of its dev writers (seeded shuffle) are validation; the rest train."""
    dev, held = pendigits.split_by_writer(records, seed=seed)
    dev_writers = sorted({r["writer"] for r in dev})
    random.Random(f"{seed}:pendigits-val").shuffle(dev_writers)
    out = {w: "train" for w in dev_writers}
    out.update({w: "val" for w in dev_writers[:val_writers]})
    out.update({r["writer"]: "test" for r in held})
    return out


def writer_splits(*, pendigits_path: str | Path | None = None, unipen_dir: str | Path | None = None,
                  seed: int = 0) -> dict[str, str]:
    """The one writer split of every writer in the data given: writer -> 'train'|'val'|'test'."""
    out: dict[str, str] = {}
    if pendigits_path is not None:
        out.update(split_pendigits(_read(Path(pendigits_path)), seed=seed))
    if unipen_dir is not None:
        out.update(split_writers(unipen_writers(unipen_dir), seed=seed))
    return out


def split_table(splits: dict[str, str], counts: dict[str, Counter]) -> str:
    """A plain-text table: per lab, the writers of each split and their samples per source."""
    labs: dict[str, list[str]] = defaultdict(list)
    for w in sorted(splits):
        labs[w.split(":", 1)[0] if ":" in w else "pendigits"].append(w)
    short = {s: s.replace("unipen-", "") for s in SOURCES}
    lines = []
    for lab, ws in sorted(labs.items()):
        lines.append(f"{lab} ({len(ws)} writers)")
        for split in SPLITS:
            mine = [w for w in ws if splits[w] == split]
            if not mine:
                continue
            total = Counter()
            for w in mine:
                total.update(counts.get(w, {}))
            figures = ", ".join(f"{short[s]} {total[s]}" for s in SOURCES if total[s])
            lines.append(f"  {split:5s} {len(mine):2d}: {figures or '-'}  [{' '.join(w.split(':', 1)[-1] for w in mine)}]")
    return "\n".join(lines)


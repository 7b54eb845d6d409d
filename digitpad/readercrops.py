"""The number reader's own candidates as training images: what it will ask the model about.

    crops = reader_crops(hands, numbers=1500, seed=20000, jobs=2)      # ReaderCrops
    crops.images, crops.labels        # (N, 28, 28) uint8 white ink on black, (N,) class index
    crops = load_reader_crops("train", numbers=1500, pendigits_path=..., unipen_dir=..., cache_dir=...)

Reading a number, the model is asked about every candidate character the reader finds
(``numbers.candidates`` over ``cuts.cut``): whole characters with a bit of their neighbour's ink
where digits touch, but also halves of a character and two characters merged. Isolated
characters never look like those, so a model trained on them alone may read a fragment or a
merged pair as a confident digit, and the reader cannot tell a bad cut by its answer. Here
numbers are composed from one writer's own characters (``digitpad.compose``: every layout,
symbols, colour schemes and photos, each hand with its hand styles) and every tall candidate
is labelled against the ground-truth ink
(``owner``): one whole character (PURITY and COVER) keeps its class; clearly not one character
(under FRAGMENT on either count) is ``other``; the ones in between teach nothing clear and are
left out. Training (``trainset``, ``TrainConfig.reader_share``) mixes them into each epoch.

Writers come from one split of ``handwriting.writer_splits`` (training reads only its train
writers). Arrays are cached as ``<cache_dir>/reader-<split>-<key>.npz``, the key hashing the
arguments, READER_CROPS_VERSION (bump it when the reader's candidates change) and the data files.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import random
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import charset, compose, numbers, runs
from .artifact import write_atomically
from .corpus import data_fingerprints
from .cuts import cut
from .decode import decode
from .engines import default as default_engine
from .level import levelled, to_file
from .segment import Line, Page, Piece, components_of, ink_page

log = logging.getLogger(__name__)

READER_CROPS_VERSION = 4  # 2: frames and underlines set aside, marks beside leaning digits, lone tall brackets;
# 3: a frame holding one character that no zero holds; 4: a tilted line turned level (``level``)
PURITY, COVER = 0.8, 0.8  # one character: this share of the candidate's ink is one character's, and
# the candidate holds this share of that character's ink (bench/numbers_fit.py labels the verifier's rows so too)
FRAGMENT = 0.6  # clearly not one character: under this share on either count
LAYOUTS = ("spaced", "tight", "touching", "touching")  # touching twice: most of its candidates are cuts
SCHEMES = ("pad", "pad", "thin-pen", "marker", "blue-on-cream", "photo")


@dataclass
class ReaderCrops:
    images: np.ndarray  # (N, 28, 28) uint8, white ink on black
    labels: np.ndarray  # (N,) int64 class index (charset.CLASSES); OTHER for fragments and merges
    numbers: int = 0  # composed numbers they came from

    def summary(self) -> dict:
        return {"numbers": self.numbers, "images": int(len(self.labels)),
                "other": int((self.labels == charset.OTHER).sum())}


def owners(sample: compose.Sample, page: Page) -> np.ndarray:
    """Which character owns each of the page's working pixels: (h, w) int16, -1 for none."""
    own = sample.ownership()
    h, w = page.mask.shape
    # each pixel's centre in the file ((1, w) and (h, 1), or (h, w) each on a page turned level)
    x, y = to_file(page, np.arange(w)[None, :] + 0.5, np.arange(h)[:, None] + 0.5)
    return own[np.clip(y.astype(int), 0, own.shape[0] - 1), np.clip(x.astype(int), 0, own.shape[1] - 1)]


def owner(own: np.ndarray, total: np.ndarray) -> tuple[int, float, float]:
    """The character most of a candidate's ink belongs to, with its purity (that character's
    share of the candidate's owned ink) and cover (the share of that character's ink the
    candidate holds). ``own``: the owners of the candidate's ink pixels; ``total`` (n,): each
    character's ink on the page. (-1, 0, 0) when no pixel is owned."""
    own = own[own >= 0]
    if not len(own):
        return -1, 0.0, 0.0
    cnt = np.bincount(own, minlength=len(total))
    k = int(cnt.argmax())
    return k, cnt[k] / len(own), cnt[k] / max(int(total[k]), 1)


def truth_view(s: compose.Sample) -> tuple[Page, Line, list[Piece], np.ndarray, np.ndarray] | None:
    """What the reader sees of a composed number, with its ground truth: the page, the line, the
    pieces after cutting (``cuts.cut``), each working pixel's owner (``owners``) and each
    character's ink on the page ((n,) pixels). None when the page has no ink."""
    page = ink_page(decode(s.image), default_engine())
    if page is None:
        return None
    page, (comps, line) = levelled(page, components_of(page.mask, page.engine))  # (as the reader turns it)
    own = owners(s, page)
    return page, line, cut(comps, line), own, np.bincount(own[page.mask & (own >= 0)], minlength=len(s.strokes))


def sample(hands: list[compose.Hand], seed: int) -> compose.Sample:
    """One composed number of a random hand, template, layout and scheme (deterministic in ``seed``)."""
    r = random.Random(seed)
    for _ in range(50):
        hand = r.choice(hands)
        text = compose.random_text(r, hand, r.choice(list(compose.TEMPLATES)))
        if text:
            break
    return compose.compose(hand, text, r.choice(LAYOUTS), r.choice(SCHEMES), seed=seed)


def crops_of(s: compose.Sample) -> tuple[list[np.ndarray], list[int]]:
    """The labelled tall candidates of one composed number: (28, 28) images and class indices."""
    view = truth_view(s)
    if view is None:
        return [], []
    page, line, pieces, own, total = view
    chars = s.text.replace(" ", "")
    images, labels = [], []
    for c in numbers.candidates(page, pieces, line):
        y0, y1, x0, x1 = c.mask_box
        if c.image is None or (y1 - y0) < numbers.TALL * line.height:
            continue  # tall ones only, as the verifier's fit: small marks are weighed by their geometry too (numbers.MARKS)
        k, purity, cover = owner(own[y0:y1, x0:x1][runs.paint(*runs.joined(c.parts), c.mask_box)], total)
        if k < 0:
            continue
        cls = charset.training_class(chars[k]) if purity >= PURITY and cover >= COVER else None
        if cls is None and (purity < FRAGMENT or cover < FRAGMENT):
            cls = charset.OTHER
        if cls is not None:
            images.append(c.image)
            labels.append(cls)
    return images, labels


def _chunk(args: tuple[list[compose.Hand], int, int]) -> tuple[list[np.ndarray], list[int]]:
    hands, start, stop = args
    images, labels = [], []
    for i in range(start, stop):
        x, y = crops_of(sample(hands, i))
        images += x
        labels += y
    return images, labels


def reader_crops(hands: list[compose.Hand], numbers: int, seed: int = 20000, jobs: int = 1) -> ReaderCrops:
    """The labelled candidates of ``numbers`` composed numbers of ``hands`` (seeds seed..seed+numbers-1)."""
    numbers = max(numbers, 0) if hands else 0
    jobs = max(1, min(jobs, numbers))
    bounds = np.linspace(seed, seed + numbers, jobs + 1).astype(int)
    chunks = [(hands, int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    if jobs == 1:
        parts = [_chunk(chunks[0])]
    else:
        with ProcessPoolExecutor(jobs) as pool:
            parts = list(pool.map(_chunk, chunks))
    images = [x for xs, _ in parts for x in xs]
    labels = [y for _, ys in parts for y in ys]
    return ReaderCrops(np.stack(images) if images else np.zeros((0, 28, 28), np.uint8),
                       np.array(labels, np.int64), numbers)


def load_reader_crops(split: str, numbers: int, *, pendigits_path: str | Path, unipen_dir: str | Path,
                      cache_dir: str | Path | None, exclude_labs: tuple[str, ...] = (), seed: int = 20000,
                      jobs: int = 1) -> ReaderCrops:
    """``reader_crops`` of the hands (hand styles included) of one split's writers, cached;
    ``exclude_labs``: leave every writer of these UNIPEN labs out (leave-one-lab-out)."""
    path = None
    if cache_dir is not None:
        blob = json.dumps({"split": split, "numbers": numbers, "seed": seed, "exclude": sorted(exclude_labs),
                           "version": READER_CROPS_VERSION, "data": data_fingerprints(pendigits_path, unipen_dir)},
                          sort_keys=True)
        path = Path(cache_dir) / f"reader-{split}-{hashlib.sha256(blob.encode()).hexdigest()[:20]}.npz"
        if path.is_file():
            with np.load(path) as z:
                return ReaderCrops(z["images"], z["labels"], int(z["numbers"]))
    hands = [h for h in compose.load_hands(unipen_dir, pendigits_path, split=split, styles=True)
             if h.writer.split(":")[0] not in exclude_labs]
    crops = reader_crops(hands, numbers, seed, jobs)
    if path is not None:
        buf = io.BytesIO()
        np.savez_compressed(buf, images=crops.images, labels=crops.labels, numbers=crops.numbers)
        write_atomically(path, buf.getvalue())
    return crops


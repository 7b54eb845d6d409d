"""Training the sequence model (``digitpad.sequence``; torch: the ``train`` extra).

    digitpad train-sequence --pendigits ../shared/data/pendigits/trajectories-dev.jsonl.gz \
        --unipen ../shared/data/unipen --data-dir ../shared/data/mnist --out runs/sequence.onnx
        # 45-47 min on 2 cores; + runs/SEQUENCE_CARD.md

A small CRNN + CTC trained from scratch on digit strings composed (``compose``) of the TRAIN
writers' own characters, each also drawn once in a hand style (``handstyles``): every layout,
touching twice as often as spaced or tight (``SequenceConfig.touching``), every colour scheme.
A share of the strings (``SequenceConfig.letters``) hold the writers' own letters, alone or
among the digits, each labelled OTHER ("?"): the model learns to say "no digit" rather than
read a letter as the nearest digit. With ``SequenceConfig.separators``, a share of the strings
are prices, phone numbers, dates and times, their separators read as themselves (a hand that
never wrote a simple one is given drawn ones: ``with_drawn_separators``). More hands than the
27 train writers': strings of MNIST training digits (``SequenceConfig.mnist``,
``_mnist_compose``), and every epoch most strings drawn afresh, leaned, wider or narrower, on a
waving baseline, lighter or heavier, up to a marker's strokes (``distort``).
Each string goes through the reader's own ink map (``segment.ink_page``) and ``sequence.view``,
exactly as served. After each epoch it reads strings of the VAL writers (printed: they choose
nothing here; the rule that uses the model, in ``numbers``, is chosen on them). The export
checks that ONNX Runtime reads what torch reads and stores its recipe, alphabet and figures in
the file's metadata.
"""

from __future__ import annotations

import io
import os
import random
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from . import compose, engines, synthsymbols
from .artifact import write_atomically
from .card import sequence_card
from .charset import DIGITS, NUMBER_ALPHABET
from .decode import decode
from .errors import ModelError
from .export import OPSET, with_metadata
from .fit import machine_info
from .model import count_parameters
from .recipe import SequenceConfig
from .segment import ink_page
from .sequence import HEIGHT, KIND, OTHER, STRIDE, SequenceModel, best_path, view
from .strokes import as_arrays

VERSION = "seqnet-1.4"  # what SequenceConfig's defaults train (bump with any change to them)
TRAIN_SEED, VAL_SEED, MNIST_SEED = 50_000, 90_000, 0  # the composed strings' seeds (train, val writers'; MNIST's)
PARITY_TOL = 1e-4  # |log-probability| difference allowed between torch and ONNX Runtime

ALPHABET = DIGITS + OTHER  # the classes; CTC's blank is the last
SEPARATOR_ALPHABET = NUMBER_ALPHABET + OTHER  # with SequenceConfig.separators: a number's separators too
SEPARATOR_TEMPLATES = tuple(t for t in compose.TEMPLATES if t not in compose.DIGIT_TEMPLATES)  # prices, dates, ...
DRAWN_SEPARATORS = 3  # drawn copies of each of synthsymbols.SIMPLE given to a train hand that never wrote it
Item = tuple[np.ndarray, str]  # (HEIGHT, w) float32 view, its characters (a letter: OTHER)


class CRNN(nn.Module):
    """(B, 1, HEIGHT, W) -> (T = W / STRIDE, B, classes) log-probabilities (the blank last)."""

    def __init__(self, classes: int = len(ALPHABET) + 1) -> None:
        super().__init__()

        def block(cin: int, cout: int) -> list[nn.Module]:
            return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

        self.cnn = nn.Sequential(
            *block(1, 32), nn.MaxPool2d(2),                                   # 16 x W/2
            *block(32, 64), nn.MaxPool2d(2),                                  # 8 x W/4
            *block(64, 128), *block(128, 128), nn.MaxPool2d((2, 1)),          # 4 x W/4
            nn.Conv2d(128, 192, (4, 1)), nn.ReLU(inplace=True), nn.Dropout(0.2),  # 1 x W/4
        )
        self.rnn = nn.GRU(192, 128, bidirectional=True)
        self.out = nn.Linear(256, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.cnn(x).squeeze(2).permute(2, 0, 1)  # (T, B, 192)
        y, _ = self.rnn(f)  # (T, B, 256)
        return self.out(y).log_softmax(-1)


# ------------------------------------------------------------------------------ strings


def _with_letters(r: random.Random, hand: compose.Hand, text: str) -> str:
    """``text`` with letters of ``hand``: 1-3 letters alone (half the time), else one digit replaced."""
    letters = sorted(hand.letters)
    if r.random() < 0.5:
        return "".join(r.choice(letters) for _ in range(r.randint(1, 3)))
    k = r.randrange(len(text))
    return text[:k] + r.choice(letters) + text[k + 1:]


def _view_of(image: bytes, engine: engines.Engine) -> np.ndarray | None:
    """An encoded image through the reader's ink map and ``sequence.view``, as served: (HEIGHT, w)."""
    page = ink_page(decode(image), engine)
    v = view(page) if page is not None else None
    return v.x if v is not None else None


def _layouts(touching: int) -> list[str]:
    """The layouts a string is drawn in, touching ``touching`` times as often as spaced or tight."""
    return ["spaced", "tight"] + ["touching"] * touching


def alphabet(separators: float) -> str:
    """The classes of a model whose recipe has ``separators`` (``SequenceConfig.separators``)."""
    return SEPARATOR_ALPHABET if separators else ALPHABET


def _compose(seeds: range, hands: list[compose.Hand], touching: int, letters: float,
             separators: float = 0.0) -> list[Item]:
    layouts = _layouts(touching)
    known = alphabet(separators)[:-1]  # what a string's characters are read as (anything else: OTHER)
    engine = engines.default()
    out = []
    for seed in seeds:
        r = random.Random(seed)
        # (no draw without separators: a digits-only recipe composes the strings it always did)
        templates = SEPARATOR_TEMPLATES if separators and r.random() < separators else compose.DIGIT_TEMPLATES
        text = None
        while not text:
            hand = r.choice(hands)
            text = compose.random_text(r, hand, r.choice(templates))
        if hand.letters and r.random() < letters:
            text = _with_letters(r, hand, text.replace(" ", ""))
        s = compose.compose(hand, text, r.choice(layouts), r.choice(list(compose.SCHEMES)), seed=seed)
        if (x := _view_of(s.image, engine)) is not None:
            out.append((x, "".join(c if c in known else OTHER for c in text if c != " ")))
    return out


def with_drawn_separators(hands: list[compose.Hand], seed: int = 0) -> list[compose.Hand]:
    """Each hand with DRAWN_SEPARATORS pen-drawn copies (``synthsymbols.simple_record``) of each
    separator of synthsymbols.SIMPLE it never wrote: few writers wrote any (5 of the 27 train
    writers a '-'), and a separator's shape is simple enough to draw. '$' and '%' are left to
    the writers who wrote them (a string needing one goes to such a hand)."""
    out = []
    for k, hand in enumerate(hands):
        chars = dict(hand.chars)
        for label in synthsymbols.SIMPLE:
            if label not in chars:
                chars[label] = [as_arrays(synthsymbols.simple_record(label, seed, k * DRAWN_SEPARATORS + i))
                                for i in range(DRAWN_SEPARATORS)]
        out.append(compose.Hand(hand.writer, chars, hand.letters))
    return out


MNIST_TOUCH = (-0.25, -0.05)  # a touching MNIST pair's gap between boxes, digit heights (they overlap)
MNIST_HEIGHT = 40  # px of an MNIST string's digit (the view is scaled to HEIGHT rows anyway)


def _mnist_compose(seeds: range, images: np.ndarray, labels: np.ndarray, touching: int) -> list[Item]:
    """Digit strings of MNIST training digits (``images`` (N, 28, 28) uint8 white on black, their
    ``labels``): other hands than the pen writers' (some 250 people writing on paper, scanned),
    with ``compose.LAYOUTS``' gaps between their boxes (touching: MNIST_TOUCH, at most a third of
    the narrower), on a drifting baseline with size jitter, drawn dark on white."""
    by_digit = [np.flatnonzero(labels == d) for d in range(10)]
    layouts, H = _layouts(touching), MNIST_HEIGHT
    engine = engines.default()
    out = []
    for seed in seeds:
        r = random.Random(seed)
        text = compose.TEMPLATES[r.choice(compose.DIGIT_TEMPLATES)](r).replace(" ", "")
        layout = r.choice(layouts)
        lo, hi = MNIST_TOUCH if layout == "touching" else compose.LAYOUTS[layout].gap
        canvas = np.zeros((3 * H, 2 * H * (len(text) + 1)), np.float32)
        x, base, prev_w = H // 2, 2.2 * H, None
        for ch in text:
            g = images[r.choice(by_digit[int(ch)])]
            rows, cols = np.nonzero(g > 25)
            g = Image.fromarray(g[rows.min():rows.max() + 1, cols.min():cols.max() + 1])
            h = H * r.uniform(0.85, 1.1)
            w = max(2, round(g.width * h / g.height * r.uniform(0.85, 1.15)))
            g = np.asarray(g.resize((w, round(h)), Image.BILINEAR), np.float32) / 255
            if prev_w is not None:
                x += max(round(r.uniform(lo, hi) * H), -min(w, prev_w) // 3)
            base += r.gauss(0, 0.03 * H)
            y = round(base - g.shape[0] + r.gauss(0, 0.03 * H))
            canvas[y:y + g.shape[0], x:x + w] = np.maximum(canvas[y:y + g.shape[0], x:x + w], g)
            x, prev_w = x + w, w
        buf = io.BytesIO()
        Image.fromarray((255 - 255 * canvas[:, : x + H // 2]).astype(np.uint8)).save(buf, "PNG")
        if (v := _view_of(buf.getvalue(), engine)) is not None:
            out.append((v, text))
    return out


def _pooled(work: Callable[..., list[Item]], n: int, seed: int, jobs: int, *args: object) -> list[Item]:
    """``work(seeds, *args)`` over seeds ``seed``.. ``seed + n``, split among ``jobs`` processes, in order."""
    bounds = np.linspace(seed, seed + n, jobs + 1).astype(int)
    with ProcessPoolExecutor(jobs) as pool:
        parts = pool.map(work, [range(a, b) for a, b in zip(bounds[:-1], bounds[1:])], *([a] * jobs for a in args))
        return [x for p in parts for x in p]


def strings(hands: list[compose.Hand], n: int, seed: int, touching: int, jobs: int, letters: float = 0.0,
            separators: float = 0.0) -> list[Item]:
    """``n`` composed strings of ``hands`` (seeds ``seed``.. ``seed + n``; a share ``letters`` with
    the writer's letters, a share ``separators`` with a number's separators) as the network's views."""
    return _pooled(_compose, n, seed, jobs, hands, touching, letters, separators)


def mnist_strings(images: np.ndarray, labels: np.ndarray, n: int, seed: int, touching: int, jobs: int) -> list[Item]:
    """``n`` digit strings of MNIST ``images`` (``_mnist_compose``; seeds ``seed``.. ``seed + n``)."""
    return _pooled(_mnist_compose, n, seed, jobs, images, labels, touching)


def distort(x: np.ndarray, r: random.Random) -> np.ndarray:
    """A (HEIGHT, w) view drawn as by another hand: leaned (shear up to 0.35), narrower or wider
    (x0.75-1.25), its baseline waving (up to 1.5 rows) and its strokes lighter or heavier (up to
    a marker's); -> (HEIGHT, w') with every column of the ink kept. A train view is distorted
    afresh each time it is seen (``SequenceConfig.distort``): the 27 train writers' characters,
    drawn in more ways than they wrote them, so that the model learns hands rather than samples."""
    h, w = x.shape
    k, sx = r.uniform(-0.35, 0.35), r.uniform(0.75, 1.25)
    amp, period, phase = r.uniform(0, 1.5), r.uniform(2, 6) * h, r.uniform(0, 2 * np.pi)
    w2 = int(np.ceil(sx * (w + abs(k) * h))) + 1
    v, u = np.mgrid[0:h, 0:w2].astype(np.float32) + 0.5  # output pixel centres
    x_in = (u - sx * abs(k) * h / 2) / sx + k * (v - h / 2)  # input pixel coordinates (centres at +0.5)
    y_in = v + amp * np.sin(2 * np.pi * u / period + phase)
    grid = torch.from_numpy(np.stack([2 * x_in / w - 1, 2 * y_in / h - 1], -1))[None]  # (1, h, w2, 2)
    out = nn.functional.grid_sample(torch.from_numpy(x)[None, None], grid, align_corners=False)
    # Stroke weight, a quarter each: as drawn; lighter (towards a 3x3 min, up to half); heavier
    # (towards a 3x3 max); much heavier (a 5x5 max: a marker's strokes at the view's scale, loops
    # filling in).
    pool = r.choice((0, -3, 3, 5))  # the window's size; < 0: a min
    if pool:
        sign, pool = (1, pool) if pool > 0 else (-1, -pool)
        if sign > 0:  # room at the sides for the ink to spread into
            out = nn.functional.pad(out, (pool // 2, pool // 2))
        near = sign * nn.functional.max_pool2d(sign * out, pool, 1, pool // 2)
        out = out + r.uniform(0, 1.0 if sign > 0 else 0.5) * (near - out)
    return out[0, 0].numpy().clip(0, 1)


def batch(items: list[Item], classes: str = ALPHABET) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Views padded to one width (a multiple of STRIDE) -> (x (B, 1, HEIGHT, W), targets (indices
    into ``classes``), their lengths, each view's frames)."""
    w = -(-max(x.shape[1] for x, _ in items) // STRIDE) * STRIDE
    xs = np.zeros((len(items), 1, HEIGHT, w), np.float32)
    for i, (x, _) in enumerate(items):
        xs[i, 0, :, : x.shape[1]] = x
    targets = torch.tensor([classes.index(c) for _, t in items for c in t], dtype=torch.long)
    lens = torch.tensor([len(t) for _, t in items], dtype=torch.long)
    frames = torch.tensor([max(1, -(-x.shape[1] // STRIDE)) for x, _ in items], dtype=torch.long)
    return torch.from_numpy(xs), targets, lens, frames


# ------------------------------------------------------------------------------ training


def train(cfg: SequenceConfig, train_hands: list[compose.Hand], val_hands: list[compose.Hand], out: str,
          mnist: tuple[np.ndarray, np.ndarray] | None = None, log=print) -> dict:  # noqa: ANN001 (log: print-like)
    """Train on ``cfg.strings`` strings of ``train_hands`` and ``cfg.mnist`` of ``mnist``'s (images,
    labels: MNIST's train split), export to ``out``; -> the file's metadata."""
    if cfg.mnist and mnist is None:  # (before minutes of composing strings)
        raise ModelError("the recipe asks for MNIST strings, and no MNIST images were given")
    torch.manual_seed(cfg.seed)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    jobs = cfg.jobs or os.cpu_count() or 1
    t0 = time.time()
    classes = alphabet(cfg.separators)
    if cfg.separators:
        train_hands = with_drawn_separators(train_hands, cfg.seed)
    data = strings(train_hands, cfg.strings, TRAIN_SEED, cfg.touching, jobs, cfg.letters, cfg.separators)
    drawn_mnist = mnist_strings(*mnist, cfg.mnist, MNIST_SEED, cfg.touching, jobs) if cfg.mnist else []
    data += drawn_mnist
    val = strings(val_hands, cfg.val_strings, VAL_SEED, 1, jobs, 0.0, cfg.separators) \
        if val_hands and cfg.val_strings else []
    log(f"{len(data):,} training strings of {len(train_hands)} train writers' hands"
        f"{' and MNIST' if cfg.mnist else ''}, {len(val)} val strings "
        f"({time.time() - t0:.0f} s)")
    model = CRNN(len(classes) + 1)
    opt = torch.optim.Adam(model.parameters(), cfg.lr / 2)
    order = sorted(range(len(data)), key=lambda i: data[i][0].shape[1])  # similar widths share a batch
    chunks = [order[i:i + cfg.batch_size] for i in range(0, len(order), cfg.batch_size)]
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=cfg.epochs * len(chunks))
    ctc = nn.CTCLoss(blank=len(classes), zero_infinity=True)
    rng, hands = random.Random(cfg.seed), random.Random(cfg.seed + 1)

    def drawn(i: int) -> Item:
        x, t = data[i]
        return (distort(x, hands), t) if hands.random() < cfg.distort else (x, t)

    history = []
    for epoch in range(cfg.epochs):
        rng.shuffle(chunks)
        total = one_epoch(model, (batch([drawn(i) for i in idx], classes) for idx in chunks), ctc, opt, sched)
        row = {"epoch": epoch + 1, "loss": round(total / len(data), 4), "val_exact": exact(model, val, classes)}
        history.append(row)
        log(f"epoch {epoch + 1}/{cfg.epochs}: loss {row['loss']:.3f}, val writers' strings exact "
            f"{row['val_exact']:.1%} ({time.time() - t0:.0f} s)")
    m = machine_info()
    meta = {"kind": KIND, "version": VERSION, "alphabet": classes, "recipe": cfg.to_dict(), "history": history,
            "parameters": count_parameters(model), "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "training_time": f"{(time.time() - t0) / 60:.1f} min on {m['processor']} ({m['cpus']} threads, "
                             f"torch {m['torch']})", "machine": m,
            "trained_on": f"{len(data) - len(drawn_mnist):,} {'' if cfg.separators else 'digit '}strings composed of "
                          f"{len(train_hands)} train writers' pendigits and UNIPEN characters (split by writer; "
                          f"{sum(OTHER in t for _, t in data):,} with their letters"
                          + (f", {sum(any(c in compose.SEPARATORS for c in t) for _, t in data):,} with a number's "
                             f"separators, drawn where a writer never wrote one" if cfg.separators else "") + ")"
                          + (f" and {len(drawn_mnist):,} of MNIST training digits" if drawn_mnist else "")}
    meta = export(model, meta, out, [x for x, _ in (val or data)[:50]])
    write_atomically(card_path(out), sequence_card(meta).encode())
    return meta


def card_path(model_path: str | Path) -> Path:
    """runs/sequence.onnx -> runs/SEQUENCE_CARD.md (the shipped one: digitpad/models/SEQUENCE_CARD.md)."""
    p = Path(model_path)
    return p.with_name(p.stem.upper() + "_CARD.md")


def one_epoch(model: nn.Module, batches: Iterable[tuple[torch.Tensor, ...]], ctc: nn.CTCLoss,
              opt: torch.optim.Optimizer, sched: torch.optim.lr_scheduler.LRScheduler) -> float:
    """One pass of CTC training over ``batches`` (``batch``'s tuples), gradients clipped at norm 5;
    -> the loss summed over the strings."""
    model.train()
    total = 0.0
    for x, y, lens, frames in batches:
        loss = ctc(model(x), y, frames, lens)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        sched.step()
        total += loss.item() * len(x)
    return total


def exact(model: CRNN, items: list[Item], classes: str = ALPHABET) -> float:
    """Share of ``items`` whose best path is exactly their characters, each read alone (as served: in a
    batch, the shorter ones' padding would reach the bidirectional GRU)."""
    if not items:
        return float("nan")
    model.eval()
    right = 0
    with torch.no_grad():
        for x, t in items:
            p = model(batch([(x, t)], classes)[0])[:, 0].exp().numpy()  # (T, classes)
            right += "".join(e.char for e in best_path(p, classes)) == t
    return right / len(items)


def export(model: CRNN, meta: dict, path: str, parity_views: list[np.ndarray]) -> dict:
    """Write ``model`` as ONNX (input "image" (1, 1, HEIGHT, W), output "logp" (T, 1, classes))
    with ``meta``; ONNX Runtime must agree with torch on ``parity_views`` within PARITY_TOL."""
    import onnx

    model = model.eval()
    full = {**meta, "input": {"name": "image", "height": HEIGHT, "stride": STRIDE,
                              "content": "sequence.view: the page's soft ink in [0, 1], HEIGHT rows"},
            "output": {"name": "logp", "shape": ["T", 1, len(meta["alphabet"]) + 1], "blank": len(meta["alphabet"])}}
    buf = io.BytesIO()
    torch.onnx.export(model, (torch.zeros(1, 1, HEIGHT, 64),), buf, input_names=["image"], output_names=["logp"],
                      dynamic_axes={"image": {3: "W"}, "logp": {0: "T"}}, opset_version=OPSET, dynamo=False)
    proto = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(proto)
    import onnxruntime as ort

    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    diff = 0.0
    with torch.no_grad():
        for v in parity_views:
            x = batch([(v, "")])[0]
            diff = max(diff, float(np.abs(model(x).numpy() - sess.run(None, {"image": x.numpy()})[0]).max()))
    if diff > PARITY_TOL:
        raise ModelError(f"sequence model export parity failed: max |log-p diff| {diff:.2e} > {PARITY_TOL:g}")
    full["parity"] = {"views": len(parity_views), "max_abs_logp_diff": diff, "tolerance": PARITY_TOL}
    proto.doc_string = f"digitpad sequence model {meta['version']}"
    write_atomically(path, with_metadata(proto, full))
    SequenceModel(path)  # it loads as served
    return full

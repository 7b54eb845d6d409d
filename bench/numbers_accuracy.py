"""How well whole numbers are read: composed numbers and real ones, of HELD-OUT writers only.

    .venv/bin/python bench/numbers_accuracy.py                    # the full run (~15 min on 2 busy cores)
    .venv/bin/python bench/numbers_accuracy.py --n 40 --no-real   # a quick look
    .venv/bin/python bench/numbers_accuracy.py --failures runs/numbers-failures

Composed numbers (``digitpad.compose``) are built from the isolated characters of the writers
held out by ``compose.load_records(split="test")`` (UNIPEN: 30% of each lab's writers, seeded;
pendigits: ``split_by_writer(seed=0)``), which nothing in the reader was fitted or tuned on:
digit strings (``--n`` per layout: integers of 1-8 digits, 9-14 digits, years) and strings with
separators (prices, phone numbers, dates, times, percentages, decimals; only the held-out
writers who wrote those symbols); digit strings boxed, ringed or underlined (``compose.MARKINGS``,
spaced, each also read plain). The colour schemes rotate. Real numbers: UNIPEN
``numbers-dev`` of the held-out writers, with the vetted labels of
``bench/data/numbers-dev-vetted.json``, drawn on the page's canvas and as phone photos.

Each image is read as ``POST /api/read`` reads it (``NumberReader``: ``numbers.read_number``
with the shipped sequence model as step 10, ``DIGITPAD_SEQUENCE=false`` for the reader alone,
then a character the model calls ``other`` shown as ``?``, a lone digit read by the digit path)
and, in the same run, by a plain
connected-components baseline (8-connected components of the same ink mask, merged when their
boxes overlap horizontally by half the narrower one, each read by the model). Figures: exact
whole-string accuracy and character accuracy (1 - edit distance / length) by layout, by length,
by scheme, digits-only vs with separators, real numbers; how often the answer is flagged (its
status not ``ok``) when it is right and when it is wrong; the in-process CPU time per 6-character
number (p50, decode included); and lone digits (held-out pendigits and UNIPEN writers on the
page's canvas) through the number reader vs the single-digit path (what ``/api/predict``
answers: its digit field, and that digit as the page shows it, not when it says ``not_digit``). Prints tables
and one JSON line.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from digitpad import compose, numbers, pendigits
from digitpad.decode import Decoded, decode
from digitpad.engines import default as default_engine
from digitpad.numberreading import NumberReader, number_reader_for
from digitpad.predict import Predictor
from digitpad.reading import reader_for
from digitpad.runs import grow, joined, label_runs, paint, run_edges, runs_of
from digitpad.segment import components, finish, ink_page
from digitpad.settings import Settings

VETTED = Path(__file__).parent / "data" / "numbers-dev-vetted.json"
SEPARATOR_TEMPLATES = ["price", "phone", "date", "time", "percent", "decimal"]


def edit_distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def char_accuracy(truth: str, got: str) -> float:
    return max(0.0, 1 - edit_distance(truth, got) / max(1, len(truth)))


def error_kind(truth: str, got: str) -> str:
    """What went wrong in a misread number: only spaces; 'misread' (the right number of
    characters, some read wrong); 'split' (more characters: a character cut in two, a speck
    read); 'merged' (fewer: neighbours read as one, a character dropped)."""
    t, g = truth.replace(" ", ""), got.replace(" ", "")
    if t == g:
        return "space"
    return "misread" if len(t) == len(g) else "split" if len(g) > len(t) else "merged"


def baseline(img: Decoded, model: Predictor) -> str:
    """Plain connected components: 8-connected components of the reader's ink mask, merged when
    their boxes overlap horizontally by at least half the narrower one, left to right, each
    read by the model (its top class)."""
    page = ink_page(img, default_engine())
    if page is None:
        return ""
    row, start, end = runs_of(page.mask)
    lab, n = label_runs(len(row), *run_edges(row, start, end))
    comps = [c for c in components(row, start, end, lab, n) if c.area >= 4]
    groups: list[list] = []
    for c in sorted(comps, key=lambda c: c.x0):
        for g in groups:
            x0, x1 = min(p.x0 for p in g), max(p.x1 for p in g)
            if min(x1, c.x1) - max(x0, c.x0) >= 0.5 * min(x1 - x0, c.x1 - c.x0):
                g.append(c)
                break
        else:
            groups.append([c])
    images = []
    for g in sorted(groups, key=lambda g: min(p.x0 for p in g)):
        box = (min(p.y0 for p in g), max(p.y1 for p in g), min(p.x0 for p in g), max(p.x1 for p in g))
        mine = paint(*joined(g), box)
        img28 = finish(page.ink[box[0]:box[1], box[2]:box[3]] * grow(mine), page.noise, page.engine)
        if img28 is not None:
            images.append(img28)
    if not images:
        return ""
    probs = model.predict_batch(np.stack(images))
    return "".join(model.labels[int(k)] for k in probs.argmax(axis=1))


class Tally:
    """Exact and character accuracy per group, for the reader and the baseline; how often the
    reader's answer is flagged (status not ``ok``: what the page marks) when it is right and
    when it is wrong; the kinds of the reader's errors per group and its most frequent
    substitutions."""

    def __init__(self) -> None:
        self.rows: dict[str, list[tuple[bool, float, bool, float, bool]]] = defaultdict(list)
        self.kinds: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.swaps: dict[str, int] = defaultdict(int)

    def add(self, keys: list[str], truth: str, got: str, base: str, flagged: bool) -> None:
        row = (got == truth, char_accuracy(truth, got), base == truth, char_accuracy(truth, base), flagged)
        for k in keys:
            self.rows[k].append(row)
        if got != truth:
            self.kinds[keys[0]][error_kind(truth, got)] += 1
            t, g = truth.replace(" ", ""), got.replace(" ", "")
            if len(t) == len(g):
                for a, b in zip(t, g):
                    if a != b:
                        self.swaps[f"{a}->{b}"] += 1

    def errors(self) -> dict:
        print("errors by kind: " + "; ".join(f"{k}: " + ", ".join(f"{n} {kind}" for kind, n in sorted(v.items()))
                                            for k, v in self.kinds.items()))
        top = sorted(self.swaps.items(), key=lambda kv: -kv[1])[:10]
        print("most frequent misreads (truth->read): " + ", ".join(f"{k} x{n}" for k, n in top))
        return {"kinds": {k: dict(v) for k, v in self.kinds.items()}, "misreads": dict(top)}

    def table(self, title: str, order: list[str] | None = None) -> list[dict]:
        print(f"\n{title}\n| group | n | exact | char | baseline exact | baseline char | flagged: right / wrong |"
              "\n|---|---|---|---|---|---|---|")
        out = []
        for k in order or sorted(self.rows):
            if k not in self.rows:
                continue
            a = np.array(self.rows[k], dtype=np.float64)
            right = a[:, 0] == 1
            r = {"group": k, "n": len(a), "exact": a[:, 0].mean(), "char": a[:, 1].mean(),
                 "baseline_exact": a[:, 2].mean(), "baseline_char": a[:, 3].mean(),
                 "flagged_right": a[right, 4].mean() if right.any() else None,
                 "flagged_wrong": a[~right, 4].mean() if (~right).any() else None}
            out.append(r)
            flags = " / ".join("-" if r[f] is None else f"{r[f]:.0%}" for f in ("flagged_right", "flagged_wrong"))
            print(f"| {k} | {r['n']} | {r['exact']:.1%} | {r['char']:.1%} | {r['baseline_exact']:.1%} | "
                  f"{r['baseline_char']:.1%} | {flags} |")
        return out


DIGIT_SEED, SEPARATOR_SEED = 100, 200  # the seeds of the digit strings and of the strings with separators


def length_group(text: str) -> str:
    n = len(text.replace(" ", ""))
    return f"length {n}" if n <= 8 else "length 9+"


def separator_hands(hands: list[compose.Hand]) -> list[compose.Hand]:
    """The hands that wrote some of the separators (the strings with separators are theirs)."""
    return [h for h in hands if set(compose.SEPARATORS) & h.alphabet]


def composed(hands: list[compose.Hand], reader: NumberReader, n: int, templates: list[str], seed: int,
             schemes: list[str], failures: list) -> Tally:
    tally = Tally()
    for s in compose.samples(hands, n, templates, seed, schemes):
        answer = reader.read(s.image)
        got = answer["text"]
        base = baseline(decode(s.image), reader.reader.predictor)
        group = length_group(s.text)
        tally.add([s.layout, f"{s.layout} / {group}", f"scheme {s.scheme}", group, "all"],
                  s.text, got, base, answer["status"] != "ok")
        if got != s.text:
            failures.append((f"{s.layout} {s.scheme} {s.writer}", s.text, got, s.image))
    return tally


def marked_numbers(hands: list[compose.Hand], reader: NumberReader, n: int, schemes: list[str], failures: list) -> Tally:
    """Digit strings, spaced, each read plain and with each of ``compose.MARKINGS`` (a box or a
    ring drawn around it, a line under it): the same numbers, so the groups differ by the
    marking alone."""
    tally = Tally()
    r = random.Random(300)
    for i in range(n):
        hand = r.choice(hands)
        text = compose.random_text(r, hand, r.choice(list(compose.DIGIT_TEMPLATES)))
        scheme = schemes[i % len(schemes)]
        for how in (None,) + compose.MARKINGS:
            s = compose.compose(hand, text, "spaced", scheme, seed=300 + i, marked=how)
            got = reader.read(s.image)
            tally.add([how or "plain"], text, got["text"], baseline(decode(s.image), reader.reader.predictor),
                      got["status"] != "ok")
            if how and got["text"] != text:
                failures.append((f"{how} {scheme} {hand.writer}", text, got["text"], s.image))
    return tally


def real_numbers(records: list[dict], reader: NumberReader, schemes: list[str], failures: list) -> Tally:
    vet = json.loads(VETTED.read_text())
    tally = Tally()
    for rec in records:
        if rec["id"] in vet["exclude"]:
            continue
        label = vet["correct"].get(rec["id"], {}).get("label", rec["label"])
        kind = "digits" if label.isdigit() else "with separators"
        for scheme in schemes:
            png = compose.render_record(rec, scheme)
            answer = reader.read(png)
            got = answer["text"].replace(" ", "")  # labels have no spaces
            base = baseline(decode(png), reader.reader.predictor)
            tally.add([f"real {scheme}", f"real {scheme} / {kind}"], label, got, base, answer["status"] != "ok")
            if got != label and scheme == schemes[0]:
                failures.append((f"real {rec['writer']}", label, got, png))
    return tally


def timing(hands: list[compose.Hand], reader: NumberReader, n: int = 40) -> dict:
    """CPU ms per 6-digit number as /api/read reads it (decode to the answer's JSON-ready dict,
    previews included), per layout (p50, p90), and the images the model read."""
    r = random.Random(7)
    out = {}
    for layout in compose.LAYOUTS:
        pngs = [compose.compose(r.choice(hands), compose._digits(r, 6), layout, "pad", seed=i).image
                for i in range(n)]
        reader.read(pngs[0])  # warm
        ts, imgs = [], []
        for png in pngs:
            t = time.process_time()
            reader.read(png)
            ts.append((time.process_time() - t) * 1000)
            imgs.append(numbers.read_number(decode(png), reader.reader.predictor).candidates)
        out[layout] = {"p50_ms": float(np.median(ts)), "p90_ms": float(np.percentile(ts, 90)),
                       "images": float(np.mean(imgs))}
    return out


def lone_digits(records: list[dict], reader: NumberReader, limit: int) -> dict:
    """Isolated digits of held-out writers (``limit`` of each source, pendigits and UNIPEN, on
    the page's 280 canvas) read as ``POST /api/read`` and as ``POST /api/predict`` read them.
    Per source and in all: ``as_number`` (the text is the digit), ``single_digit_path`` (the
    digit field is the digit, whatever the status), ``single_digit_shown`` (the digit field is
    the digit and the status is not ``not_digit``: what the page shows; through /api/read the
    same refusal is a "?"), ``split`` (read as two characters or more)."""
    by_source: dict[str, list[dict]] = defaultdict(list)
    for rec in records:
        by_source[rec["source"]].append(rec)
    counts: dict[str, Counter] = {}
    for source, recs in sorted(by_source.items()):
        c = counts[source] = Counter()
        for rec in recs[:: max(1, len(recs) // limit)][:limit]:
            png = pendigits.render(rec, pendigits.STYLES["canvas-280"])
            answer = reader.read(png)  # POST /api/read
            one = reader.reader.read(png)  # POST /api/predict
            label = str(rec["label"])
            c.update(n=1, as_number=answer["text"] == label, single_digit_path=str(one.digit) == label,
                     single_digit_shown=str(one.digit) == label and one.status != "not_digit",
                     split=len(answer["characters"]) > 1)
    counts["all"] = sum(counts.values(), Counter())
    return {source: {"n": c["n"], **{k: c[k] / max(1, c["n"]) for k in
                                     ("as_number", "single_digit_path", "single_digit_shown", "split")}}
            for source, c in counts.items()}


def contact_sheet(failures: list, path: Path, limit: int = 60) -> None:
    tiles = []
    for what, truth, got, png in failures[:limit]:
        im = Image.open(io.BytesIO(png)).convert("RGBA")
        bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
        bg.alpha_composite(im)
        im = bg.convert("RGB")
        k = min(1.0, 680 / im.width, 150 / im.height)
        im = im.resize((max(1, int(im.width * k)), max(1, int(im.height * k))))
        tile = Image.new("RGB", (690, im.height + 16), "white")
        tile.paste(im, (0, 16))
        ImageDraw.Draw(tile).text((2, 2), f"{what}: {truth!r} read {got!r}", fill=(200, 0, 0))
        tiles.append(tile)
    if not tiles:
        return
    cols = 2
    heights = [max(t.height for t in tiles[i:i + cols]) for i in range(0, len(tiles), cols)]
    sheet = Image.new("RGB", (cols * 694, sum(heights) + 4 * len(heights)), "grey")
    y = 0
    for row, h in zip(range(0, len(tiles), cols), heights):
        for j, t in enumerate(tiles[row:row + cols]):
            sheet.paste(t, (j * 694, y))
        y += h + 4
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--unipen", default=os.environ.get("DIGITPAD_UNIPEN", "../shared/data/unipen"))
    ap.add_argument("--pendigits", default=os.environ.get("DIGITPAD_PENDIGITS",
                                                          "../shared/data/pendigits/trajectories-dev.jsonl.gz"))
    ap.add_argument("--model", default=None, help="a digitpad .onnx (default: the shipped int8 model)")
    ap.add_argument("--n", type=int, default=200, help="composed numbers per layout (digits; separators: half)")
    ap.add_argument("--schemes", default=",".join(compose.SCHEMES))
    ap.add_argument("--no-real", action="store_true")
    ap.add_argument("--split", choices=["val", "test"], default="test",
                    help="whose numbers: the validation writers (what the reader is tuned on) or the test writers (reported)")
    ap.add_argument("--failures", default=None, help="folder for contact sheets of the misread numbers")
    args = ap.parse_args(argv)
    model = Predictor(args.model)
    reader = number_reader_for(Settings(), reader_for(Settings(), model))  # what POST /api/read answers
    seq = reader.sequence.version if reader.sequence else "off (DIGITPAD_SEQUENCE=false)"
    schemes = args.schemes.split(",")
    recs = compose.load_records(args.unipen, args.pendigits, split=args.split)
    hands = compose.hands_of(recs)
    sep_hands = separator_hands(hands)
    print(f"{args.split} writers: {len(hands)} with all ten digits ({len(sep_hands)} with separators); "
          f"model {model.version} ({len(model.labels)} classes); sequence model {seq}")
    fail_digits: list = []
    fail_seps: list = []
    fail_real: list = []
    t0 = time.time()
    res: dict = {"model": model.version}
    digits = composed(hands, reader, args.n, list(compose.DIGIT_TEMPLATES), DIGIT_SEED, schemes, fail_digits)
    res["digits"] = digits.table("Composed digit strings, held-out writers", list(compose.LAYOUTS) + [
        f"{lay} / length {k}" for lay in compose.LAYOUTS for k in list(range(1, 9)) + ["9+"]]
        + [f"scheme {s}" for s in schemes] + ["all"])
    res["digit_errors"] = digits.errors()
    if sep_hands:
        seps = composed(sep_hands, reader, args.n // 2, SEPARATOR_TEMPLATES, SEPARATOR_SEED, schemes, fail_seps)
        res["separators"] = seps.table("Composed strings with separators, held-out writers",
                                       list(compose.LAYOUTS) + ["all"])
        res["separator_errors"] = seps.errors()
    marked = marked_numbers(hands, reader, args.n // 2, schemes, fail_digits)
    res["marked"] = marked.table("Digit strings boxed, ringed or underlined (spaced), held-out writers",
                                 ["plain", *compose.MARKINGS])
    if not args.no_real:
        real = real_numbers(recs["numbers"], reader, ["pad", "photo"], fail_real)
        res["real"] = real.table("Real UNIPEN numbers of held-out writers (vetted labels)")
        res["real_errors"] = real.errors()
    res["time_6_digits"] = timing(hands, reader)
    print("\nCPU per 6-digit number (decode + read, in-process):")
    for k, v in res["time_6_digits"].items():
        print(f"  {k}: p50 {v['p50_ms']:.2f} ms, p90 {v['p90_ms']:.2f} ms, {v['images']:.1f} images read")
    res["lone_digits"] = lone_digits(recs["digits"], reader, 600)
    print("\nlone digits of held-out writers (canvas-280): /api/read vs /api/predict")
    print("| source | n | /api/read exact | /api/predict digit | /api/predict shown | split in two+ |\n|---|---|---|---|---|---|")
    for source, ld in res["lone_digits"].items():
        print(f"| {source} | {ld['n']} | {ld['as_number']:.2%} | {ld['single_digit_path']:.2%} | "
              f"{ld['single_digit_shown']:.2%} | {ld['split']:.2%} |")
    if args.failures:
        out = Path(args.failures)
        contact_sheet(fail_digits, out / "digits.png")
        contact_sheet(fail_seps, out / "separators.png")
        contact_sheet(fail_real, out / "real.png")
        print(f"contact sheets of the failures in {out}/")
    res["seconds"] = round(time.time() - t0)
    print(json.dumps(res, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The sequence model (``digitpad.sequence``) and the reader's step 10: its input is the page's
ink at 32 rows with its mass kept; CTC's best path merges repeats and drops blanks; the shipped
model reads held-out writers' touching digit strings that the reader's cuts cannot, with each
character boxed over its own ink, and numbers whose digits do not touch where the reader doubts a
character; a lone digit is never split; and it is a setting (on by default, off with
--no-sequence). Real data (pendigits, UNIPEN test writers), no torch."""

from __future__ import annotations

import io
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from digitpad import compose, engines, numbers
from digitpad import sequence as sequence_module
from digitpad.decode import decode
from digitpad.errors import ModelError
from digitpad.numberreading import number_reader_for
from digitpad.predict import Predictor
from digitpad.reading import reader_for
from digitpad.segment import ink_page
from digitpad.sequence import HEIGHT, MAX_WIDTH, OTHER, STRIDE, Emitted, SequenceModel, best_path, view
from digitpad.settings import Settings

TOUCHING = 40  # held-out writers' touching digit strings read with and without step 10
SEPARATED = 30  # held-out writers' touching dates, times and phone numbers, the same
DOUBTED = 150  # held-out writers' spaced, and as many tight, numbers of every template, the same
LETTERS = 120  # held-out writers' letters read with and without it


@pytest.fixture(scope="module")
def model(shipped_model: Path) -> Predictor:
    return Predictor(shipped_model)


@pytest.fixture(scope="module")
def sequence() -> SequenceModel:
    return SequenceModel()


@pytest.fixture(scope="module")
def touching(unipen_dir: Path, pendigits_path: Path) -> list[compose.Sample]:
    hands = compose.load_hands(unipen_dir, pendigits_path, split="test")
    out = []
    for seed in range(TOUCHING):
        r = random.Random(7000 + seed)
        text = None
        while not text:
            hand = r.choice(hands)
            text = compose.random_text(r, hand, r.choice(["integer", "year"]))
        if len(text) > 1:
            out.append(compose.compose(hand, text, "touching", r.choice(list(compose.SCHEMES)), seed=seed))
    return out


def _png(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "PNG")
    return buf.getvalue()


def test_the_view_is_the_inks_crop_at_32_rows_with_its_mass_kept(touching):
    page = ink_page(decode(touching[0].image), engines.default())
    v = view(page)
    ys, xs = np.nonzero(page.mask)
    crop = page.v[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    h = crop.shape[0] + 2 * v.pad
    assert v.x.dtype == np.float32 and v.x.shape[0] == HEIGHT
    assert v.x.shape[1] == round((crop.shape[1] + 2 * v.pad) * HEIGHT / h)
    assert 0 <= v.x.min() and v.x.max() <= 1
    # area resampling keeps the ink's mass, scaled by the two axes' factors
    assert v.x.sum() == pytest.approx(crop.sum() * (HEIGHT / h) * v.scale_x, rel=1e-4)
    assert (v.y0, v.x0) == (ys.min(), xs.min())


def test_a_long_line_is_squeezed_to_the_widest_input():
    a = np.full((60, 4000), 255, np.uint8)
    a[20:40, 50:3950:8] = 0  # a long row of strokes
    v = view(ink_page(decode(_png(a)), engines.default()))
    assert v.x.shape == (HEIGHT, MAX_WIDTH)
    assert v.x[:, :8].sum() > 0 and v.x[:, -8:].sum() > 0  # both ends are in the view


def test_best_path_merges_repeats_and_drops_blanks():
    alphabet, blank = "0123456789", 10
    labels = [blank, 3, 3, blank, 3, 7, 7, blank, blank, 1]
    p = np.full((len(labels), 11), 0.01)
    for t, k in enumerate(labels):
        p[t, k] = 0.9 - 0.05 * t
    got = best_path(p, alphabet)
    assert "".join(e.char for e in got) == "3371"
    assert [(e.t0, e.t1) for e in got] == [(1, 2), (4, 4), (5, 6), (9, 9)]
    assert got[0].confidence == pytest.approx(0.85) and got[2].confidence == pytest.approx(0.65)  # its best frame
    assert best_path(np.eye(11)[[blank] * 4], alphabet) == []


def _emitted(ch: str, t: int) -> Emitted:
    return Emitted(ch, 1.0, t, t, np.zeros(12))


def test_neighbours_part_at_their_gap_never_in_the_margin():
    """CTC may emit a first character over the view's blank left margin (frame 0): the cut is then
    the gap after its ink (its box and 28x28 its own ink), not the margin; touching, the midpoint;
    a last frame over the gap itself parts there."""
    cols = np.array([0.0] * 3 + [1.0] * 10 + [0.0] + [1.0] * 10 + [0.0] * 3)  # margin, '1', gap, '9', margin
    assert sequence_module._cut(cols, _emitted("1", 0), _emitted("9", 3)) == 13.5
    touching = cols.copy()
    touching[13] = 1.0
    assert sequence_module._cut(touching, _emitted("1", 0), _emitted("9", 3)) == (0 + 3 + 1) / 2 * STRIDE
    cols = np.array([0.0] * 3 + [1.0] * 9 + [0.0] * 4 + [1.0] * 10 + [0.0] * 3)  # gap at columns 12-15
    assert sequence_module._cut(cols, _emitted("1", 3), _emitted("9", 5)) == 12.5  # (frame 3: columns 12-15)


def test_a_digit_model_or_a_missing_file_is_no_sequence_model(shipped_model: Path, tmp_path: Path):
    with pytest.raises(ModelError, match="not a digitpad sequence model"):
        SequenceModel(shipped_model)
    with pytest.raises(ModelError, match="cannot read"):
        SequenceModel(tmp_path / "nothing.onnx")


def test_the_shipped_model_describes_itself(sequence: SequenceModel):
    m = sequence.metadata
    # digits and a number's separators (its recipe's share of strings with them), then OTHER
    assert m["kind"] == "sequence" and m["alphabet"] == "0123456789" + compose.SEPARATORS + OTHER
    assert m["recipe"]["separators"] > 0 and m["alphabet"] == sequence.alphabet
    assert m["input"] == {**m["input"], "height": HEIGHT, "stride": STRIDE}
    assert m["parity"]["max_abs_logp_diff"] <= m["parity"]["tolerance"]
    assert m["recipe"]["strings"] >= 1000 and "train writers" in m["trained_on"] and m["recipe"]["letters"] > 0
    assert m["parameters"] > 100_000 and m["history"][-1]["epoch"] == m["recipe"]["epochs"]


def test_step_10_reads_touching_digits_the_cuts_cannot(touching, model, sequence):
    """Held-out writers' touching strings: the reader alone, then with the sequence model."""
    alone = [numbers.read_number(decode(s.image), model) for s in touching]
    both = [numbers.read_number(decode(s.image), model, sequence=sequence) for s in touching]
    right_alone = sum(r.text == s.text for r, s in zip(alone, touching))
    right_both = sum(r.text == s.text for r, s in zip(both, touching))
    assert right_both >= right_alone + len(touching) // 4, (right_alone, right_both)  # (23 -> 35 of 39 when written)
    won = [(r, s) for r, a, s in zip(both, alone, touching) if r.text != a.text and r.text == s.text]
    assert won
    for r, s in won:  # each character boxed over its own ink: its box's middle inside the true box
        mids = [c.box[0] + c.box[2] / 2 for c in r.characters]
        assert mids == sorted(mids)
        inside = sum(x0 <= m <= x1 for m, (x0, _, x1, _) in zip(mids, s.boxes))
        assert inside >= len(mids) - 1, (s.text, r.text, mids, s.boxes)
        for c in r.characters:
            assert c.image.shape == (28, 28) and c.image.max() > 0  # what the page shows for it
            assert abs(sum(c.scores.values()) - 1) < 1e-6 and c.char not in dict(c.alternatives)


def test_step_10_reads_touching_dates_and_phone_numbers_whole(unipen_dir: Path, pendigits_path: Path, model, sequence):
    """Held-out writers' touching strings with separators: a model trained with them (the shipped
    one) re-reads them whole where the reader cut digits, '-', '/' and ':' and all."""
    hands = [h for h in compose.load_hands(unipen_dir, pendigits_path, split="test") if set("-/:") & h.alphabet]
    samples, r = [], random.Random(8000)
    while len(samples) < SEPARATED:
        hand = r.choice(hands)
        text = compose.random_text(r, hand, r.choice(["date", "time", "phone"]))
        if text and set(text) & set("-/:"):
            samples.append(compose.compose(hand, text, "touching", r.choice(list(compose.SCHEMES)), seed=len(samples)))
    alone = [numbers.read_number(decode(s.image), model).text for s in samples]
    both = [numbers.read_number(decode(s.image), model, sequence=sequence).text for s in samples]
    right_alone = sum(a == s.text for a, s in zip(alone, samples))
    right_both = sum(b == s.text for b, s in zip(both, samples))
    assert right_both >= right_alone + len(samples) // 5, (right_alone, right_both)  # (17 -> 27 of 30 when written; seqnet-1.3: 17)
    assert any(b == s.text and b != a for a, b, s in zip(alone, both, samples))  # (each has a separator)


def test_step_10_reads_again_where_the_reader_doubts(unipen_dir: Path, pendigits_path: Path, model, sequence,
                                                     monkeypatch: pytest.MonkeyPatch):
    """Held-out writers' spaced and tight numbers of every template (digits that do not touch): where
    the reader doubts a character, the sequence model's sure reading is kept (a '1' the reader read
    as '4', a ',' as '9'), right far more often than the reading it replaces."""
    hands = compose.load_hands(unipen_dir, pendigits_path, split="test")
    r, samples = random.Random(9200), []
    for layout in ("spaced", "tight"):
        while len(samples) < DOUBTED * (1 + (layout == "tight")):
            hand = r.choice(hands)
            text = compose.random_text(r, hand, r.choice(list(compose.TEMPLATES)))
            if text:
                samples.append(compose.compose(hand, text, layout, r.choice(list(compose.SCHEMES)), seed=len(samples)))
    both = [numbers.read_number(decode(s.image), model, sequence=sequence).text for s in samples]
    monkeypatch.setattr(numbers, "SEQ_DOUBT", 0.0)  # step 10 where digits touch only, as before
    touching_only = [numbers.read_number(decode(s.image), model, sequence=sequence).text for s in samples]
    changed = [(s.text, t, b) for t, b, s in zip(touching_only, both, samples) if t != b]
    right, was_right = sum(b == text for text, _, b in changed), sum(t == text for text, t, _ in changed)
    # (7 of 300 changed when written: 5 now right, 1 right before)
    assert right >= 3 and right >= 2 * was_right + 1, changed


def test_step_10_keeps_the_sequence_models_separators_where_it_reads_the_readers_digits(
        unipen_dir: Path, pendigits_path: Path, model, sequence, monkeypatch: pytest.MonkeyPatch):
    """Held-out writers' touching numbers with separators: where the sequence model reads the
    reader's digits, no character fewer and SEQ_SAME sure, its reading is kept even when the
    reader is surer (the reader's marks are small pieces it may drop or misread by shape alone:
    "631-2183497", "-498,6"); right far more often than the reading it replaces (4 of 100, none
    right before, when written)."""
    hands = [h for h in compose.load_hands(unipen_dir, pendigits_path, split="test") if set(compose.SEPARATORS) & h.alphabet]
    templates = [t for t in compose.TEMPLATES if t not in compose.DIGIT_TEMPLATES]
    samples = [s for s in compose.samples(hands, 100, templates, 9301, list(compose.SCHEMES)) if s.layout == "touching"]
    both = [numbers.read_number(decode(s.image), model, sequence=sequence).text for s in samples]
    monkeypatch.setattr(numbers, "SEQ_SAME", 1.1)  # a confidence no reading has: as before
    before = [numbers.read_number(decode(s.image), model, sequence=sequence).text for s in samples]
    changed = [(s.text, t, b) for t, b, s in zip(before, both, samples) if t != b]
    right, was_right = sum(b == text for text, _, b in changed), sum(t == text for text, t, _ in changed)
    assert right >= 2 and right >= 2 * was_right + 1, changed


def test_the_sequence_models_reading_obeys_the_numbers_grammar(
        unipen_dir: Path, pendigits_path: Path, model, sequence, monkeypatch: pytest.MonkeyPatch):
    """Held-out writers' touching numbers with a character the grammar places ('(', ')', '/',
    '%'): the grammar has the last word on the sequence model's reading as on the reader's (a
    straight '(' it reads as a 1 is the '(' that the ')' needs: "1567) 916-7333"); more read
    right than with its best path as it stands, none read right that way lost. (Val writers, 2 x
    2,700 numbers: 16 gained, none lost; these 100 touching numbers: 1 gained when written.)"""
    hands = [h for h in compose.load_hands(unipen_dir, pendigits_path, split="test") if set(compose.SEPARATORS) & h.alphabet]
    templates = [t for t in compose.TEMPLATES if t not in compose.DIGIT_TEMPLATES]
    samples = [s for s in compose.samples(hands, 100, templates, 9401, list(compose.SCHEMES))
               if s.layout == "touching" and set(s.text) & set("()/%")]
    both = [numbers.read_number(decode(s.image), model, sequence=sequence).text for s in samples]
    monkeypatch.setattr(sequence_module, "rankings", lambda scores: [sorted(s.items(), key=lambda kv: -kv[1]) for s in scores])
    raw = [numbers.read_number(decode(s.image), model, sequence=sequence).text for s in samples]
    right = {k for k, s in enumerate(samples) if both[k] == s.text}
    was_right = {k for k, s in enumerate(samples) if raw[k] == s.text}
    assert was_right <= right and len(right) > len(was_right), [(s.text, raw[k], both[k]) for k, s in enumerate(samples)
                                                                 if raw[k] != both[k]]


def test_a_lone_digit_is_never_split(touching, unipen_dir: Path, pendigits_path: Path, model, sequence):
    hands = compose.load_hands(unipen_dir, pendigits_path, split="test")
    r = random.Random(5)
    for k in range(30):
        hand = r.choice(hands)
        d = r.choice(sorted(hand.alphabet & set("0123456789")))
        s = compose.compose(hand, d, "spaced", r.choice(list(compose.SCHEMES)), seed=k)
        got = numbers.read_number(decode(s.image), model, sequence=sequence)
        assert len(got.text) == 1, (d, got.text)


def test_step_10_is_a_setting(touching, shipped_model: Path, tmp_path: Path):
    reader = reader_for(Settings(), Predictor(shipped_model))
    assert number_reader_for(Settings(sequence=False), reader).sequence is None
    assert number_reader_for(Settings(), reader).sequence is not None
    with pytest.raises(ModelError):
        number_reader_for(Settings(sequence_model=tmp_path / "missing.onnx"), reader)
    img = tmp_path / "n.png"
    img.write_bytes(touching[0].image)
    cli = [sys.executable, "-m", "digitpad.cli", "read", str(img)]
    bad = subprocess.run([*cli, "--sequence-model", str(tmp_path / "missing.onnx")], capture_output=True, text=True)
    assert bad.returncode != 0 and "cannot read the sequence model" in bad.stderr and "Traceback" not in bad.stderr
    assert subprocess.run([*cli, "--no-sequence"], capture_output=True, text=True).returncode == 0
    info = [sys.executable, "-m", "digitpad.cli", "info"]
    on = subprocess.run(info, capture_output=True, text=True).stdout
    off = subprocess.run([*info, "--no-sequence"], capture_output=True, text=True).stdout
    assert f"sequence:   {SequenceModel().version}" in on and "sequence:   off" in off


def test_letters_stay_letters(unipen_dir: Path, pendigits_path: Path, shipped_model: Path):
    """Held-out writers' letters through /api/read's reader: the sequence model, trained to call a
    letter OTHER, does not turn what the reader calls no number into digits."""
    letters = compose.load_records(unipen_dir, pendigits_path, split="test")["letters"][:LETTERS]
    reader = reader_for(Settings(), Predictor(shipped_model))
    statuses = {}
    for on in (False, True):
        numbers_reader = number_reader_for(Settings(sequence=on), reader)
        statuses[on] = [numbers_reader.read(compose.render_record(r, "pad"))["status"] for r in letters]
    alone = sum(s == "not_number" for s in statuses[False])
    assert alone >= len(letters) // 3  # (the reader's own: 54 of 120 when written; many letters look like digits)
    assert sum(s == "not_number" for s in statuses[True]) >= alone - len(letters) // 20, statuses

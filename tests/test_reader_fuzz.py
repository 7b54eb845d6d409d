"""Property-based fuzzing of the number reader (and the one-digit preprocessing) on image CONTENT (``tests/test_fuzz.py`` fuzzes the
HTTP API's shapes, where an image is mostly bytes that do not decode).

Generated pictures, valid as images but odd as numbers: specks scattered over a page, lines of
any width and length, noise, checkerboards, gradients, grids, a lone bar, from 1 pixel to a few
thousand, in PNG or JPEG, grey, RGB or with alpha. Each must be read: a ``Reading`` or one of
the reader's own errors (``DigitpadError``: an image too large), never another exception (which
``/api/read`` turns into a 400 "could not be read as a number" and a traceback in the log), and
without numpy warnings. Three such failures were found this way (tests/data/fuzz, and
``tests/test_numbers.py``'s dust and minus cases). Bounded for CI by ``DIGITPAD_FUZZ_EXAMPLES``.

    .venv/bin/python -m pytest tests/test_reader_fuzz.py -q
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from picture_support import KINDS, picture

from digitpad import numbers
from digitpad.decode import decode
from digitpad.errors import DigitpadError
from digitpad.predict import Predictor
from digitpad.preprocess import to_mnist

EXAMPLES = int(os.environ.get("DIGITPAD_FUZZ_EXAMPLES", "100"))


@pytest.fixture(scope="module")
def model(shipped_model: Path) -> Predictor:
    return Predictor(shipped_model)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(KINDS), w=st.integers(1, 2500), h=st.integers(1, 1500), seed=st.integers(0, 2**16),
       mode=st.sampled_from(["L", "RGB", "RGBA", "LA"]), fmt=st.sampled_from(["PNG", "JPEG"]))
def test_any_picture_is_read_or_refused_by_the_readers_own_errors(model, kind, w, h, seed, mode, fmt):
    data = picture(kind, w, h, seed, mode, fmt)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            reading = numbers.read_number(decode(data), model)
        except DigitpadError:
            return
    assert isinstance(reading.text, str) and len(reading.characters) == len(reading.text.replace(" ", ""))


@settings(max_examples=EXAMPLES, deadline=None)
@given(kind=st.sampled_from(KINDS), w=st.integers(1, 2500), h=st.integers(1, 1500), seed=st.integers(0, 2**16),
       mode=st.sampled_from(["L", "RGB", "RGBA", "LA"]), fmt=st.sampled_from(["PNG", "JPEG"]))
def test_any_picture_is_preprocessed_for_one_digit(kind, w, h, seed, mode, fmt):
    """``/api/predict``'s path: ``to_mnist`` (which ``preprocess`` wraps, turning any other
    exception into a 400 "could not be processed") gives a 28x28 or "empty" for every picture."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pre = to_mnist(decode(picture(kind, w, h, seed, mode, fmt)))
    assert pre.empty or pre.image.shape == (28, 28)

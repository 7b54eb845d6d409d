"""The classes of the one model: ten digits, the ten other characters people write inside
numbers, and ``other`` (anything that is not a character of a number).

    CLASSES[i]             # "0".."9", "-", ".", ",", "/", ":", "(", ")", "+", "$", "%", "other"
    class_index("7")       # 7;  class_index(7) is 7 too (pendigits labels are ints)
    class_index("$")       # 18
    class_index("A")       # 20 (OTHER)
    training_class("O")    # None: a digit-like letter is never trained as ``other``

The order is fixed (digits first, so a class index below 10 *is* the digit): model files,
datasets and benchmarks all index this tuple. Digit-like letters (O/o and 0, l/I/| and 1, S/s
and 5, Z/z and 2, B and 8, b and 6, g/q and 9, G and 6, issue 16) are characters people write
as digits, so they are reported apart and never taught as ``other``. ``NEAR_NUMBER`` lists
symbols that, isolated and size-normalised to 28x28, look the same as a number character
(an underscore is a dash, an apostrophe a comma): not trained as ``other`` either, by default.
"""

from __future__ import annotations

DIGITS = "0123456789"
NUMBER_SYMBOLS = "-.,/:()+$%"
NUMBER_ALPHABET = DIGITS + NUMBER_SYMBOLS
OTHER_NAME = "other"
CLASSES: tuple[str, ...] = (*NUMBER_ALPHABET, OTHER_NAME)  # 21 names, index = class
OTHER = len(CLASSES) - 1  # 20
NUM_CLASSES = len(CLASSES)

# Letters (and '|') that people's digits look like: the digit each is read as.
DIGIT_LIKE: dict[str, int] = {
    "O": 0, "o": 0, "l": 1, "I": 1, "|": 1, "S": 5, "s": 5, "Z": 2, "z": 2,
    "B": 8, "b": 6, "g": 9, "q": 9, "G": 6,
}

# Symbols outside the number alphabet that a single 28x28 crop cannot tell from one inside it
# (position and size on the line are gone after preprocessing): the number character each
# looks like. Excluded from ``other`` in training; a bench may report them apart.
NEAR_NUMBER: dict[str, str] = {"_": "-", "~": "-", "'": ",", "`": ","}

_INDEX = {c: i for i, c in enumerate(CLASSES)}


def class_index(label: str | int) -> int:
    """The class of a character label: its index in CLASSES, or OTHER for anything outside
    the number alphabet (letters, other symbols, doodles). Ints 0-9 are digits."""
    if isinstance(label, int) and not isinstance(label, bool):
        if not 0 <= label <= 9:
            raise ValueError(f"digit labels are 0-9, got {label}")
        return label
    return _INDEX.get(str(label), OTHER)


def is_digit_like(label: str | int) -> bool:
    """True for the letters people's digits look like (see DIGIT_LIKE)."""
    return isinstance(label, str) and label in DIGIT_LIKE


def training_class(label: str | int, *, near_number: bool = False) -> int | None:
    """The class to train ``label`` as, or None when it must not be trained at all: the
    digit-like letters, and (unless ``near_number``) the NEAR_NUMBER symbols."""
    if is_digit_like(label):
        return None
    if not near_number and isinstance(label, str) and label in NEAR_NUMBER:
        return None
    return class_index(label)

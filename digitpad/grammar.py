"""What a character's place in a number allows: step 8's last word on each character of the
path the search chose (``numbers``), from the classes' scores alone.

    ranked = rankings([c.scores for c in path])   # per character: [(class, score), ...], best first

- No number starts with '/' or ')' (NOT_FIRST), nor ends with '/' (NOT_LAST), nor has a '('
  that no ')' after it closes: there, the best other class (a leaning or curved 1).
- A date's two slashes are alike (``date_slash``): where one is read and a digit stands
  where the other goes, that digit is the '/' when the model gives '/' DATE_SLASH of its say.
- A ')' closes a '(' (``paren_open``): where none opens it, the character before it that the
  model gives the most '(', at least PAREN_OPEN of its say, is the '('; where a '(' is read and
  none closes it (``paren_close``), the character after it most like a ')', PAREN_CLOSE, is the ')'.
- A '%' ends a number (``percent_end``): a last digit after a digit is the '%' when the model
  gives '%' PERCENT_END of its say (on the val writers, no right last digit has that much).
- A '/' stands in numbers of a slash's shape (``slash_place``: SLASH_NUMBERS, a date, a fraction,
  an area code's slash): in any other, a '/' is the 1 when the model gives '1' SLASH_ONE of its say.

The browser's twin is ``static/grammar.js`` (its constants from ``static/numbers-params.json``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .charset import DIGITS

NOT_FIRST = "/)"  # characters no number starts with ...
NOT_LAST = "/"  # ... or ends with (there, the next best: a leaning or curved 1); nor has it a '('
# that no ')' after it closes (val: a curved 1 read "(" in "23072(20", "(926")
DATE_SLASH = 0.05  # a digit where a date's second '/' goes is that '/' when the model gives '/' this share of
# it (val writers' "1/20/2033" read "1/2012033": the second slash 0.66 '1', 0.33 '/'; separators 93 -> 94%
# spaced, 68 -> 69% touching, nothing else moved)
DATES = r"\d{1,2}/\d{1,2}/(\d{2}|\d{4})|\d{4}/\d{1,2}/\d{1,2}"  # m/d/yyyy, d/m/yy, yyyy/m/d (a whole string)
_DATES = re.compile(DATES)
PAREN_OPEN = 0.001  # a ')' that no '(' opens: the character before it most like a '(' is one when the model gives
# '(' this share of it (val writers' "(475) 501-6852" read "1475) 501-6852"; 2 x 900 strings with separators:
# 0.01 mended 4, 0.001 mended 6, 0 made "1(923)"; no right reading has a ')' that nothing opens)
PERCENT_END = 0.025  # a number's last digit is a '%' when the model gives '%' this share of it: on the val
# writers' composed numbers, 0.052-0.29 for the six '%' read as digits ("38%" read "389"), 0.0104 at most
# for 872 right last digits (the middle of the gap, on a log scale)
_slashed = r"(\d{1,4}/\d{1,4}|\d{1,4}/\d{1,2}/\d{1,4})"  # a fraction, m/d or d/m, a month's year, "24/7", a date
SLASH_NUMBERS = rf"{_slashed}(-{_slashed})?(\d{{1,2}}:\d{{2}})?|0\d{{2,4}}/\d{{3,8}}"  # whole strings a '/' stands in
# (their characters, spaces unseen): those, a range of them ("1/5-1/9"), a date and its time ("12/31/2024 10:30"),
# an area code's slash ("0721/123456")
_SLASH_NUMBERS = re.compile(SLASH_NUMBERS)
PAREN_CLOSE = 0.01  # a '(' that no ')' closes: the character after it most like a ')' is one when the model gives
# ')' this share of it (val writers' "(338) 750-7229" read "(3387 750-7229"; fresh val seeds: strings with
# separators +5 of 1,800 at 0.01 and at 0.001, digit strings unchanged: the stricter)
SLASH_ONE = 0.05  # elsewhere a '/' is the 1 when the model gives '1' this share of it (val writers' "48770133591" read
# "48770/33591": '1' 0.14-0.48 for the 8 such 1s in 3,300 composed numbers; DATE_SLASH's share, the other way)

Ranking = list[tuple[str, float]]


def rankings(scores: list[dict[str, float]]) -> list[Ranking]:
    """Each character's classes (``scores``: one dict per character, in reading order), best
    first where its place allows them."""
    out = paren_close([sorted(s.items(), key=lambda kv: -kv[1]) for s in scores])
    closes = [k for k, ranked in enumerate(out) if ranked[0][0] == ")"]
    for k, ranked in enumerate(out):
        banned = (NOT_FIRST if k == 0 else "") + (NOT_LAST if k == len(out) - 1 else "")
        if not any(j > k for j in closes):
            banned += "("  # a '(' opens what a ')' after it closes ("(408) 975-3621")
        if ranked[0][0] in banned and any(ch not in banned for ch, _ in ranked):
            out[k] = [r for r in ranked if r[0] not in banned] + [r for r in ranked if r[0] in banned]
    return percent_end(slash_place(date_slash(paren_open(out))))


def date_slash(ranked: list[Ranking]) -> list[Ranking]:
    """A date has two slashes ("4/15/2022", "2022/4/15"): where one of them is read and the
    other place holds a digit that the model reads as '/' with a share of at least DATE_SLASH
    (a slash leaning like the writer's 1s: "4/1512022"), that digit is the '/'. Of several such
    places, the one most like a '/'."""
    top = "".join(r[0][0] for r in ranked)
    if top.count("/") != 1:
        return ranked
    places = [k for k in range(len(ranked)) if top[k] in DIGITS and _DATES.fullmatch(top[:k] + "/" + top[k + 1:])]
    return _likeliest(ranked, places, "/", DATE_SLASH)


def slash_place(ranked: list[Ranking]) -> list[Ranking]:
    """A '/' stands between a number's parts in few shapes (SLASH_NUMBERS: "3/4", "12/25",
    "4/15/2022", "0721/123456"): in any other string ("48770/33591", "480-/584") each '/' that
    the model reads as '1' with a share of at least SLASH_ONE is the 1 (a 1 leaning past the
    writer's other digits)."""
    top = "".join(r[0][0] for r in ranked)
    if "/" not in top or _SLASH_NUMBERS.fullmatch(top):
        return ranked
    for k, r in enumerate(ranked):
        if top[k] == "/" and _share(r, "1") >= SLASH_ONE:
            ranked[k] = _first(r, "1")
    return ranked


def paren_close(ranked: list[Ranking]) -> list[Ranking]:
    """A '(' opens what a ')' after it closes: where a '(' is read and no ')' after it, the
    character after the next that the model reads as ')' with the largest share, at least
    PAREN_CLOSE, is the ')' (a ')' drawn straight reads as a 7 or a 1 first: "(3387 750-7229").
    Else the '(' is no '(' (``rankings``' ban)."""
    top = "".join(r[0][0] for r in ranked)
    opened = top.find("(")
    if opened < 0 or ")" in top[opened:]:
        return ranked
    return _likeliest(ranked, range(opened + 2, len(ranked)), ")", PAREN_CLOSE)


def paren_open(ranked: list[Ranking]) -> list[Ranking]:
    """A ')' closes a '(' before it ("(408) 975-3621"): where a ')' is read and no '(' before
    it, the character before it that the model reads as '(' with the largest share, at least
    PAREN_OPEN, is the '(' (a '(' drawn straight reads as a 1 first: "1408) 975-3621")."""
    top = "".join(r[0][0] for r in ranked)
    close = top.find(")")
    if close < 0 or "(" in top[:close]:
        return ranked
    return _likeliest(ranked, range(close), "(", PAREN_OPEN)


def percent_end(ranked: list[Ranking]) -> list[Ranking]:
    """A '%' comes at the end of a number, after a digit ("38%", "24.2%"): a last digit after a
    digit that the model reads as '%' with a share of at least PERCENT_END is the '%' (a '%'
    whose slash ran into its upper ring reads as a 9 or a 2 first)."""
    if len(ranked) < 2 or ranked[-1][0][0] not in DIGITS or ranked[-2][0][0] not in DIGITS:
        return ranked
    if _share(ranked[-1], "%") >= PERCENT_END:
        ranked[-1] = _first(ranked[-1], "%")
    return ranked


def _likeliest(ranked: list[Ranking], places: Iterable[int], ch: str, least: float) -> list[Ranking]:
    """``ranked`` with ``ch`` first at the one of ``places`` whose scores give ``ch`` the largest
    share, at least ``least`` (of equal shares, the last); unchanged where none gives that much."""
    best, share = None, least
    for k in places:
        q = _share(ranked[k], ch)
        if q >= share:
            best, share = k, q
    if best is not None:
        ranked[best] = _first(ranked[best], ch)
    return ranked


def _share(r: Ranking, ch: str) -> float:
    """``ch``'s share of one character's scores, as its answer shows it (over their sum where
    that is above 1: geometric marks beside the model's probabilities)."""
    return dict(r).get(ch, 0.0) / max(1.0, sum(q for _, q in r))


def _first(r: Ranking, ch: str) -> Ranking:
    """The ranking with ``ch`` first, the rest in their order."""
    return sorted(r, key=lambda kv: kv[0] != ch)

"""Drop-fall cuts (``digitpad.cuts._drop_fall``): the ball rolls along a stroke to where it
can fall, and cuts through ink only where it cannot; falling up mirrors falling down; of the
two rolls (left first, right first) the one that cuts less ink is taken, left on a tie."""

from __future__ import annotations

import numpy as np

from digitpad.cuts import _best_fall, _drop_fall, _rows


def _mask(rows: list[str]) -> np.ndarray:
    return np.array([[ch == "#" for ch in r] for r in rows])


FLOOR = _mask([
    ".......",
    ".......",
    "..###..",
    "..#....",
    "..#....",
])


def test_the_ball_rolls_off_the_end_of_a_stroke_rather_than_cutting_it() -> None:
    cols, crossed = _drop_fall(FLOOR, 3, right=False, upward=False)
    assert cols.tolist() == [3, 2, 1, 1, 1] and crossed == 0  # around the stroke's left end
    cols, crossed = _drop_fall(FLOOR, 3, right=True, upward=False)
    assert cols.tolist() == [3, 4, 5, 5, 5] and crossed == 0  # round its right end


def test_falling_up_mirrors_falling_down() -> None:
    down = _drop_fall(FLOOR, 3, right=True, upward=False)
    up = _drop_fall(FLOOR[::-1], 3, right=True, upward=True)
    assert up[0].tolist() == down[0][::-1].tolist() and up[1] == down[1]


def test_a_bar_across_the_whole_width_is_cut_through_its_thickness() -> None:
    bar = _mask([".....", "#####", "#####", "....."])
    cols, crossed = _drop_fall(bar, 2, right=False, upward=False)
    assert crossed == 2  # it rolls to the wall, never back, and cuts down there
    assert cols.tolist() == [0, 0, 0, 0]


def test_the_fall_that_cuts_less_ink_is_taken_left_on_a_tie() -> None:
    # rolling left, the ball is stuck in the pocket on the left and cuts; rolling right, it escapes
    pocket = _mask([
        "........",
        ".#...#..",
        ".####...",
        ".#......",
    ])
    left, right = _drop_fall(pocket, 3, False, False), _drop_fall(pocket, 3, True, False)
    assert left[1] > right[1] == 0
    cols, crossed = _best_fall(_rows(pocket), 3, upward=False)
    assert cols.tolist() == right[0].tolist() and crossed == 0
    cols, crossed = _best_fall(_rows(FLOOR), 3, upward=False)  # both roll off without cutting: left
    assert cols.tolist() == _drop_fall(FLOOR, 3, False, False)[0].tolist() and crossed == 0
    up = _best_fall(_rows(pocket[::-1])[::-1], 3, upward=True)  # falling up the mirrored mask
    assert up[0].tolist() == right[0][::-1].tolist() and up[1] == 0

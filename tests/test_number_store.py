"""Corrected numbers in the feedback store (``number_feedback``, migration 0003) on a real SQLite
file and, where DIGITPAD_TEST_POSTGRES_URL is set, on a real PostgreSQL."""

from __future__ import annotations

import json

import pytest
from feedback_support import BACKENDS, database
from sqlalchemy import insert

from digitpad.curation import Limits, Selection, agrees_number
from digitpad.errors import InvalidRequest, NotFound, StoreFull
from digitpad.rows import NumberFeedback, check_boxes, check_text
from digitpad.store import FeedbackStore, current_revision


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path):
    yield from database(request.param, tmp_path)


def add(store: FeedbackStore, text: str = "73-1", **kw) -> int:
    chars = text.replace(" ", "") if isinstance(text, str) else ""
    args = dict(text=text, image_bytes=b"\x89PNG number", content_type="image/png", read_text="78-1",
                boxes=[[10 * i, 2, 8, 20] for i in range(len(chars))], boxes_from="server",
                read_scores=[{c: 0.9} for c in chars], confidence=0.5, model_version="m1")
    args.update(kw)
    return store.numbers.add(**args)


def test_a_number_row_keeps_every_field_and_starts_pending(db_url):
    with FeedbackStore.open(db_url) as store:
        assert current_revision(store.engine) == "0003"
        fid = add(store, "(408) 975-3621", read_text="(408) 975-3G21", source="upload")
        r = store.numbers.get(fid)
        assert (r.text, r.read_text, r.source, r.review, r.model_version) == (
            "(408) 975-3621", "(408) 975-3G21", "upload", "pending", "m1")
        assert r.characters == "(408)975-3621" and len(r.boxes) == 13 and r.boxes[1] == [10, 2, 8, 20]
        assert r.boxes_from == "server" and r.read_scores[0] == {"(": 0.9} and r.confidence == 0.5
        assert r.image == b"\x89PNG number" and r.created_at.tzinfo is not None
        # The digits' table is another table: its ids and counts are its own.
        assert store.count() == 0 and store.numbers.count() == 1 and store.numbers.ids() == [fid]
        with pytest.raises(NotFound):
            store.numbers.get(fid + 1)


@pytest.mark.parametrize("text", ["", "1" * 21, "12a", "1  2", " 12", "12 ", "7\n", "٣", 12])
def test_bad_text_is_refused_and_nothing_is_written(db_url, text):
    with FeedbackStore.open(db_url) as store:
        with pytest.raises(InvalidRequest) as e:
            add(store, text=text, boxes=None, boxes_from=None, read_scores=None)
        assert e.value.code == "invalid_text"
        assert store.numbers.count() == 0


def test_bad_boxes_and_fields_are_refused(db_url):
    with FeedbackStore.open(db_url) as store:
        for bad in (dict(boxes=[[0, 0, 1, 1]]), dict(boxes=[[0, 0, 1]] * 4), dict(boxes_from=None),
                    dict(boxes=None), dict(boxes_from="guess"), dict(confidence=1.5), dict(source="fax"),
                    dict(image_bytes=b"")):
            with pytest.raises(InvalidRequest):
                add(store, **bad)
        assert store.numbers.count() == 0
        add(store, boxes=None, boxes_from=None)  # no boxes at all is a row (not cut into crops)


def test_the_database_itself_refuses_bad_rows(db_url):
    with FeedbackStore.open(db_url) as store:
        good = dict(created_at=store.numbers.get(add(store)).created_at, text="1", source="draw",
                    content_type="image/png", image=b"x", review="pending")
        for bad in (dict(text=""), dict(text="1" * 21), dict(source="fax"), dict(review="maybe"), dict(confidence=2.0)):
            with pytest.raises(Exception), store.engine.begin() as conn:  # noqa: B017 (the driver's IntegrityError)
                conn.execute(insert(NumberFeedback).values(**{**good, **bad}))
        assert store.numbers.count() == 1


def test_review_and_the_one_cap_over_both_tables(db_url):
    import numpy as np

    with FeedbackStore.open(db_url, limits=Limits(max_rows=4)) as store:
        a, b, c = add(store), add(store), add(store)
        assert store.numbers.review([a], "accepted") == 1 and store.numbers.review([b], "rejected") == 1
        assert store.numbers.review(None, "accepted") == 1  # every pending one: c
        assert [store.numbers.get(i).review for i in (a, b, c)] == ["accepted", "rejected", "accepted"]
        assert store.review(None, "accepted") == 0  # the digits' table has none
        with pytest.raises(InvalidRequest):
            store.numbers.review([a], "maybe")
        assert [r.id for r in store.numbers.iter_for_export(review=("accepted",))] == [a, c]
        store.add(label=1, image_bytes=b"x", content_type="image/png", image28=np.zeros((28, 28), np.uint8))
        assert store.usage()[0] == 4
        with pytest.raises(StoreFull):  # 3 numbers + 1 digit = the cap of 4
            add(store)
        store.numbers.delete(b)
        d = add(store)  # room again
        with pytest.raises(NotFound):
            store.numbers.delete(b)
        with pytest.raises(InvalidRequest):
            store.numbers.delete_many(Selection())  # no criterion: nothing deleted
        assert store.numbers.delete_many(Selection(review="accepted", max_id=c)) == 2  # a and c
        assert store.numbers.ids() == [d] and store.count() == 1  # the digit row is another table's


def test_text_boxes_and_agreement_checks():
    assert check_text("3.14") == "3.14" and check_text("(408) 975-3621") == "(408) 975-3621"
    assert check_boxes([[0, 0, 5, 5], [5, 0, 5, 5]], n=2, width=10, height=5) == [[0, 0, 5, 5], [5, 0, 5, 5]]
    for boxes in ([[0, 0, 5, 5]], [[0, 0, 5, 6], [0, 0, 1, 1]], [[0, 0, 0, 5], [0, 0, 1, 1]],
                  [[-1, 0, 5, 5], [0, 0, 1, 1]], [[0, 0, 5.5, 5], [0, 0, 1, 1]], "[]", [[True, 0, 5, 5], [0, 0, 1, 1]]):
        with pytest.raises(InvalidRequest):
            check_boxes(boxes, n=2, width=10, height=5)
    assert agrees_number("7 1", [{"7": 0.9}, {"1": 0.3, "7": 0.7}])
    assert not agrees_number("7 1", [{"7": 0.9}, {"7": 0.99}])  # the 1 was implausible to the model
    assert not agrees_number("71", [{"7": 0.9}])  # a character the reading did not find
    assert not agrees_number("71", None)


def test_the_review_command_lists_and_decides_numbers(tmp_path, capsys):
    from digitpad.cli import main

    url = f"sqlite:///{tmp_path / 'feedback.db'}"
    with FeedbackStore.open(url) as store:
        a = add(store, "3.14", read_text="3.1h")
        b = add(store, "1 7", read_scores=[{"1": 0.9}, {"1": 0.99}])  # the 7 was implausible to the model
    assert main(["feedback", "review", "--numbers", "--database-url", url]) == 0
    out = capsys.readouterr().out
    assert out.startswith("2 pending numbers"), out
    line_a = next(x for x in out.splitlines()[2:] if x.split()[:1] == [str(a)])
    line_b = next(x for x in out.splitlines()[2:] if x.split()[:1] == [str(b)])
    assert "3.14" in line_a and "3.1h" in line_a and " yes " in line_a, line_a
    assert " no " in line_b, line_b
    assert main(["feedback", "review", "--numbers", "accept", str(a), "--database-url", url]) == 0
    assert "1 numbers accepted" in capsys.readouterr().out
    assert main(["feedback", "review", "--numbers", "reject", "--all-pending", "--database-url", url]) == 0
    with FeedbackStore.open(url) as store:
        assert [store.numbers.get(i).review for i in (a, b)] == ["accepted", "rejected"]
        assert store.count() == 0  # the digits' rows were never touched
    capsys.readouterr()
    assert main(["feedback", "stats", "--database-url", url]) == 0
    assert "corrected numbers: 2 (pending 0, accepted 1, rejected 1)" in capsys.readouterr().out
    assert main(["feedback", "stats", "--json", "--database-url", url]) == 0
    st = json.loads(capsys.readouterr().out)
    assert st["numbers"] == {"total": 2, "by_review": {"accepted": 1, "rejected": 1}} and st["total"] == 0

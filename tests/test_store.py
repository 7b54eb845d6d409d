"""The feedback store on a real SQLite file and, where DIGITPAD_TEST_POSTGRES_URL is set, on a
real PostgreSQL (every test here runs on both)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from feedback_support import BACKENDS, database
from sqlalchemy import event, insert

from digitpad.database import make_engine
from digitpad.errors import InvalidRequest, NotFound, StoreError
from digitpad.store import Feedback, FeedbackStore, current_revision, default_database_url, resolve_url


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path):
    yield from database(request.param, tmp_path)


@pytest.fixture
def store(db_url):
    s = FeedbackStore.open(db_url)
    yield s
    s.close()


def img28(seed: int = 0) -> np.ndarray:
    return np.random.RandomState(seed).randint(0, 256, (28, 28)).astype(np.uint8)


def add(store: FeedbackStore, label: int = 3, **kw) -> int:
    seed = label if isinstance(label, int) and 0 <= label <= 9 else 0
    args = dict(label=label, image_bytes=b"\x89PNG original bytes", content_type="image/png", image28=img28(seed))
    args.update(kw)
    return store.add(**args)


def test_add_then_get_returns_every_field(store):
    probs = [0.01] * 9 + [0.91]
    before = datetime.now(UTC) - timedelta(seconds=5)
    fid = store.add(label=4, image_bytes=b"\x00\x01 raw \xff bytes", content_type="image/jpeg", image28=img28(7),
                    predicted=9, confidence=0.91, probabilities=probs, model_version="digitnet-x", source="upload")
    r = store.get(fid)
    assert (r.id, r.label, r.predicted, r.model_version, r.source, r.content_type) == \
        (fid, 4, 9, "digitnet-x", "upload", "image/jpeg")
    assert r.confidence == pytest.approx(0.91)
    assert r.probabilities == pytest.approx(probs)
    assert r.image == b"\x00\x01 raw \xff bytes"
    assert r.image28.dtype == np.uint8 and r.image28.shape == (28, 28)
    np.testing.assert_array_equal(r.image28, img28(7))
    assert r.created_at.tzinfo is not None and before <= r.created_at <= datetime.now(UTC) + timedelta(seconds=5)


def test_optional_fields_may_be_absent(store):
    r = store.get(add(store, label=0))
    assert (r.predicted, r.confidence, r.probabilities, r.model_version, r.source) == (None, None, None, None, "draw")


def test_list_is_newest_first_and_pages(store):
    ids = [add(store, label=i) for i in range(5)]
    assert ids == sorted(ids) and len(set(ids)) == 5
    assert [r.id for r in store.list(limit=10, offset=0)] == ids[::-1]
    page = store.list(limit=2, offset=1)
    assert [r.id for r in page] == [ids[3], ids[2]]
    assert [r.label for r in page] == [3, 2]
    assert page[0].image_bytes == len(b"\x89PNG original bytes")
    assert store.list(limit=10, offset=5) == []
    assert store.count() == 5 and store.ids() == ids


def test_delete_removes_exactly_one_row(store):
    a, b = add(store, 1), add(store, 2)
    store.delete(a)
    assert store.ids() == [b]
    with pytest.raises(NotFound):
        store.get(a)
    with pytest.raises(NotFound):
        store.delete(a)
    c = add(store, 3)
    assert c > b, "ids of deleted rows are never handed out again"


@pytest.mark.parametrize("bad", [
    {"label": 10}, {"label": -1}, {"label": None}, {"label": True}, {"label": 3.0}, {"label": "3"},
    {"predicted": 10}, {"confidence": 1.5}, {"confidence": -0.1}, {"source": "camera"},
    {"probabilities": [0.1] * 9}, {"image28": np.zeros((28, 27), np.uint8)}, {"image28": np.zeros((28, 28))},
    {"image_bytes": b""},
])
def test_invalid_rows_are_refused_and_nothing_is_written(store, bad):
    with pytest.raises(InvalidRequest):
        add(store, **bad)
    assert store.count() == 0


def test_the_database_itself_refuses_bad_rows(store):
    """The CHECK constraints come from the migration: even a writer that skips the store's own
    validation cannot store a label outside 0-9 or a 28x28 that is not 784 bytes."""
    from sqlalchemy.exc import IntegrityError

    good = dict(created_at=datetime.now(UTC), label=1, source="draw", content_type="image/png",
                image=b"x", image28=bytes(784))
    for bad in ({"label": 12}, {"image28": bytes(783)}, {"source": "fax"}, {"predicted": -1}):
        with pytest.raises(IntegrityError), store.engine.begin() as conn:
            conn.execute(insert(Feedback), [{**good, **bad}])
    with store.engine.begin() as conn:
        conn.execute(insert(Feedback), [good])
    assert store.count() == 1


def test_stats_counts_labels_accuracy_and_confusion(store):
    # (label, predicted, model, source): model A right 2 of 3, model B right 1 of 2, one unrated.
    rows = [(7, 7, "A", "draw"), (7, 1, "A", "draw"), (3, 3, "A", "upload"), (9, 4, "B", "draw"),
            (9, 9, "B", "draw"), (0, None, None, "upload")]
    for label, predicted, model, source in rows:
        add(store, label=label, predicted=predicted, model_version=model, source=source)
    st = store.stats()
    assert st["total"] == 6
    assert st["per_label"] == [1, 0, 0, 1, 0, 0, 0, 2, 0, 2]
    assert (st["rated"], st["correct"]) == (5, 3) and st["accuracy"] == pytest.approx(0.6)
    expected = np.zeros((10, 10), int)
    for label, predicted, _, _ in rows:
        if predicted is not None:
            expected[label, predicted] += 1
    assert st["confusion"] == expected.tolist()
    assert st["by_source"] == {"draw": 4, "upload": 2}
    assert st["by_model"]["A"] == {"rated": 3, "correct": 2, "accuracy": pytest.approx(2 / 3)}
    assert st["by_model"]["B"] == {"rated": 2, "correct": 1, "accuracy": 0.5}
    assert st["first"] <= st["last"]


def test_stats_of_an_empty_store(store):
    st = store.stats()
    assert (st["total"], st["rated"], st["accuracy"], st["first"]) == (0, 0, None, None)


def test_iter_for_export_streams_every_row_oldest_first(store):
    ids = [add(store, label=i % 10, image_bytes=bytes([i]) * 10) for i in range(23)]
    rows = list(store.iter_for_export(batch_size=5))
    assert [r.id for r in rows] == ids
    assert [r.label for r in rows] == [i % 10 for i in range(23)]
    assert rows[4].image == bytes([4]) * 10
    np.testing.assert_array_equal(rows[4].image28, img28(4))


def test_schema_is_migrated_to_head_and_matches_the_models(store, db_url):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from digitpad.store import Base, alembic_config

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert current_revision(store.engine) == head
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], f"models and migrations disagree (write a migration): {diff}"
    # Re-opening runs `upgrade head` again: a no-op that keeps the data.
    fid = add(store)
    with FeedbackStore.open(db_url) as again:
        assert again.ids() == [fid]


def test_downgrade_and_upgrade_round_trip(db_url):
    from alembic import command

    from digitpad.store import alembic_config, make_engine, migrate

    engine = make_engine(db_url)
    try:
        migrate(engine)
        with engine.begin() as conn:
            command.downgrade(alembic_config(conn), "base")
        assert current_revision(engine) is None
        migrate(engine)
        assert current_revision(engine) is not None
    finally:
        engine.dispose()


def test_many_processes_may_open_a_fresh_database_at_once(db_url):
    """Server workers start together: the migration lock makes exactly one of them create the schema."""
    errors, stores = [], []

    def open_it():
        try:
            stores.append(FeedbackStore.open(db_url))
        except Exception as e:  # noqa: BLE001 (collected and shown below)
            errors.append(repr(e))

    threads = [threading.Thread(target=open_it) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        assert errors == []
        assert len(stores) == 6
        assert add(stores[0]) in stores[5].ids()
    finally:
        for s in stores:
            s.close()


def test_threads_writing_at_once_each_get_their_own_row(store):
    per_thread, n_threads = 20, 8
    got: list[list[int]] = [[] for _ in range(n_threads)]

    def writer(k: int) -> None:
        for i in range(per_thread):
            got[k].append(add(store, label=(k + i) % 10))

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    ids = [i for g in got for i in g]
    assert len(ids) == per_thread * n_threads == len(set(ids))
    assert sorted(ids) == store.ids()


# ---------------------------------------------------------------- backend-specific


def test_sqlite_runs_in_wal_mode_with_full_sync(tmp_path):
    with FeedbackStore.open(f"sqlite:///{tmp_path / 'f.db'}") as store, store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL: commits are fsynced
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000


def test_workers_racing_to_turn_a_fresh_file_to_wal_all_get_in(tmp_path):
    """Turning a fresh SQLite file to WAL answers "database is locked" at once, busy timeout or
    not, to the connections that try it together with another (without the retry, about one
    round in fifteen here failed). Six workers' engines connect to each fresh file at the same
    moment, 150 times: every connection must get in, in WAL mode."""
    errors, modes = [], []

    def connect(engine):
        try:
            with engine.connect() as conn:
                modes.append(conn.exec_driver_sql("PRAGMA journal_mode").scalar())
        except Exception as e:  # noqa: BLE001 (collected and shown below)
            errors.append(repr(e))

    for k in range(150):
        engines = [make_engine(f"sqlite:///{tmp_path}/race{k}.db") for _ in range(6)]
        start = threading.Barrier(len(engines))
        for engine in engines:  # they meet once connected, just before digitpad's settings (``insert``)
            event.listen(engine, "connect", lambda *_, start=start: start.wait(30), insert=True)
        threads = [threading.Thread(target=connect, args=(e,)) for e in engines]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        for engine in engines:
            engine.dispose()
    assert errors == []
    assert modes == ["wal"] * 900


def test_default_database_is_sqlite_in_the_user_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    url = default_database_url()
    assert url == f"sqlite:///{tmp_path / 'xdg' / 'digitpad' / 'feedback.db'}"
    with FeedbackStore.open(None) as store:  # no URL at all: no setup needed
        add(store)
        assert store.count() == 1
    assert (tmp_path / "xdg" / "digitpad" / "feedback.db").is_file()


def test_postgres_urls_use_psycopg3():
    assert resolve_url("postgresql://u:p@h/db").drivername == "postgresql+psycopg"
    assert resolve_url("postgres://u:p@h/db").drivername == "postgresql+psycopg"
    assert resolve_url("postgresql+psycopg://u:p@h/db").drivername == "postgresql+psycopg"


@pytest.mark.parametrize("url", [
    "postgresql+psycopg://nobody:wrong@127.0.0.1:9/nothing",  # nothing listens on port 9
    "not a url",
    "sqlite:////no/such/folder/feedback.db",
])
def test_unusable_databases_raise_one_clear_error(url):
    with pytest.raises(StoreError) as e:
        FeedbackStore.open(url)
    assert e.value.hint and "wrong" not in e.value.message  # never echo a password


def test_a_store_whose_database_went_away_raises_store_error(tmp_path):
    store = FeedbackStore.open(f"sqlite:///{tmp_path / 'f.db'}")
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE feedback")
    with pytest.raises(StoreError):
        add(store)
    store.close()


def test_review_bulk_delete_and_the_cap(db_url):
    """The quarantine's states, a bulk delete by criteria and the total cap, on both databases."""
    from digitpad.curation import Limits, Selection
    from digitpad.errors import StoreFull

    with FeedbackStore.open(db_url, limits=Limits(max_rows=6, max_bytes=10_000)) as store:
        ids = [add(store, label=i, image_bytes=bytes(1000), model_version="A" if i < 3 else "B") for i in range(5)]
        assert store.usage() == (5, 5000) and store.count(review="pending") == 5
        assert store.review(ids[:2], "accepted") == 2 and store.review([ids[2]], "rejected") == 1
        assert store.review(None, "accepted", only_pending=True) == 2  # every pending one
        assert store.count(review="accepted") == 4 and store.get(ids[2]).review == "rejected"
        assert store.stats()["by_review"] == {"accepted": 4, "rejected": 1}
        with pytest.raises(InvalidRequest):
            store.review(ids, "maybe")
        with pytest.raises(StoreFull):  # 5,000 + 6,000 bytes of images would pass the 10,000 byte cap
            add(store, image_bytes=bytes(6000))
        add(store)  # a small one still fits: 6 rows
        with pytest.raises(StoreFull):  # and the 7th row does not
            add(store)
        assert store.count() == 6
        with pytest.raises(InvalidRequest):
            store.delete_many(Selection())  # no criterion: nothing deleted
        assert store.delete_many(Selection(model="A", review="accepted")) == 2
        assert store.delete_many(Selection(min_id=ids[3], max_id=ids[4])) == 2
        assert store.delete_many(Selection(before=datetime(2000, 1, 1, tzinfo=UTC))) == 0
        assert store.count() == 2 and [r.id for r in store.list(review="rejected")] == [ids[2]]
        add(store)  # room again after the deletes

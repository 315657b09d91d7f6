"""The SQL store on SQLite and on a real PostgreSQL server."""
from concurrent.futures import ThreadPoolExecutor

import pytest

from mmei.platform.user_history import replay
from mmei.platform.store import KeyReused, NotRecommended, Store, StoreError, StoreUnavailable, UnknownRequest


def test_feedback_is_stored_and_folded_into_the_profile(store_url):
    store = Store(store_url)
    store.log_recommendation("r1", "u1", "control", "congruent", ["a", "b", "c"], "joy", "relax")
    first, replayed = store.record_feedback("r1", "b", 30.0, 5)
    second, _ = store.record_feedback("r1", "b", 10.0, 2)  # no key: a repeat is a new event, as documented
    store.record_feedback("r1", "c", 4.0, 3)
    assert second > first and not replayed
    profile = {entry.item_id: entry for entry in store.profile("u1")}
    assert profile["b"].events == 2 and profile["b"].mean_satisfaction == pytest.approx(3.5)
    assert profile["b"].mean_engagement == pytest.approx(20.0) and profile["c"].events == 1
    events = store.feedback_events()
    assert [(e["item_id"], e["position"], e["variant"], e["user_id"]) for e in events] == [
        ("b", 1, "control", "u1"), ("b", 1, "control", "u1"), ("c", 2, "control", "u1")]
    assert store.counts() == {"control": {"recommendations": 1, "feedback": 3}}
    assert store.profile("someone-else") == []


def test_feedback_for_an_unknown_request_or_item_is_refused_and_not_stored(store_url):
    store = Store(store_url)
    store.log_recommendation("r1", "u1", "control", "congruent", ["a"], None, None)
    with pytest.raises(UnknownRequest):
        store.record_feedback("nope", "a", 1.0, 3)
    with pytest.raises(NotRecommended):
        store.record_feedback("r1", "zzz", 1.0, 3)
    assert store.feedback_events() == [] and store.profile("u1") == []


def test_concurrent_feedback_loses_no_event(store_url):
    store = Store(store_url)
    store.log_recommendation("r1", "u1", "control", "congruent", ["a", "b"], None, None)
    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(lambda i: store.record_feedback("r1", "ab"[i % 2], float(i), 1 + i % 5)[0], range(40)))
    assert len(set(ids)) == 40 and len(store.feedback_events()) == 40
    assert sum(entry.events for entry in store.profile("u1")) == 40


def test_a_bad_url_is_a_clear_error():
    with pytest.raises(StoreError, match="cannot be opened"):
        Store("nosuchdb://x")


def test_an_env_url_reads_the_database_url_where_the_store_opens(store_url, monkeypatch):
    monkeypatch.setenv("MMEI_TEST_STORE_URL", store_url)
    Store("env:MMEI_TEST_STORE_URL").log_recommendation("r1", "u1", "control", "congruent", ["a"], "joy", "explore")
    assert [row["request_id"] for row in Store(store_url).served()] == ["r1"]
    monkeypatch.delenv("MMEI_TEST_STORE_URL")
    with pytest.raises(StoreError, match="MMEI_TEST_STORE_URL is not set"):
        Store("env:MMEI_TEST_STORE_URL")


def test_the_same_key_sent_concurrently_stores_one_event_and_counts_it_once(store_url):
    store = Store(store_url)
    store.log_recommendation("r1", "u1", "control", "congruent", ["a", "b"], None, None)
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda _: store.record_feedback("r1", "a", 12.5, 4, event_key="client-key-1"), range(6)))
    assert len({feedback_id for feedback_id, _ in results}) == 1
    assert sorted(replayed for _, replayed in results) == [False] + [True] * 5
    assert len(store.feedback_events()) == 1 and store.profile("u1")[0].events == 1
    with pytest.raises(KeyReused, match="client-key-1"):
        store.record_feedback("r1", "b", 12.5, 4, event_key="client-key-1")
    assert len(store.feedback_events()) == 1


def test_pruning_keeps_recommendations_with_feedback(store_url):
    store = Store(store_url)
    day = 86400.0
    store.log_recommendation("old-quiet", "u1", "control", "congruent", ["a"], None, None, created_at=1000.0)
    store.log_recommendation("old-answered", "u1", "control", "congruent", ["a"], None, None, created_at=1000.0)
    store.log_recommendation("recent", "u1", "control", "congruent", ["a"], None, None, created_at=1000.0 + 40 * day)
    store.record_feedback("old-answered", "a", 3.0, 4)
    assert store.prune(older_than_days=30, now=1000.0 + 41 * day) == 1
    assert sorted(row["request_id"] for row in store.served()) == ["old-answered", "recent"]


TARGETS = {"sad-song": "sadness", "joy-clip": "joy", "calm-pod": "neutral"}


def log_and_answer(store, n: int, user: str, mood: str, satisfaction: int) -> None:
    store.log_recommendation(f"r{n}", user, "learned", "congruent", list(TARGETS), mood, "relax",
                             created_at=100.0 * n, matched_items=[i for i, t in TARGETS.items() if t == mood])
    store.record_feedback(f"r{n}", "sad-song", 30.0, satisfaction, created_at=100.0 * n + 1)


def test_the_per_user_affect_sums_equal_the_replay_of_the_log(store_url):
    """Online (one user_affect row, added to with each write) and offline (replay of the
    whole log) give the same history vector."""
    store = Store(store_url)
    for n, (user, mood) in enumerate([("u1", "sadness"), ("u2", "joy"), ("u1", "sadness"), ("u1", "joy")]):
        log_and_answer(store, n, user, mood, 5 if user == "u1" else 1)
    store.record_feedback("r3", "joy-clip", 12.0, 2, created_at=302.0)
    store.record_feedback("r3", "joy-clip", 12.0, 2, created_at=303.0, event_key="k")
    store.record_feedback("r3", "joy-clip", 12.0, 2, created_at=303.0, event_key="k")  # a replay adds nothing
    _, offline = replay(store.served(), store.feedback_events(), TARGETS)
    for user in ("u1", "u2"):
        assert store.user_affect(user) == offline[user]
    assert store.user_affect("u1").vector()[0] > 0  # rated the mood-matching song 5 when sad
    assert store.user_affect("nobody").vector().tolist() == [0.0, 0.0, 0.0]


def test_the_history_read_is_one_row_at_ten_or_ten_thousand_logged_requests(tmp_path):
    """Not timed (that is the bench's job): what the read does is counted, and it is the same."""
    import sqlalchemy

    reads = {}
    for size in (10, 10_000):
        store = Store(f"sqlite:///{tmp_path / f'{size}.db'}")
        with store.engine.begin() as connection:  # a long log, written in bulk
            connection.execute(sqlalchemy.text(
                "INSERT INTO user_affect VALUES ('u1', :shown, :outcome, :matched, :matched_outcome)"),
                {"shown": 3 * size, "outcome": 2.0 * size, "matched": size, "matched_outcome": 4.0 * size})
            connection.execute(sqlalchemy.insert(sqlalchemy.table(
                "recommendations", *(sqlalchemy.column(c) for c in ("request_id", "user_id", "variant", "strategy",
                                                                   "items", "created_at")))),
                [{"request_id": f"r{n}", "user_id": "u1", "variant": "control", "strategy": "congruent",
                  "items": '["a", "b", "c"]', "created_at": float(n)} for n in range(size)])
        statements, rows = [], []
        sqlalchemy.event.listen(store.engine, "before_cursor_execute",
                                lambda *args: statements.append(args[2]))
        history = store.user_affect("u1")
        assert history.shown == 3 * size
        reads[size] = [" ".join(statement.split()) for statement in statements]
    assert reads[10] == reads[10_000] and len(reads[10]) == 1 and "FROM user_affect" in reads[10][0]


def test_a_store_from_before_the_sums_gets_them_from_its_log_once(tmp_path):
    import sqlalchemy

    store = Store(f"sqlite:///{tmp_path / 'old.db'}")
    for n, (user, mood) in enumerate([("u1", "sadness"), ("u2", "joy"), ("u1", "sadness")]):
        log_and_answer(store, n, user, mood, 4)
    with store.engine.begin() as connection:  # what an older release left: no sums, no matched items
        connection.execute(sqlalchemy.text("DELETE FROM user_affect"))
        connection.execute(sqlalchemy.text("UPDATE recommendations SET matched_items = NULL"))
    assert store.user_affect("u1").shown == 0
    assert store.rebuild_user_affect(TARGETS) == 2
    _, offline = replay(store.served(), store.feedback_events(), TARGETS)
    assert store.user_affect("u1") == offline["u1"] and store.user_affect("u1").matched == 2
    assert store.rebuild_user_affect(TARGETS) is None  # once: the sums are there now
    log_and_answer(store, 3, "u1", "sadness", 5)  # and feedback after the migration still finds its matches
    _, offline = replay(store.served(), store.feedback_events(), TARGETS)
    assert store.user_affect("u1") == offline["u1"]


def test_an_older_database_gains_the_idempotency_column(tmp_path):
    import sqlalchemy

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as connection:  # the table as the previous release created it
        connection.execute(sqlalchemy.text(
            "CREATE TABLE feedback (feedback_id INTEGER PRIMARY KEY AUTOINCREMENT, request_id VARCHAR(64) NOT NULL, "
            "user_id VARCHAR(128) NOT NULL, variant VARCHAR(64) NOT NULL, item_id VARCHAR(128) NOT NULL, "
            "position INTEGER NOT NULL, engagement_seconds FLOAT NOT NULL, satisfaction INTEGER NOT NULL, "
            "created_at FLOAT NOT NULL)"))
    store = Store(url)
    store.log_recommendation("r1", "u1", "control", "congruent", ["a"], None, None)
    assert store.record_feedback("r1", "a", 1.0, 3, event_key="k")[0] == store.record_feedback(
        "r1", "a", 1.0, 3, event_key="k")[0]
    assert len(store.feedback_events()) == 1


def test_a_locked_sqlite_database_is_unavailable_not_an_error(tmp_path):
    import sqlite3

    url = f"sqlite:///{tmp_path / 'locked.db'}"
    store = Store(url, timeout_s=0.3)
    store.log_recommendation("r1", "u1", "control", "congruent", ["a"], None, None)
    holder = sqlite3.connect(tmp_path / "locked.db")
    holder.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
    try:
        with pytest.raises(StoreUnavailable):
            store.record_feedback("r1", "a", 1.0, 3)
    finally:
        holder.rollback()
        holder.close()
    assert store.record_feedback("r1", "a", 1.0, 3)[1] is False  # the lock gone, it works again


def test_printed_store_urls_never_carry_the_password():
    from mmei.platform.store import safe_url

    url = "postgresql+psycopg://mmei:S3CRETPW@db.internal:5432/mmei"
    assert safe_url(url) == "postgresql+psycopg://mmei:***@db.internal:5432/mmei"
    with pytest.raises(StoreError) as refused:
        Store("nosuchdialect://mmei:S3CRETPW@db.internal/mmei")
    assert "S3CRETPW" not in str(refused.value) and "***" in str(refused.value)


def test_an_old_log_gains_propensities_keeps_its_rows_and_new_rows_carry_them(store_url):
    import sqlalchemy

    engine = sqlalchemy.create_engine(store_url)
    with engine.begin() as connection:  # recommendations as a release before propensities created it
        connection.execute(sqlalchemy.text(
            "CREATE TABLE recommendations (request_id VARCHAR(64) PRIMARY KEY, user_id VARCHAR(128) NOT NULL, "
            "variant VARCHAR(64) NOT NULL, strategy VARCHAR(32) NOT NULL, items TEXT NOT NULL, emotion VARCHAR(64), "
            "intent VARCHAR(64), created_at FLOAT NOT NULL)"))
        connection.execute(sqlalchemy.text(
            "INSERT INTO recommendations VALUES ('old', 'u1', 'control', 'congruent', '[\"a\", \"b\"]', 'joy', "
            "'relax', 1.0)"))
    engine.dispose()
    store = Store(store_url)
    store.log_recommendation("new", "u1", "control", "congruent", ["b", "a"], "joy", "relax", 2.0,
                             propensities=[0.9625, 0.0125])
    old, new = store.served()
    assert old["request_id"] == "old" and old["items"] == ["a", "b"] and old["propensities"] is None
    assert new["propensities"] == [0.9625, 0.0125]
    for bad in ([0.5], [0.5, 0.0], [0.5, 1.5]):
        with pytest.raises(ValueError, match="propensities"):
            store.log_recommendation(f"bad-{len(bad)}-{bad[-1]}", "u1", "control", "congruent", ["a", "b"], None,
                                     None, propensities=bad)
    assert len(store.served()) == 2

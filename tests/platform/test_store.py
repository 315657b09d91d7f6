"""The SQL store on SQLite and on a real PostgreSQL server."""
from concurrent.futures import ThreadPoolExecutor

import pytest

from mmei.platform.user_history import replay, user_vector
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


def test_a_users_log_replays_to_the_history_the_offline_rows_saw(store_url):
    """Online (Store.user_log → user_vector) and offline (replay of the whole log) agree."""
    store = Store(store_url)
    targets = {"sad-song": "sadness", "joy-clip": "joy", "calm-pod": "neutral"}
    for n, (user, mood) in enumerate([("u1", "sadness"), ("u2", "joy"), ("u1", "sadness"), ("u1", "joy")]):
        store.log_recommendation(f"r{n}", user, "learned", "congruent", list(targets), mood, "relax",
                                 created_at=100.0 * n)
        store.record_feedback(f"r{n}", "sad-song", 30.0, 5 if user == "u1" else 1, created_at=100.0 * n + 1)
    store.record_feedback("r3", "joy-clip", 12.0, 2, created_at=302.0)
    requests, events = store.user_log("u1")
    assert [r["request_id"] for r in requests] == ["r0", "r2", "r3"] and requests[0]["items"] == list(targets)
    assert sorted((e["request_id"], e["item_id"]) for e in events) == [
        ("r0", "sad-song"), ("r2", "sad-song"), ("r3", "joy-clip"), ("r3", "sad-song")]
    _, offline = replay(store.served(), store.feedback_events(), targets)
    assert user_vector(requests, events, targets).tolist() == offline["u1"].vector().tolist()
    assert user_vector(requests, events, targets)[0] > 0  # rated the mood-matching song 5 when sad
    assert [r["request_id"] for r in store.user_log("u1", limit=2)[0]] == ["r2", "r3"]  # the newest two
    assert store.user_log("nobody") == ([], []) and user_vector([], [], targets).tolist() == [0.0, 0.0, 0.0]


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

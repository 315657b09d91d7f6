"""The SQL store on SQLite and on a real PostgreSQL server."""
from concurrent.futures import ThreadPoolExecutor

import pytest

from mmei.platform.store import NotRecommended, Store, StoreError, UnknownRequest


def test_feedback_is_stored_and_folded_into_the_profile(store_url):
    store = Store(store_url)
    store.log_recommendation("r1", "u1", "control", "congruent", ["a", "b", "c"], "joy", "relax")
    first = store.record_feedback("r1", "b", 30.0, 5)
    second = store.record_feedback("r1", "b", 10.0, 2)
    store.record_feedback("r1", "c", 4.0, 3)
    assert second > first
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
        ids = list(pool.map(lambda i: store.record_feedback("r1", "ab"[i % 2], float(i), 1 + i % 5), range(40)))
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

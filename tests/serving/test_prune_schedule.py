"""The store is pruned on a schedule while serving, on a real database."""
import time

from mmei.platform.store import Store
from mmei.serving.prune_schedule import PruneSchedule


def test_old_unanswered_recommendations_are_pruned_while_serving(store_url):
    store = Store(store_url)
    store.log_recommendation("old-quiet", "u1", "control", "congruent", ["a"], None, None, created_at=1000.0)
    store.log_recommendation("old-answered", "u1", "control", "congruent", ["a"], None, None, created_at=1000.0)
    store.record_feedback("old-answered", "a", 3.0, 4)
    schedule = PruneSchedule(store, retention_days=30, every_s=0.05).start()
    try:
        deadline = time.monotonic() + 20
        while schedule.pruned == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        store.log_recommendation("new", "u2", "control", "congruent", ["a"], None, None)  # arrives after a tick
        time.sleep(0.3)
    finally:
        schedule.stop()
    assert schedule.pruned == 1
    assert sorted(row["request_id"] for row in store.served()) == ["new", "old-answered"]

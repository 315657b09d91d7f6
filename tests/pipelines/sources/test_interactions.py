"""The SYNTHETIC interaction simulator: deterministic, labelled, and its story shows in the log."""
import json

import numpy as np
import pytest

from mmei.pipelines.sources.interactions import SHOWN, write_interactions
from mmei.platform.affect_ranker import REGULATION
from mmei.platform.catalog import load_catalog
from mmei.platform.labels import LabelSpaces
from mmei.platform.store import Store
from mmei.serving.config import DEFAULT_CATALOG

LABELS = LabelSpaces()


@pytest.fixture(scope="module")
def log(tmp_path_factory):
    items = load_catalog(DEFAULT_CATALOG, LABELS)
    out = tmp_path_factory.mktemp("sim") / "run"
    summary = write_interactions(out, items, LABELS, users=150, days=4, seed=7, progress=lambda _: None)
    return out, summary, {item.item_id: item for item in items}


def test_the_log_is_in_the_store_format_and_labelled_synthetic(log):
    out, summary, _ = log
    store = Store(summary["store_url"])
    events = store.feedback_events()
    assert len(events) == summary["feedback_events"] > 500
    assert all(1 <= e["satisfaction"] <= 5 and e["engagement_seconds"] > 0 for e in events)
    assert json.loads((out / "_summary.json").read_text())["synthetic"] is True
    assert (out / "_SYNTHETIC.md").is_file() and out.joinpath("synthetic-interactions.db").is_file()
    days = {int((e["created_at"] - 1767225600.0) // 86400) for e in events}
    assert days == {0, 1, 2, 3}


def test_the_same_seed_gives_the_same_log(log, tmp_path):
    _, summary, catalog = log
    again = write_interactions(tmp_path / "again", list(catalog.values()), LABELS, 150, 4, 7, progress=lambda _: None)
    first = [(e["user_id"], e["item_id"], e["satisfaction"]) for e in Store(summary["store_url"]).feedback_events()]
    second = [(e["user_id"], e["item_id"], e["satisfaction"]) for e in Store(again["store_url"]).feedback_events()]
    assert first == second


def test_position_bias_and_affect_fit_show_in_the_feedback(log):
    out, summary, catalog = log
    store = Store(summary["store_url"])
    events = store.feedback_events()
    by_position = np.bincount([e["position"] for e in events], minlength=SHOWN)
    assert all(by_position[p] > by_position[p + 1] for p in range(SHOWN - 1))
    with store.engine.connect() as connection:
        moods = dict(connection.exec_driver_sql("SELECT request_id, emotion FROM recommendations").all())
        assert {s for (s,) in connection.exec_driver_sql("SELECT DISTINCT strategy FROM recommendations")} == {"random"}
    styles = {user: traits["style"] for user, traits in json.loads((out / "_users.json").read_text()).items()}
    regulating = [e for e in events if styles[e["user_id"]] == "regulating"]
    fit = [REGULATION.get(moods[e["request_id"]], {}).get(catalog[e["item_id"]].target_emotion, 0.0)
           for e in regulating]
    good = [e["satisfaction"] for e, f in zip(regulating, fit) if f >= 0.8]
    poor = [e["satisfaction"] for e, f in zip(regulating, fit) if f == 0.0]
    assert np.mean(good) > np.mean(poor) + 0.5


def test_the_ab_policy_splits_users_by_hash_and_ranks_by_each_arms_strategy(tmp_path):
    from mmei.platform.experiments import assign_variant

    from mmei.pipelines.sources.interactions import AB_ARMS

    items = load_catalog(DEFAULT_CATALOG, LABELS)
    summary = write_interactions(tmp_path / "ab", items, LABELS, users=60, days=2, seed=3, progress=lambda _: None,
                                 policy="ab")
    served = Store(summary["store_url"]).served()
    assert {r["variant"] for r in served} == {"control", "treatment"}
    for request in served:
        arm = assign_variant(request["user_id"], AB_ARMS)
        assert (request["variant"], request["strategy"]) == (arm.name, arm.strategy)
    catalog = {item.item_id: item for item in items}
    sad = [r for r in served if r["emotion"] == "sadness"]
    congruent = [catalog[i].target_emotion for r in sad if r["variant"] == "control" for i in r["items"][:2]]
    regulating = [catalog[i].target_emotion for r in sad if r["variant"] == "treatment" for i in r["items"][:2]]
    assert congruent.count("sadness") > len(congruent) / 2 and regulating.count("sadness") == 0


def test_the_explore_policy_logs_the_propensity_of_what_it_showed(tmp_path):
    """Each logged propensity equals (1 - ε)·[the congruent ranker's p-th item] + ε/n,
    computed here from the ranker itself; the uniform log carries 1/n."""
    from mmei.platform.affect_ranker import AffectRanker, RankerWeights, UserState

    items = load_catalog(DEFAULT_CATALOG, LABELS)
    epsilon = 0.3
    summary = write_interactions(tmp_path / "explore", items, LABELS, users=20, days=2, seed=5, progress=lambda _: None,
                                 policy="explore", epsilon=epsilon)
    ranker = AffectRanker(items, np.zeros((len(items), 1), np.float32), LABELS, RankerWeights(content=0.0, profile=0.0))
    served = Store(summary["store_url"]).served()
    explored = 0
    for request in served:
        top = [i for i, _ in ranker.top_k(UserState({request["emotion"]: 1.0}, {request["intent"]: 1.0}), [],
                                          "congruent", SHOWN)]
        expected = [(1 - epsilon) * (item == top[p]) + epsilon / len(items) for p, item in enumerate(request["items"])]
        assert request["propensities"] == pytest.approx(expected)
        explored += request["items"] != top
    assert 0.15 < explored / len(served) < 0.45  # about ε of the slates explore
    uniform = write_interactions(tmp_path / "uniform", items, LABELS, users=5, days=1, seed=5, progress=lambda _: None)
    assert all(r["propensities"] == [1 / len(items)] * SHOWN for r in Store(uniform["store_url"]).served())

"""An exploring variant in the real serving flow (in process, a real SQLite store): each
stored propensity is the policy's probability, computed here from the ranker's own
deterministic top k, and a request id draws the same slate again."""
import asyncio

import pytest

from mmei.platform.affect_ranker import UserState
from mmei.serving.api import RecommendRequest
from mmei.serving.config import load_serve_config
from mmei.serving.in_process import InProcessGraph

EPSILON = 0.4
TEXTS = ["I am so happy today", "furious and betrayed", "quiet evening, a bit sad", "what a surprise"]


def test_stored_propensities_are_the_policys_probabilities(serve_bundle, tmp_path):
    # ranker.content=0: the greedy slate depends on the recognised state alone, so it can be recomputed here
    config = load_serve_config(None, [f"bundle={serve_bundle}", f"store_url=sqlite:///{tmp_path}/x.db",
                                      "ranker.content=0.0",
                                      f"variants=[{{name: explore, fraction: 1.0, epsilon: {EPSILON}}}]"])
    graph = InProcessGraph(config)
    n = len(graph.ranker.items)

    async def serve_all():
        return [await graph.flow.recommend(RecommendRequest(user_id=f"u{i}", text=TEXTS[i % 4], k=4),
                                           request_id=f"req-{i}") for i in range(60)]

    answers = asyncio.run(serve_all())
    stored = {row["request_id"]: row for row in graph.store.served()}
    explored = 0
    for answer in answers:
        row = stored[answer["request_id"]]
        recognition = answer["recognition"]
        state = UserState(recognition["emotion"]["probabilities"], recognition["intent"]["probabilities"])
        greedy = graph.ranker.top_k(state, [], answer["strategy"], 4, "affect")[1]
        greedy_ids = [item_id for item_id, _ in greedy]
        expected = [(1 - EPSILON) * (item == greedy_ids[p]) + EPSILON / n for p, item in enumerate(row["items"])]
        assert row["propensities"] == pytest.approx(expected)
        assert row["items"] == [item["item_id"] for item in answer["items"]]
        explored += row["items"] != greedy_ids
    assert 0.15 < explored / len(answers) < 0.7  # about ε of 60 requests
    again = asyncio.run(graph.flow.recommend(RecommendRequest(user_id="u0", text=TEXTS[0], k=4), request_id="req-x"))
    other = InProcessGraph(load_serve_config(None, [f"bundle={serve_bundle}", f"store_url=sqlite:///{tmp_path}/y.db",
                                                    "ranker.content=0.0", f"variants=[{{name: explore, fraction: 1.0, epsilon: {EPSILON}}}]"]))
    replayed = asyncio.run(other.flow.recommend(RecommendRequest(user_id="u0", text=TEXTS[0], k=4), request_id="req-x"))
    assert [i["item_id"] for i in replayed["items"]] == [i["item_id"] for i in again["items"]]


def test_a_variant_that_does_not_explore_logs_propensity_one(serve_bundle, tmp_path):
    graph = InProcessGraph(load_serve_config(None, [f"bundle={serve_bundle}", f"store_url=sqlite:///{tmp_path}/z.db"]))
    asyncio.run(graph.recommend({"user_id": "a", "text": "I am so happy today", "k": 3}))
    (row,) = graph.store.served()
    assert row["propensities"] == [1.0, 1.0, 1.0]


def test_a_variant_epsilon_outside_0_1_is_refused(serve_bundle):
    with pytest.raises(Exception, match="epsilon"):
        load_serve_config(None, [f"bundle={serve_bundle}", "variants=[{name: explore, fraction: 1.0, epsilon: 2}]"])

"""ε-greedy slates: replayable by request id, and the logged propensities are the
frequencies the policy really serves, counted independently over many requests."""
import numpy as np
import pytest

from mmei.platform.exploration import explore_slate, position_propensity

CANDIDATES = [f"item-{i}" for i in range(10)]
RANKED = ["item-3", "item-7", "item-1"]


def test_a_replayed_request_gets_the_same_slate_and_epsilon_zero_is_the_top_k():
    first = explore_slate(RANKED, CANDIDATES, 0.5, "req-42")
    assert explore_slate(RANKED, CANDIDATES, 0.5, "req-42") == first
    greedy = explore_slate(RANKED, CANDIDATES, 0.0, "req-42")
    assert greedy.items == RANKED and greedy.propensities == [1.0, 1.0, 1.0] and not greedy.explored


def test_logged_propensities_match_the_served_frequencies():
    epsilon, draws = 0.3, 20000
    counts = np.zeros((len(CANDIDATES), len(RANKED)))
    logged = {}
    for r in range(draws):
        slate = explore_slate(RANKED, CANDIDATES, epsilon, f"request-{r}")
        assert len(set(slate.items)) == len(RANKED)
        for p, (item, propensity) in enumerate(zip(slate.items, slate.propensities)):
            counts[CANDIDATES.index(item), p] += 1
            logged[(item, p)] = propensity
    frequency = counts / draws
    for (item, p), propensity in logged.items():
        se = np.sqrt(propensity * (1 - propensity) / draws)
        assert abs(frequency[CANDIDATES.index(item), p] - propensity) < 4 * se + 1e-9, (item, p)
    assert logged[("item-3", 0)] == pytest.approx(0.7 + 0.03)
    assert logged[("item-7", 0)] == pytest.approx(0.03)  # the 2nd-ranked item, explored into position 0
    assert position_propensity("item-9", 2, RANKED, 10, 0.3) == pytest.approx(0.03)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="epsilon"):
        explore_slate(RANKED, CANDIDATES, 1.5, "r")
    with pytest.raises(ValueError, match="candidates"):
        explore_slate(RANKED, RANKED[:2], 0.1, "r")

"""The scoring ranker: strategy, intent, content and profile each move the ranking."""
import numpy as np
import pytest

from mmei.platform.affect_ranker import AffectRanker, UserState
from mmei.platform.catalog import Item
from mmei.platform.labels import LabelSpaces
from mmei.platform.store import ProfileEntry

LABELS = LabelSpaces()
ITEMS = [
    Item("sad", "Rainy verse", "poem", ("rainy",), "sadness", {"relax": 1.0}),
    Item("joy", "Sunny track", "music", ("sunny",), "joy", {"relax": 1.0}),
    Item("learn", "Calm tutorial", "video", ("tutorial",), "neutral", {"learn": 1.0}),
]
VECTORS = np.eye(3, dtype=np.float32)


def state(emotion: str, intent: str = "relax", text: np.ndarray | None = None) -> UserState:
    return UserState({emotion: 1.0}, {intent: 1.0}, text)


def order(ranker, user_state, strategy="congruent", profile=()):
    return [item_id for item_id, _ in ranker.top_k(user_state, list(profile), strategy, 3)]


def test_congruent_matches_the_mood_and_regulating_lifts_it():
    ranker = AffectRanker(ITEMS, VECTORS, LABELS)
    assert order(ranker, state("sadness"), "congruent")[0] == "sad"
    assert order(ranker, state("sadness"), "regulating")[0] == "joy"


def test_intent_and_text_content_count():
    ranker = AffectRanker(ITEMS, VECTORS, LABELS)
    assert order(ranker, state("neutral", "learn"))[0] == "learn"
    with_text = ranker.score(state("anger", "explore", text=np.array([0, 1, 0], np.float32)), [], "congruent")
    assert with_text.argmax() == 1


def test_feedback_history_pulls_toward_liked_items_and_away_from_disliked():
    ranker = AffectRanker(ITEMS, VECTORS, LABELS)
    neutral = state("anger", "explore")
    liked = ranker.score(neutral, [ProfileEntry("learn", 5, 5.0, 200.0)], "congruent")
    disliked = ranker.score(neutral, [ProfileEntry("learn", 5, 1.0, 5.0)], "congruent")
    base = ranker.score(neutral, [], "congruent")
    assert liked[2] > base[2] > disliked[2]
    assert ranker.score(neutral, [ProfileEntry("not-in-catalog", 3, 5.0, 10.0)], "congruent") == pytest.approx(base)


def test_top_indices_equals_a_full_stable_sort_with_ties():
    import numpy as np

    from mmei.platform.affect_ranker import top_indices

    rng = np.random.default_rng(0)
    for size, k in [(120, 10), (50, 1), (8, 8), (5, 20), (300, 50)]:
        scores = rng.integers(0, 6, size).astype(np.float64)  # many ties
        assert top_indices(scores, k).tolist() == np.argsort(-scores, kind="stable")[:k].tolist()

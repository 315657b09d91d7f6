"""The affect history: known users give the sign of their lift, and nothing from the future leaks in."""
import numpy as np
import pytest

from mmei.platform.user_history import AffectHistory, replay

TARGETS = {"match": "sadness", "other": "joy", "other2": "neutral"}


def log(user: str, ratings: dict[str, int], start: float, requests: int = 4):
    """`requests` requests of one sad user, each showing every item; the user rates each as given."""
    served, events = [], []
    for r in range(requests):
        moment = start + 100 * r
        served.append({"request_id": f"{user}-{r}", "user_id": user, "emotion": "sadness",
                       "items": list(TARGETS), "created_at": moment})
        events += [{"request_id": f"{user}-{r}", "item_id": item, "satisfaction": rating, "created_at": moment + 1}
                   for item, rating in ratings.items()]
    return served, events


def test_congruent_and_regulating_users_get_opposite_lifts():
    congruent = log("c", {"match": 5, "other": 1, "other2": 1}, 0.0)
    regulating = log("r", {"match": 1, "other": 5, "other2": 4}, 0.5)
    _, users = replay(congruent[0] + regulating[0], congruent[1] + regulating[1], TARGETS)
    lift_c, mean_c, experience_c = users["c"].vector()
    lift_r, mean_r, _ = users["r"].vector()
    assert lift_c > 0.2 and lift_r < -0.2
    # 4 matched items at 5 against a mean of 7/3, shrunk by 3 pseudo-items, over 5
    assert lift_c == pytest.approx((4 * 5 - 4 * 7 / 3) / (4 + 3) / 5)
    assert mean_c == pytest.approx(7 / 3 / 5) and mean_r == pytest.approx(10 / 3 / 5)
    assert experience_c == pytest.approx(np.log1p(12) / 5)


def test_a_request_sees_only_what_was_stored_before_it():
    served, events = log("c", {"match": 5}, 0.0, requests=3)
    late = {"request_id": "c-0", "item_id": "other", "satisfaction": 1, "created_at": 250.0}  # after request 2
    seen, users = replay(served, events + [late], TARGETS)
    assert seen["c-0"].tolist() == [0.0, 0.0, 0.0]  # a first request has no history
    assert seen["c-1"][2] == pytest.approx(np.log1p(3) / 5)  # request 0's 3 items, not its own
    assert seen["c-1"][1] == pytest.approx(5 / 3 / 5)  # request 0's feedback (at +1 s), before request 1
    assert seen["c-2"][1] == pytest.approx(10 / 6 / 5)  # the late event (250 s) comes after request 2 (200 s)
    assert users["c"].outcome_sum == 16


def test_feedback_on_an_unknown_request_or_item_is_skipped():
    served, events = log("c", {"match": 5}, 0.0, requests=1)
    events += [{"request_id": "gone", "item_id": "match", "satisfaction": 5, "created_at": 2.0},
               {"request_id": "c-0", "item_id": "retired", "satisfaction": 5, "created_at": 2.0}]
    _, users = replay(served, events, TARGETS)
    assert users["c"].outcome_sum == 5 and users["c"].shown == 3


def test_a_new_user_has_the_empty_vector():
    assert AffectHistory().vector().tolist() == [0.0, 0.0, 0.0]

"""`mmei ab report` on a real store filled with a simulated A/B test of known lift."""
import json
import time

import numpy as np
import pytest

from mmei.platform.errors import UserInputError
from mmei.platform.experiments import Variant, assign_variant
from mmei.platform.store import Store
from mmei.pipelines.ab_report import write_ab_report

ARMS = [Variant("control", 0.5), Variant("treatment", 0.5, strategy="regulating")]
TRUE_LIFT = {"engagement_seconds": 6.0}  # seconds per user; satisfaction has none


def simulate(store: Store, users: int, seed: int) -> None:
    """SYNTHETIC: each user gets 3 recommendations and rates one item of each."""
    rng = np.random.default_rng(seed)
    for u in range(users):
        user = f"sim-{u}"
        variant = assign_variant(user, ARMS).name
        taste = rng.normal(0, 10)
        for r in range(3):
            request_id = f"{user}-{r}"
            store.log_recommendation(request_id, user, variant, "congruent", ["a", "b"], None, None)
            seconds = max(0.0, 60 + taste + (TRUE_LIFT["engagement_seconds"] if variant == "treatment" else 0)
                          + rng.normal(0, 20))
            store.record_feedback(request_id, "a", seconds, int(rng.integers(1, 6)))


def test_the_report_covers_the_known_lift_and_writes_every_output(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'ab.db'}")
    simulate(store, 600, seed=0)
    report = write_ab_report(store.url, tmp_path / "out", fractions={"control": 0.5, "treatment": 0.5},
                             echo=lambda _: None)
    engagement = report["metrics"]["engagement_seconds"]
    row = engagement["variants"]["treatment"]
    assert row["welch_ci"][0] <= TRUE_LIFT["engagement_seconds"] <= row["welch_ci"][1]
    assert row["n_treatment"] + engagement["control_n"] == 600
    assert report["srm_p_value"] > 0.001  # hash assignment is balanced
    assert engagement["required_n_per_arm"] > 0
    for name in ("ab_report.md", "ab_report.json", "ab_engagement_seconds.png", "ab_satisfaction.png"):
        assert (tmp_path / "out" / name).is_file()
    text = (tmp_path / "out" / "ab_report.md").read_text()
    assert "| treatment |" in text and "SRM chi-square" in text
    assert json.loads((tmp_path / "out" / "ab_report.json").read_text())["unit"] == "user"


def test_cuped_with_a_pre_period_narrows_the_interval(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'ab.db'}")
    simulate(store, 400, seed=1)
    split = time.time()
    time.sleep(0.01)
    simulate_post = np.random.default_rng(2)
    for u in range(400):  # the same users after the split, same tastes seen through noise
        user = f"sim-{u}"
        events = [e for e in store.feedback_events() if e["user_id"] == user and e["created_at"] < split]
        base = np.mean([e["engagement_seconds"] for e in events])
        variant = assign_variant(user, ARMS).name
        store.log_recommendation(f"{user}-post", user, variant, "congruent", ["a"], None, None)
        store.record_feedback(f"{user}-post", "a", max(0.0, base + (6 if variant == "treatment" else 0)
                                                       + simulate_post.normal(0, 5)), 3)
    plain = write_ab_report(store.url, tmp_path / "plain", since=split, echo=lambda _: None)
    adjusted = write_ab_report(store.url, tmp_path / "cuped", cuped_before=split, echo=lambda _: None)
    width = lambda r: np.diff(r["metrics"]["engagement_seconds"]["variants"]["treatment"]["welch_ci"])[0]  # noqa: E731
    assert adjusted["cuped_variance_removed"]["engagement_seconds"] > 0.3
    assert width(adjusted) < 0.8 * width(plain)


def test_a_store_without_two_variants_is_a_clear_error(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'ab.db'}")
    with pytest.raises(UserInputError, match="no feedback"):
        write_ab_report(store.url, tmp_path / "out", echo=lambda _: None)
    store.log_recommendation("r", "u", "control", "congruent", ["a"], None, None)
    store.record_feedback("r", "a", 1.0, 3)
    with pytest.raises(UserInputError, match="needs two"):
        write_ab_report(store.url, tmp_path / "out", echo=lambda _: None)

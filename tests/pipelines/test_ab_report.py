"""`mmei ab report` on a real store filled with simulated A/B tests whose truth is known.

Every simulation here is SYNTHETIC: users are hashed into arms as serving does, and the
true effect on each per-user total is written next to it.
"""
import json

import numpy as np
import pytest

from mmei.platform.errors import UserInputError
from mmei.platform.experiments import Variant, assign_variant
from mmei.platform.store import Store
from mmei.pipelines.ab_report import write_ab_report

ARMS = [Variant("control", 0.5), Variant("treatment", 0.5, strategy="regulating")]
HALVES = {"control": 0.5, "treatment": 0.5}


def store_at(tmp_path, name="ab.db") -> Store:
    return Store(f"sqlite:///{tmp_path / name}")


def serve(store, user, request_id, variant, at, seconds=None, satisfaction=3):
    store.log_recommendation(request_id, user, variant, "congruent", ["a", "b"], None, None, at)
    if seconds is not None:
        store.record_feedback(request_id, "a", seconds, satisfaction, at + 1)


def test_a_treatment_that_only_raises_the_feedback_rate_shows_its_lift_in_the_totals(tmp_path):
    """Per-event engagement is the same in both arms (mean 60 s); the treatment makes a
    user answer 50% of recommendations instead of 30%. Over 4 recommendations the true
    lift is 4 x 0.2 x 60 = 48 s per assigned user, and 0.2 in feedback rate. A per-event
    mean would show no lift; users who never answered must count, as zeros."""
    store, rng = store_at(tmp_path), np.random.default_rng(0)
    users = 1200
    for u in range(users):
        user = f"sim-{u}"
        variant = assign_variant(user, ARMS).name
        answer = 0.5 if variant == "treatment" else 0.3
        for r in range(4):
            seconds = float(rng.exponential(60)) if rng.random() < answer else None
            serve(store, user, f"{user}-{r}", variant, 1000.0 + u + r / 10, seconds)
    report = write_ab_report(store.url, tmp_path / "out", fractions=HALVES, echo=lambda _: None)
    engagement, rate = (report["metrics"][m] for m in ("engagement_seconds", "feedback_rate"))
    row = engagement["variants"]["treatment"]
    assert engagement["control_n"] + row["n_treatment"] == users  # every assigned user, not just those who answered
    assert row["welch_ci"][0] <= 48 <= row["welch_ci"][1] and row["welch_ci"][0] > 0
    assert rate["variants"]["treatment"]["welch_ci"][0] <= 0.2 <= rate["variants"]["treatment"]["welch_ci"][1]
    assert engagement["population"] == rate["population"] == "assigned_users" and report["unit"] == "assigned_user"
    assert row["p_value"] <= row["p_holm"] <= 1
    assert report["srm"]["p_value"] > 0.001 and report["srm"]["fractions_from"] == "--fractions"
    for name in ("ab_report.md", "ab_report.json", "ab_engagement_seconds.png", "ab_feedback_rate.png"):
        assert (tmp_path / "out" / name).is_file()
    text = (tmp_path / "out" / "ab_report.md").read_text()
    assert "| treatment |" in text and "SRM chi-square" in text and "p (Holm)" in text
    saved = json.loads((tmp_path / "out" / "ab_report.json").read_text())
    assert saved["metrics"]["satisfaction"]["population"] == "assigned_users"


def simulate_with_history(store, users, lift, seed):
    """SYNTHETIC: before time 100 no experiment runs (everyone is served `control`); from
    time 100 users are split by hash and the treatment adds `lift` seconds to each of a
    user's 3 answers. Each user has a lasting taste, seen in both periods."""
    rng = np.random.default_rng(seed)
    for u in range(users):
        user = f"sim-{u}"
        taste = rng.normal(60, 25)
        for r in range(3):
            serve(store, user, f"{user}-pre-{r}", "control", 10.0 + r, max(0.0, taste + rng.normal(0, 8)))
        variant = assign_variant(user, ARMS).name
        for r in range(3):
            seconds = max(0.0, taste + (lift if variant == "treatment" else 0.0) + rng.normal(0, 8))
            serve(store, user, f"{user}-post-{r}", variant, 100.0 + r, seconds)


def test_cuped_with_an_untreated_pre_period_recovers_the_lift_with_a_narrower_interval(tmp_path):
    store = store_at(tmp_path)
    simulate_with_history(store, 600, lift=4.0, seed=1)  # true total lift: 3 x 4 = 12 s per user
    plain = write_ab_report(store.url, tmp_path / "plain", since=100.0, echo=lambda _: None)
    adjusted = write_ab_report(store.url, tmp_path / "cuped", cuped_before=100.0, echo=lambda _: None)
    interval = lambda r: r["metrics"]["engagement_seconds"]["variants"]["treatment"]["welch_ci"]  # noqa: E731
    assert interval(adjusted)[0] <= 12 <= interval(adjusted)[1]
    assert interval(plain)[0] <= 12 <= interval(plain)[1]
    assert np.diff(interval(adjusted))[0] < 0.5 * np.diff(interval(plain))[0]
    assert adjusted["cuped_variance_removed"]["engagement_seconds"] > 0.5


def test_cuped_refuses_a_pre_period_in_which_users_were_already_treated(tmp_path):
    store = store_at(tmp_path)
    simulate_with_history(store, 50, lift=4.0, seed=2)
    with pytest.raises(UserInputError, match="predate every user's first assignment"):
        write_ab_report(store.url, tmp_path / "out", cuped_before=101.0, echo=lambda _: None)


def test_srm_counts_an_arm_nobody_was_assigned_to_and_refuses_an_unknown_arm(tmp_path):
    store = store_at(tmp_path)
    for u in range(200):
        serve(store, f"u{u}", f"r{u}", "control" if u % 2 else "treatment", float(u), 30.0)
    arms = {"control": 0.4, "treatment": 0.4, "holdout": 0.2}
    report = write_ab_report(store.url, tmp_path / "out", fractions=arms, echo=lambda _: None)
    assert report["srm"]["users"] == {"control": 100, "treatment": 100, "holdout": 0}
    assert report["srm"]["p_value"] < 0.001
    assert "SAMPLE RATIO MISMATCH" in (tmp_path / "out" / "ab_report.md").read_text()
    with pytest.raises(UserInputError, match=r"\['treatment'\] were served but are not among the configured arms"):
        write_ab_report(store.url, tmp_path / "out", fractions={"control": 1.0}, echo=lambda _: None)
    assumed = write_ab_report(store.url, tmp_path / "out", echo=lambda _: None)
    assert assumed["srm"]["fractions_from"].startswith("assumed equal")


def test_a_store_without_two_variants_is_a_clear_error(tmp_path):
    store = store_at(tmp_path)
    with pytest.raises(UserInputError, match="no served recommendations"):
        write_ab_report(store.url, tmp_path / "out", echo=lambda _: None)
    serve(store, "u", "r", "control", 1.0, 1.0)
    with pytest.raises(UserInputError, match="needs two"):
        write_ab_report(store.url, tmp_path / "out", echo=lambda _: None)

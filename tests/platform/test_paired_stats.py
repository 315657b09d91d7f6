"""Paired bootstraps (macro-F1 over rows; a ranking metric over users), checked against known answers."""
import numpy as np
import pytest

from mmei.platform.labels import IGNORE_INDEX
from mmei.platform.metrics import head_metrics, joint_metrics
from mmei.platform.paired_stats import (macro_f1_batch, paired_bootstrap, paired_query_comparison,
                                        seed_paired_comparison)


def one_hot(predictions, classes):
    return np.eye(classes)[predictions]


def test_batch_macro_f1_matches_the_metrics_module_and_a_hand_count():
    labels = np.array([0, 0, 1, 1, 2, 2])
    predictions = np.array([0, 1, 1, 1, 2, 0])
    # class 0: P 1/2 R 1/2 F1 .5; class 1: P 2/3 R 1 F1 .8; class 2: P 1 R 1/2 F1 2/3
    expected = (0.5 + 0.8 + 2 / 3) / 3
    assert macro_f1_batch(labels[None], predictions[None], 3)[0] == pytest.approx(expected)
    assert head_metrics(one_hot(predictions, 3), labels)["macro_f1"] == pytest.approx(expected)
    # a class absent from both labels and predictions of a resample is left out, as sklearn does
    assert macro_f1_batch(np.array([[0, 0, 1]]), np.array([[0, 0, 1]]), 3)[0] == 1.0


def test_a_clearly_better_model_gets_an_interval_above_zero():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 600)
    good = np.where(rng.random(600) < 0.9, labels, 1 - labels)  # 90% right
    poor = np.where(rng.random(600) < 0.7, labels, 1 - labels)  # 70% right
    stats = paired_bootstrap(labels, good, poor, classes=2, resamples=500)
    assert stats["a"] == pytest.approx(head_metrics(one_hot(good, 2), labels)["macro_f1"])
    assert stats["difference"] == pytest.approx(stats["a"] - stats["b"])
    assert 0 < stats["ci95_low"] < stats["difference"] < stats["ci95_high"]
    assert stats["p_not_better"] == 0.0


def test_the_same_model_is_not_resolved_and_seeds_are_averaged():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 3, 300)
    model = np.where(rng.random(300) < 0.6, labels, rng.integers(0, 3, 300))
    stats = paired_bootstrap(labels, model, model.copy(), classes=3, resamples=300)
    assert stats["difference"] == 0.0 and stats["ci95_low"] == stats["ci95_high"] == 0.0
    seeds = np.stack([model, labels])  # one seed as before, one perfect
    averaged = paired_bootstrap(labels, seeds, model, classes=3, resamples=300)
    assert averaged["seeds"] == 2
    assert averaged["a"] == pytest.approx((stats["a"] + 1.0) / 2)
    with pytest.raises(ValueError, match="same 300 rows"):
        paired_bootstrap(labels, model[:10], model, classes=3)


def noisy(labels, right, rng, classes):
    """Predictions that are right with probability `right`, otherwise another class."""
    wrong = (labels + rng.integers(1, classes, labels.size)) % classes
    return np.where(rng.random(labels.size) < right, labels, wrong)


def two_head_problem(rows, seeds, right_a, right_b, seed=0):
    rng = np.random.default_rng(seed)
    classes = {"emotion": 4, "intent": 3}
    labels = {head: rng.integers(0, size, rows) for head, size in classes.items()}
    labels["intent"][: rows // 5] = IGNORE_INDEX  # a fifth of the rows have no intent label
    predictions = {name: {head: np.stack([noisy(np.where(labels[head] < 0, 0, labels[head]), right, rng, size)
                                          for _ in range(seeds)]) for head, size in classes.items()}
                   for name, right in (("a", right_a), ("b", right_b))}
    return labels, predictions, classes


def macro_f1_mean(labels, predictions, classes, seed):
    return joint_metrics({h: one_hot(predictions[h][seed], classes[h]) for h in classes}, labels)["macro_f1_mean"]


def test_the_paired_difference_is_the_mean_over_seeds_of_what_the_metrics_module_gives():
    labels, predictions, classes = two_head_problem(rows=400, seeds=3, right_a=0.8, right_b=0.6)
    result = seed_paired_comparison(labels, predictions["a"], predictions["b"], classes, resamples=300)
    expected = [macro_f1_mean(labels, predictions["a"], classes, s) - macro_f1_mean(labels, predictions["b"], classes, s)
                for s in range(3)]
    assert result["per_seed_differences"] == pytest.approx(expected)
    assert result["paired_difference"] == pytest.approx(np.mean(expected))
    low, high = result["paired_difference_ci"]
    assert 0 < low < result["paired_difference"] < high and result["resolved"]
    assert result["paired_p_value"] < 0.05 and result["seeds"] == 3 and result["rows"] == 400


def test_equal_models_are_not_resolved_and_the_detectable_difference_shrinks_with_rows():
    small = two_head_problem(rows=200, seeds=3, right_a=0.7, right_b=0.7)
    large = two_head_problem(rows=3200, seeds=3, right_a=0.7, right_b=0.7)
    at_200 = seed_paired_comparison(small[0], small[1]["a"], small[1]["b"], small[2], resamples=300)
    at_3200 = seed_paired_comparison(large[0], large[1]["a"], large[1]["b"], large[2], resamples=300)
    for result in (at_200, at_3200):
        low, high = result["paired_difference_ci"]
        assert low < 0 < high and not result["resolved"] and result["paired_p_value"] > 0.01
    # the standard error goes as 1/sqrt(rows): 16x the rows, about a quarter of the detectable difference
    assert 0.15 < at_3200["min_detectable_difference"] / at_200["min_detectable_difference"] < 0.4


def test_one_seed_has_an_interval_but_no_test_across_seeds():
    labels, predictions, classes = two_head_problem(rows=300, seeds=1, right_a=0.9, right_b=0.5)
    result = seed_paired_comparison(labels, predictions["a"], predictions["b"], classes, resamples=200)
    assert result["paired_p_value"] is None and result["resolved"]
    with pytest.raises(ValueError, match="seeds, rows"):
        seed_paired_comparison(labels, predictions["a"], {h: p[:, :10] for h, p in predictions["b"].items()}, classes)


def test_query_comparison_resamples_users_so_copied_queries_add_no_certainty():
    """Ten identical queries per user carry one user's worth of evidence: the user-level
    interval is about sqrt(10) wider than one that treats them as independent."""
    rng = np.random.default_rng(0)
    per_user = np.repeat(rng.normal(0.05, 0.5, size=(1, 200)), 2, axis=0)  # 200 users, 2 seeds that agree
    a, b = np.repeat(per_user, 10, axis=1), np.zeros((2, 2000))
    users = np.repeat(np.arange(200), 10)
    by_user = paired_query_comparison(a, b, users)
    by_query = paired_query_comparison(a, b)
    width = lambda c: c["paired_difference_ci"][1] - c["paired_difference_ci"][0]  # noqa: E731
    assert by_user["clusters"] == 200 and by_query["clusters"] == 2000
    assert 2.5 < width(by_user) / width(by_query) < 4.0
    assert by_user["paired_difference"] == pytest.approx(per_user.mean())


def test_query_comparison_holds_its_size_under_no_difference():
    """With no true difference, a 95% interval excludes 0 in about 5% of repetitions."""
    rng = np.random.default_rng(1)
    resolved = [paired_query_comparison(rng.normal(0, 1, (2, 150)), rng.normal(0, 1, (2, 150)),
                                        np.repeat(np.arange(50), 3), resamples=400, seed=k)["resolved"]
                for k in range(120)]
    assert np.mean(resolved) < 0.12


def test_query_comparison_finds_a_real_difference_and_refuses_mismatched_shapes():
    rng = np.random.default_rng(2)
    b = rng.normal(0, 1, (3, 600))
    found = paired_query_comparison(b + 0.3 + rng.normal(0, 0.2, (3, 600)), b)
    assert found["resolved"] and found["paired_difference_ci"][0] > 0.2 and found["paired_p_value"] < 1e-6
    with pytest.raises(ValueError, match="same"):
        paired_query_comparison(b, b[:, :10])

"""Paired bootstrap of a macro-F1 difference, checked against hand-computed values."""
import numpy as np
import pytest

from mmei.platform.metrics import head_metrics
from mmei.platform.paired_stats import macro_f1_batch, paired_bootstrap


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

"""Off-policy estimators on logs with a known answer."""
import numpy as np
import pytest

from mmei.platform.off_policy import SlateLog, estimate


def two_item_log(n: int, q_logged=None, q_target=None) -> SlateLog:
    """One position, items A (reward 1) and B (reward 0) logged alternately at π0 = 0.5;
    the candidate always shows A, so its value is exactly 1."""
    shows_a = np.arange(n) % 2 == 0
    return SlateLog(users=np.arange(n) // 4, propensity=np.full((n, 1), 0.5), reward=shows_a[:, None].astype(float),
                    target=shows_a[:, None].astype(float), q_logged=q_logged, q_target=q_target)


def test_every_estimator_is_exact_on_a_balanced_uniform_log():
    n = 400
    wrong_model = np.full((n, 1), 0.5)  # DR stays exact with a wrong reward model: the propensities are right
    report = estimate(two_item_log(n, wrong_model, wrong_model.copy()), resamples=200)
    for name in ("naive", "ips", "snips", "dr"):
        assert report.estimates[name].value == pytest.approx(1.0), name
    assert report.estimates["logged"].value == pytest.approx(0.5)
    assert report.max_weight == 2.0 and report.matched_share == 0.5 and report.users == 100


def contextual_log(seed: int, n: int = 6000):
    """Two contexts, three items, one position. The logger favours the item that is bad
    in context 1; the candidate picks each context's best. Truth known in closed form."""
    rng = np.random.default_rng(seed)
    means = np.array([[0.2, 0.5, 0.3], [0.7, 0.1, 0.4]])  # context × item: P(reward)
    logging = np.array([[0.2, 0.6, 0.2], [0.1, 0.8, 0.1]])
    candidate = means.argmax(1)
    context = rng.integers(0, 2, n)
    shown = np.array([rng.choice(3, p=logging[c]) for c in context])
    reward = (rng.random(n) < means[context, shown]).astype(float)
    q_hat = means + 0.05  # a slightly wrong reward model
    log = SlateLog(users=rng.integers(0, 500, n), propensity=logging[context, shown][:, None], reward=reward[:, None],
                   target=(shown == candidate[context]).astype(float)[:, None],
                   q_logged=q_hat[context, shown][:, None], q_target=q_hat[context, candidate[context]][:, None])
    return log, means.max(1).mean()


def test_on_a_biased_log_the_corrected_estimators_find_the_truth_and_the_naive_one_does_not():
    covered = {"ips": 0, "snips": 0, "dr": 0}
    for seed in range(5):
        log, truth = contextual_log(seed)
        report = estimate(log, resamples=300, seed=seed)
        for name in covered:
            low, high = report.estimates[name].ci95
            covered[name] += low <= truth <= high
        assert abs(report.estimates["dr"].value - truth) < abs(report.estimates["naive"].value - truth)
    assert all(count >= 4 for count in covered.values()), covered
    log, truth = contextual_log(0)
    assert report.effective_sample_size < len(log.users)


def test_clipping_caps_the_weights_and_biases_ips_down():
    log, truth = contextual_log(1)
    clipped = estimate(log, clip=3.0, resamples=100)
    assert clipped.max_weight == 3.0 and clipped.clip == 3.0
    assert clipped.estimates["ips"].value < estimate(log, resamples=100).estimates["ips"].value


def test_a_zero_propensity_is_refused():
    with pytest.raises(ValueError, match="propensity"):
        SlateLog(np.zeros(2), np.array([[0.5], [0.0]]), np.zeros((2, 1)), np.zeros((2, 1)))

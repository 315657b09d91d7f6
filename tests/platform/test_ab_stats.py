"""A/B statistics against simulations with a known truth."""
import numpy as np
import pytest

from mmei.platform.ab_stats import compare, cuped, required_sample_size, sample_ratio_mismatch, welch, holm


def heavy_tailed(rng, n, mean):
    """Engagement-like: lognormal, scaled to `mean`."""
    draws = rng.lognormal(0.0, 0.8, n)
    return draws / np.exp(0.8 ** 2 / 2) * mean


def test_the_95_percent_intervals_cover_a_known_lift_about_95_percent_of_the_time():
    rng = np.random.default_rng(0)
    covered_welch = covered_boot = 0
    experiments = 200
    for _ in range(experiments):
        control, treatment = heavy_tailed(rng, 400, 60.0), heavy_tailed(rng, 400, 66.0)  # true lift +6 s (+10%)
        result = compare(control, treatment, resamples=400, seed=int(rng.integers(1 << 30)))
        covered_welch += result.welch_ci[0] <= 6.0 <= result.welch_ci[1]
        covered_boot += result.bootstrap_ci[0] <= 6.0 <= result.bootstrap_ci[1]
    # binomial sd of the coverage over 200 experiments is 0.015; allow 3 sd
    assert covered_welch / experiments == pytest.approx(0.95, abs=0.045)
    assert covered_boot / experiments == pytest.approx(0.95, abs=0.05)


def test_aa_tests_reject_at_about_alpha():
    rng = np.random.default_rng(1)
    tests = 600
    rejections = sum(welch(heavy_tailed(rng, 300, 60.0), heavy_tailed(rng, 300, 60.0))[2] < 0.05
                     for _ in range(tests))
    assert rejections / tests == pytest.approx(0.05, abs=0.027)  # 3 binomial sd (0.009)


def test_required_sample_size_matches_the_formula_and_delivers_the_power():
    assert required_sample_size(1.0, 0.2) == 393  # 2 (1.95996 + 0.84162)² / 0.04 = 392.4
    n = required_sample_size(sd=10.0, minimum_effect=2.0)
    rng = np.random.default_rng(2)
    trials = 400
    detected = sum(welch(rng.normal(50, 10, n), rng.normal(52, 10, n))[2] < 0.05 for _ in range(trials))
    assert detected / trials == pytest.approx(0.80, abs=0.06)  # 3 binomial sd (0.02)
    with pytest.raises(ValueError):
        required_sample_size(1.0, 0.0)


def test_sample_ratio_mismatch_flags_a_skewed_split_only():
    assert sample_ratio_mismatch({"control": 5030, "treatment": 4970}, {"control": 0.5, "treatment": 0.5}) > 0.3
    assert sample_ratio_mismatch({"control": 5500, "treatment": 4500}, {"control": 0.5, "treatment": 0.5}) < 1e-6


def test_cuped_shrinks_variance_and_keeps_the_lift():
    rng = np.random.default_rng(3)
    pre = rng.normal(60, 15, 4000)
    arm = np.arange(4000) % 2
    post = 0.8 * pre + rng.normal(0, 6, 4000) + 3.0 * arm
    adjusted, removed = cuped(post, pre)
    assert removed > 0.7
    raw = welch(post[arm == 0], post[arm == 1])
    tight = welch(adjusted[arm == 0], adjusted[arm == 1])
    assert tight[0] == pytest.approx(3.0, abs=0.4) and raw[0] == pytest.approx(3.0, abs=1.0)
    assert (tight[1][1] - tight[1][0]) < 0.6 * (raw[1][1] - raw[1][0])


def test_holm_adjusts_in_step_down_order_and_keeps_the_input_order():
    # sorted: 0.005 x 4 = 0.02, 0.01 x 3 = 0.03, 0.03 x 2 = 0.06, 0.04 x 1 = 0.04 -> kept monotone at 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0]) and holm([]) == []

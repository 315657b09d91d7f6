"""MMSA's regression metrics against values worked out by hand (see each comment)."""
import math

import numpy as np
import pytest

from mmei.platform.mmsa_metrics import DEFINITIONS, mmsa_metrics

TRUTH = np.array([-2.6, -0.4, 0.0, 0.6, 1.4, 3.0, np.nan])
PREDICTED = np.array([-1.8, 0.2, -0.1, 1.6, 0.4, 2.4, 5.0])  # the last row has no true score: ignored


def test_each_metric_equals_the_hand_count():
    m = mmsa_metrics(PREDICTED, TRUTH)
    assert m["n"] == 6
    # >= 0: truth 0 0 1 1 1 1, predicted 0 1 0 1 1 1 → rows 0, 3, 4, 5 agree
    assert m["acc2_has0"] == pytest.approx(4 / 6)
    # class 0: P 1/2 R 1/2 → .5 (support 2); class 1: P 3/4 R 3/4 → .75 (support 4)
    assert m["f1_has0"] == pytest.approx((2 * 0.5 + 4 * 0.75) / 6)
    # without the true 0: truth 0 0 1 1 1, predicted 0 1 1 1 1 → 4 of 5
    assert m["acc2_non0"] == pytest.approx(4 / 5)
    # class 0: P 1 R 1/2 → 2/3 (support 2); class 1: P 3/4 R 1 → 6/7 (support 3)
    assert m["f1_non0"] == pytest.approx((2 * 2 / 3 + 3 * 6 / 7) / 5)
    # round(clip(·, ±1)): truth -1 -0 0 1 1 1, predicted -1 0 -0 1 0 1 → all but row 4
    assert m["acc3"] == pytest.approx(5 / 6)
    # round(clip(·, ±2)): truth -2 -0 0 1 1 2, predicted -2 0 -0 2 0 2 → rows 0, 1, 2, 5
    assert m["acc5"] == pytest.approx(4 / 6)
    # round(clip(·, ±3)): truth -3 -0 0 1 1 3, predicted -2 0 -0 2 0 2 → rows 1, 2
    assert m["acc7"] == pytest.approx(2 / 6)
    assert m["mae"] == pytest.approx((0.8 + 0.6 + 0.1 + 1.0 + 1.0 + 0.6) / 6)
    t, p = TRUTH[:6], PREDICTED[:6]
    pearson = ((t - t.mean()) * (p - p.mean())).sum() / math.sqrt(((t - t.mean()) ** 2).sum() * ((p - p.mean()) ** 2).sum())
    assert m["corr"] == pytest.approx(pearson)


def test_every_metric_has_a_definition():
    assert set(mmsa_metrics(PREDICTED, TRUTH)) - {"n"} == set(DEFINITIONS)

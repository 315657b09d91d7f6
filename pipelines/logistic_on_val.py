"""The classical baselines' one hyperparameter: logistic regression's C, picked on val.

MMEI picks its epoch on val; each baseline gets the same look at val data, no more:
one fit per C on a fixed grid, the best val macro-F1 wins (ties go to the smaller C).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np


def logistic_regression_on_val(train: Any, train_labels: np.ndarray, val: Any, val_labels: np.ndarray,
                               grid: Sequence[float], max_iter: int = 2000) -> tuple[float, float, Any]:
    """(val macro-F1, C, fitted model) of the best C in `grid`."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score

    fitted = []
    for c in grid:
        model = LogisticRegression(C=c, max_iter=max_iter).fit(train, train_labels)
        fitted.append((float(f1_score(val_labels, model.predict(val), average="macro")), c, model))
    return max(fitted, key=lambda item: (item[0], -item[1]))

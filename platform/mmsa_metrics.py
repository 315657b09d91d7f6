"""MMSA's sentiment-regression metrics, as thuiar/MMSA computes them (utils/metricsTop.py),
so numbers on CMU-MOSI / CMU-MOSEI compare with the literature.

Each on the rows whose true score is known; `predicted` and `truth` are scores in [-3, 3].
"""
from __future__ import annotations

import numpy as np

from mmei.platform.metrics import confusion_matrix, f1_per_class

DEFINITIONS = {
    "acc2_has0": "sign accuracy with 0 counted as positive: predicted >= 0 vs true >= 0 (MMSA 'Has0_acc_2')",
    "f1_has0": "weighted F1 of that split (MMSA 'Has0_F1_score')",
    "acc2_non0": "sign accuracy over rows whose true score is not 0: predicted > 0 vs true > 0 (MMSA 'Non0_acc_2')",
    "f1_non0": "weighted F1 of that split (MMSA 'Non0_F1_score')",
    "acc3": "round(clip(score, -1, 1)) equal for prediction and truth: negative / neutral / positive",
    "acc5": "round(clip(score, -2, 2)) equal (MMSA 'Mult_acc_5')",
    "acc7": "round(clip(score, -3, 3)) equal (MMSA 'Mult_acc_7')",
    "mae": "mean absolute error of the score",
    "corr": "Pearson correlation of predicted and true scores",
}


def weighted_f1(truth: np.ndarray, predicted: np.ndarray) -> float:
    """scikit-learn's f1_score(average='weighted') for integer class ids."""
    classes = int(max(truth.max(), predicted.max())) + 1
    matrix = confusion_matrix(truth, predicted, classes)
    support = matrix.sum(axis=1)
    return float((f1_per_class(matrix) * support).sum() / support.sum())


def multiclass_accuracy(predicted: np.ndarray, truth: np.ndarray, bound: float) -> float:
    return float(np.mean(np.round(np.clip(predicted, -bound, bound)) == np.round(np.clip(truth, -bound, bound))))


def mmsa_metrics(predicted: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    known = np.isfinite(truth)
    predicted, truth = np.asarray(predicted, np.float64)[known], np.asarray(truth, np.float64)[known]
    if truth.size < 2:
        return {"n": int(truth.size)}
    has0_truth, has0_pred = (truth >= 0).astype(int), (predicted >= 0).astype(int)
    nonzero = truth != 0
    non0_truth, non0_pred = (truth[nonzero] > 0).astype(int), (predicted[nonzero] > 0).astype(int)
    return {
        "n": int(truth.size),
        "acc2_has0": float(np.mean(has0_truth == has0_pred)), "f1_has0": weighted_f1(has0_truth, has0_pred),
        "acc2_non0": float(np.mean(non0_truth == non0_pred)) if nonzero.any() else float("nan"),
        "f1_non0": weighted_f1(non0_truth, non0_pred) if nonzero.any() else float("nan"),
        "acc3": multiclass_accuracy(predicted, truth, 1.0), "acc5": multiclass_accuracy(predicted, truth, 2.0),
        "acc7": multiclass_accuracy(predicted, truth, 3.0),
        "mae": float(np.mean(np.abs(predicted - truth))), "corr": float(np.corrcoef(predicted, truth)[0, 1]),
    }

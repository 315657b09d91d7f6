"""Classification metrics per head: accuracy, macro-F1, weighted-F1, cross-entropy.

Plain numpy on (probabilities, labels), so reports, Tune and tests agree on one
definition. Unlabelled rows (IGNORE_INDEX) are left out. F1 follows scikit-learn's
conventions: a class with no true and no predicted samples is left out of the macro
mean; precision or recall with a zero denominator counts as 0.
"""
from __future__ import annotations

import numpy as np

from mmei.platform.labels import IGNORE_INDEX


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, classes: int) -> np.ndarray:
    """Rows: true class; columns: predicted class."""
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (labels, predictions), 1)
    return matrix


def f1_per_class(matrix: np.ndarray) -> np.ndarray:
    true_positive = np.diag(matrix).astype(np.float64)
    predicted = matrix.sum(axis=0)
    actual = matrix.sum(axis=1)
    precision = np.divide(true_positive, predicted, out=np.zeros_like(true_positive), where=predicted > 0)
    recall = np.divide(true_positive, actual, out=np.zeros_like(true_positive), where=actual > 0)
    total = precision + recall
    return np.divide(2 * precision * recall, total, out=np.zeros_like(total), where=total > 0)


def head_metrics(probabilities: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """probabilities (N, C) rows summing to 1; labels (N,) class ids or IGNORE_INDEX."""
    keep = labels != IGNORE_INDEX
    probabilities, labels = probabilities[keep], labels[keep].astype(np.int64)
    if labels.size == 0:
        return {"n": 0}
    classes = probabilities.shape[1]
    predictions = probabilities.argmax(axis=1)
    matrix = confusion_matrix(labels, predictions, classes)
    f1 = f1_per_class(matrix)
    support = matrix.sum(axis=1)
    seen = (support + matrix.sum(axis=0)) > 0
    picked = np.clip(probabilities[np.arange(labels.size), labels], 1e-12, 1.0)
    return {
        "n": int(labels.size),
        "accuracy": float((predictions == labels).mean()),
        "macro_f1": float(f1[seen].mean()),
        "weighted_f1": float((f1 * support).sum() / support.sum()),
        "cross_entropy": float(-np.log(picked).mean()),
    }


def joint_metrics(probabilities: dict[str, np.ndarray], labels: dict[str, np.ndarray],
                  prefix: str = "") -> dict[str, float]:
    """Every head's metrics as `{prefix}{head}_{metric}`, plus the joint loss (sum of the
    heads' cross-entropies) and the mean macro-F1 over the heads that have labels."""
    metrics: dict[str, float] = {}
    labelled = []
    for head, values in probabilities.items():
        scores = head_metrics(values, labels[head])
        if scores["n"] == 0:
            continue
        labelled.append(head)
        metrics.update({f"{prefix}{head}_{name}": value for name, value in scores.items() if name != "n"})
    metrics[f"{prefix}loss"] = float(sum(metrics[f"{prefix}{h}_cross_entropy"] for h in labelled))
    metrics[f"{prefix}macro_f1_mean"] = float(np.mean([metrics[f"{prefix}{h}_macro_f1"] for h in labelled]))
    return metrics

"""Paired comparison of two classifiers on the same test rows: a bootstrap over rows.

Both models are scored on each resample of the rows, so the interval of the difference
reflects what the test set can resolve, not the spread of two separate estimates.
Model A may come with several seeds (S, N): each resample scores the mean of its
seeds' macro-F1, so the claim never rests on one lucky seed.
"""
from __future__ import annotations

import numpy as np

from mmei.platform.metrics import f1_per_class


def macro_f1_batch(labels: np.ndarray, predictions: np.ndarray, classes: int) -> np.ndarray:
    """Macro-F1 of many resamples at once: labels and predictions are (R, N) class ids.

    Same convention as `metrics.head_metrics` (and scikit-learn): a class with no true
    and no predicted rows in a resample is left out of that resample's mean.
    """
    resamples = labels.shape[0]
    cells = (np.arange(resamples)[:, None] * classes * classes + labels * classes + predictions).ravel()
    matrices = np.bincount(cells, minlength=resamples * classes * classes).reshape(resamples, classes, classes)
    scores = np.empty(resamples)
    for r in range(resamples):
        matrix = matrices[r]
        seen = (matrix.sum(axis=0) + matrix.sum(axis=1)) > 0
        scores[r] = f1_per_class(matrix)[seen].mean()
    return scores


def paired_bootstrap(labels: np.ndarray, predictions_a: np.ndarray, predictions_b: np.ndarray, classes: int,
                     resamples: int = 2000, seed: int = 0) -> dict[str, float]:
    """Macro-F1 of A (mean over its seeds), of B, their difference and its 95% interval.

    labels (N,); predictions_a (N,) or (S, N); predictions_b (N,). `p_not_better` is the
    share of resamples where A does not beat B (a one-sided bootstrap p-value).
    """
    labels = np.asarray(labels)
    predictions_a = np.atleast_2d(np.asarray(predictions_a))
    predictions_b = np.asarray(predictions_b)
    n = labels.size
    if predictions_a.shape[1] != n or predictions_b.shape != (n,):
        raise ValueError(f"predictions must cover the same {n} rows: got {predictions_a.shape} and {predictions_b.shape}")
    rows = np.random.default_rng(seed).integers(0, n, size=(resamples, n))

    def score(predictions: np.ndarray, index: np.ndarray) -> np.ndarray:
        return macro_f1_batch(labels[index], predictions[index], classes)

    full = np.arange(n)[None, :]
    a_seeds = [score(p, rows) for p in predictions_a]
    differences = np.mean(a_seeds, axis=0) - score(predictions_b, rows)
    a = float(np.mean([score(p, full)[0] for p in predictions_a]))
    b = float(score(predictions_b, full)[0])
    low, high = np.percentile(differences, [2.5, 97.5])
    return {"a": a, "b": b, "difference": a - b, "ci95_low": float(low), "ci95_high": float(high),
            "p_not_better": float(np.mean(differences <= 0)), "rows": n, "seeds": int(predictions_a.shape[0]),
            "resamples": resamples}

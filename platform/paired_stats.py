"""Paired comparisons of two systems on the same test rows: bootstraps over rows (or queries) and seeds.

Both models are scored on each resample of the rows, so the interval of the difference
reflects what the test set can resolve, not the spread of two separate estimates.
- `paired_bootstrap`: one head; model A may come with several seeds (S, N), and each
  resample scores the mean of its seeds' macro-F1 (the text benchmark).
- `seed_paired_comparison`: every head, both models with S seeds paired seed by seed
  (`mmei eval --compare`): the interval covers rows and seeds, with a paired t-test
  across seeds and the smallest difference this budget can detect.
- `paired_query_comparison`: two rankers' per-query metric, paired by query and seed
  (`mmei ranker eval`).
"""
from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from mmei.platform.labels import IGNORE_INDEX
from mmei.platform.metrics import f1_per_class


def macro_f1_batch(labels: np.ndarray, predictions: np.ndarray, classes: int,
                   valid: np.ndarray | None = None) -> np.ndarray:
    """Macro-F1 of many resamples at once: labels and predictions are (R, N) class ids;
    `valid` (R, N) leaves out rows without a label (IGNORE_INDEX).

    Same convention as `metrics.head_metrics` (and scikit-learn): a class with no true
    and no predicted rows in a resample is left out of that resample's mean.
    """
    resamples = labels.shape[0]
    weights = None if valid is None else valid.ravel().astype(np.float64)
    labels = labels if valid is None else np.where(valid, labels, 0)
    cells = (np.arange(resamples)[:, None] * classes * classes + labels * classes + predictions).ravel()
    matrices = np.bincount(cells, weights=weights,
                           minlength=resamples * classes * classes).reshape(resamples, classes, classes)
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


def seed_paired_comparison(labels: dict[str, np.ndarray], predictions_a: dict[str, np.ndarray],
                           predictions_b: dict[str, np.ndarray], classes: dict[str, int], resamples: int = 2000,
                           seed: int = 0, alpha: float = 0.05, power: float = 0.8) -> dict[str, Any]:
    """A minus B in macro-F1 averaged over the labelled heads (`macro_f1_mean`), paired
    by test row and by training seed: seed s of A was trained like seed s of B.

    labels[head] (N,), IGNORE_INDEX where unlabelled; predictions_x[head] (S, N).
    - `paired_difference`: the mean over seeds of each seed's difference on all rows.
    - `paired_difference_ci`: bootstrap 95% interval over rows and seeds; each resample
      draws rows (the same for both models and every seed) and seeds (the same pairs).
    - `paired_p_value`: two-sided paired t-test of the per-seed differences (None with
      one seed: nothing to test across).
    - `min_detectable_difference`: (z(1 - alpha/2) + z(power)) x the bootstrap standard
      error: the smallest true difference these rows and seeds detect with `power`.
    """
    heads = [head for head in labels if (labels[head] != IGNORE_INDEX).any()]
    seeds, rows = predictions_a[heads[0]].shape
    for predictions in (predictions_a, predictions_b):
        if any(predictions[head].shape != (seeds, rows) for head in heads):
            raise ValueError(f"predictions must be (seeds, rows) = {(seeds, rows)} for every head of both models")
    rng = np.random.default_rng(seed)
    row_draws = rng.integers(0, rows, size=(resamples, rows))
    seed_draws = rng.integers(0, seeds, size=(resamples, seeds))

    def score(predictions: dict[str, np.ndarray], index: np.ndarray) -> np.ndarray:
        """(S, R): each seed's mean-over-heads macro-F1 on each row draw."""
        per_head = [[macro_f1_batch(labels[head][index], p[index], classes[head], labels[head][index] != IGNORE_INDEX)
                     for p in predictions[head]] for head in heads]
        return np.mean(per_head, axis=0)

    all_rows = np.arange(rows)[None, :]
    per_seed = (score(predictions_a, all_rows) - score(predictions_b, all_rows))[:, 0]
    boot = score(predictions_a, row_draws) - score(predictions_b, row_draws)
    boot = np.take_along_axis(boot, seed_draws.T, axis=0).mean(axis=0)
    low, high = np.percentile(boot, [2.5, 97.5])
    p_value = None
    if seeds > 1:
        spread = per_seed.std(ddof=1)
        p_value = (float(stats.ttest_1samp(per_seed, 0.0).pvalue) if spread > 0
                   else float(per_seed.mean() == 0))  # identical differences: certain unless all zero
    detectable = (stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)) * boot.std(ddof=1)
    return {"paired_difference": float(per_seed.mean()), "paired_difference_ci": [float(low), float(high)],
            "paired_p_value": p_value, "min_detectable_difference": float(detectable),
            "per_seed_differences": [float(d) for d in per_seed], "rows": rows, "seeds": seeds,
            "resamples": resamples, "resolved": bool(low > 0 or high < 0)}


def paired_query_comparison(a: np.ndarray, b: np.ndarray, clusters: np.ndarray | None = None,
                            resamples: int = 2000, seed: int = 0, alpha: float = 0.05,
                            power: float = 0.8) -> dict[str, Any]:
    """A minus B on a per-query metric (NDCG, a simulated outcome), paired by query and seed.

    a, b: (S, Q), seed s of A trained like seed s of B, both scored on the same Q queries.
    `clusters` (Q,) names each query's user: queries of one user share their history and
    taste, so they are not independent, and the bootstrap resamples users (with all
    their queries) rather than queries; without it, queries. Each resample draws the
    same users (or queries) and the same seed pairs for both systems. The p-value is
    two-sided, from the bootstrap's standard error (a Wald test), so it agrees with the
    interval; `min_detectable_difference` comes from the same standard error.
    """
    a, b = np.atleast_2d(np.asarray(a, np.float64)), np.atleast_2d(np.asarray(b, np.float64))
    if a.shape != b.shape:
        raise ValueError(f"both systems must be scored on the same (seeds, queries): {a.shape} vs {b.shape}")
    seeds, queries = a.shape
    clusters = np.arange(queries) if clusters is None else np.asarray(clusters)
    if clusters.shape != (queries,):
        raise ValueError(f"clusters must name one user per query: {clusters.shape} for {queries} queries")
    names, cluster_of = np.unique(clusters, return_inverse=True)
    differences = a - b
    sums = np.stack([np.bincount(cluster_of, weights=d, minlength=len(names)) for d in differences])  # (S, C)
    counts = np.bincount(cluster_of, minlength=len(names)).astype(np.float64)  # (C,)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(names), size=(resamples, len(names)))
    weights = np.zeros((resamples, len(names)))
    np.add.at(weights, (np.arange(resamples)[:, None], draws), 1.0)
    per_seed = (sums @ weights.T) / (weights @ counts)  # (S, R): each seed's mean difference per resample
    seed_draws = rng.integers(0, seeds, size=(resamples, seeds))
    boot = np.take_along_axis(per_seed, seed_draws.T, axis=0).mean(axis=0)
    low, high = np.percentile(boot, [2.5, 97.5])
    difference, spread = float(differences.mean()), float(boot.std(ddof=1))
    p_value = float(2 * stats.norm.sf(abs(difference) / spread)) if spread > 0 else float(difference == 0)
    detectable = (stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)) * spread
    return {"a": float(a.mean()), "b": float(b.mean()), "paired_difference": difference,
            "paired_difference_ci": [float(low), float(high)], "paired_p_value": p_value,
            "min_detectable_difference": float(detectable),
            "per_seed_differences": [float(d) for d in differences.mean(axis=1)], "queries": queries,
            "clusters": len(names), "seeds": seeds, "resamples": resamples, "resolved": bool(low > 0 or high < 0)}

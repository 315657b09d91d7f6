"""Off-policy estimates of a candidate ranker's value from a log another policy chose.

The log holds, for each served request, the slate shown (K positions), each shown
item's logged propensity π0(item at p) (platform/exploration.py) and its reward (0
without feedback). A candidate policy π1 gives π1(logged item at p). The value of a
policy is the expected total reward of a slate: Σ over positions.

Estimators (Dudík et al. 2011; Swaminathan & Joachims 2015; Li et al. 2018 for slates):
- `logged`: the logging policy's own value, the mean reward of the log;
- `naive`: replay, the mean reward where the candidate agrees with the log, position by
  position, unweighted. Unbiased only when the log was uniformly random;
- `ips`: independent-item inverse propensity scoring: Σ_p mean over requests of
  w·r, w = π1 / π0 (clipped at `clip` if given: lower variance, biased down);
- `snips`: the same, self-normalised per position: Σ w·r / Σ w. Slightly biased,
  far lower variance when weights are large;
- `dr`: doubly robust: a reward model q̂ (cross-fitted by the caller) for the
  candidate's choice, plus the weighted residual of the logged choice. Unbiased if
  either the propensities or q̂ are right.

The slate assumption, for every estimator here: a position's reward depends on the item
at that position and the context, not on the other items in the slate (the
independent-item or "item-position" model). Position bias is allowed; an item that is
clicked less because a better one sits above it is not.

Intervals are a percentile bootstrap over users (a user's requests share their traits,
so they are resampled together), on per-user sums, so 2,000 resamples cost two matrix
products.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ESTIMATORS = ("logged", "naive", "ips", "snips", "dr")


@dataclass
class SlateLog:
    users: np.ndarray  # (N,) user of each request, any hashable labels
    propensity: np.ndarray  # (N, K) π0(logged item at p)
    reward: np.ndarray  # (N, K)
    target: np.ndarray  # (N, K) π1(logged item at p)
    q_logged: np.ndarray | None = None  # (N, K) q̂(context, logged item, p)
    q_target: np.ndarray | None = None  # (N, K) Σ_i π1(i at p) q̂(context, i, p)

    def __post_init__(self) -> None:
        shape = self.reward.shape
        for name in ("propensity", "target", "q_logged", "q_target"):
            value = getattr(self, name)
            if value is not None and value.shape != shape:
                raise ValueError(f"{name} has shape {value.shape}, reward {shape}")
        if len(self.users) != shape[0]:
            raise ValueError(f"{len(self.users)} users for {shape[0]} requests")
        if not np.all(self.propensity > 0):
            raise ValueError("every logged propensity must be > 0 (a row the log could not have shown)")


@dataclass
class Estimate:
    value: float
    ci95: tuple[float, float]


@dataclass
class OffPolicyReport:
    estimates: dict[str, Estimate]
    requests: int
    users: int
    effective_sample_size: float  # (Σw)² / Σw² over every logged (request, position)
    max_weight: float
    matched_share: float  # share of logged (request, position) where π1 > 0
    clip: float | None


def per_user_sums(log: SlateLog, weights: np.ndarray) -> np.ndarray:
    """(U, columns): per user, the sums every estimator is a ratio of."""
    _, user_index = np.unique(log.users, return_inverse=True)
    columns = [np.ones(len(log.users)),  # requests
               log.reward.sum(1),  # logged value
               (weights * log.reward).sum(1)]  # ips numerator
    k = log.reward.shape[1]
    columns += [log.target[:, p] * log.reward[:, p] for p in range(k)]  # naive numerators
    columns += [log.target[:, p] for p in range(k)]  # naive denominators
    columns += [weights[:, p] * log.reward[:, p] for p in range(k)]  # snips numerators
    columns += [weights[:, p] for p in range(k)]  # snips denominators
    if log.q_logged is not None and log.q_target is not None:
        columns.append((log.q_target + weights * (log.reward - log.q_logged)).sum(1))
    table = np.stack(columns, axis=1)
    sums = np.zeros((user_index.max() + 1, table.shape[1]))
    np.add.at(sums, user_index, table)
    return sums


def estimates_from_sums(sums: np.ndarray, k: int) -> dict[str, np.ndarray]:
    """Each estimator's value from (..., columns) sums (the bootstrap passes many rows)."""
    requests = sums[..., 0]
    offset = 3
    naive_num, naive_den = sums[..., offset:offset + k], sums[..., offset + k:offset + 2 * k]
    snips_num, snips_den = sums[..., offset + 2 * k:offset + 3 * k], sums[..., offset + 3 * k:offset + 4 * k]
    with np.errstate(divide="ignore", invalid="ignore"):
        out = {"logged": sums[..., 1] / requests, "ips": sums[..., 2] / requests,
               "naive": np.where(naive_den > 0, naive_num / naive_den, 0.0).sum(-1),
               "snips": np.where(snips_den > 0, snips_num / snips_den, 0.0).sum(-1)}
        if sums.shape[-1] > offset + 4 * k:
            out["dr"] = sums[..., -1] / requests
    return out


def estimate(log: SlateLog, clip: float | None = None, resamples: int = 2000, seed: int = 0) -> OffPolicyReport:
    """Every estimator with its 95% bootstrap interval over users."""
    weights = log.target / log.propensity
    if clip is not None:
        weights = np.minimum(weights, clip)
    sums = per_user_sums(log, weights)
    k = log.reward.shape[1]
    point = estimates_from_sums(sums.sum(0), k)
    rng = np.random.default_rng(seed)
    users = len(sums)
    counts = np.stack([np.bincount(rng.integers(0, users, users), minlength=users) for _ in range(resamples)])
    boot = estimates_from_sums(counts @ sums, k)
    estimates = {name: Estimate(float(point[name]),
                                (float(np.percentile(boot[name], 2.5)), float(np.percentile(boot[name], 97.5))))
                 for name in ESTIMATORS if name in point}
    flat = weights.ravel()
    ess = float(flat.sum() ** 2 / (flat ** 2).sum()) if (flat ** 2).sum() > 0 else 0.0
    return OffPolicyReport(estimates, len(log.users), users, ess, float(flat.max(initial=0.0)),
                           float((log.target > 0).mean()), clip)

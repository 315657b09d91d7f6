"""Exploration with logged propensities: the served slate is sometimes not the top k.

A ranker that always serves its top k never learns what it ranks low: those items get
no feedback, the next training run learns from the ranker's own choices, and no
off-policy estimate can correct for it, because nothing says how likely each shown
item was. So a slate is sampled, and the probability of what was shown is logged.

The policy is ε-greedy over whole slates: with probability 1 − ε the ranker's top k,
with probability ε a uniformly random ordered draw of k of the n candidates. Then the
chance that item i sits at position p is exact and positive for every item and position:

    π0(i at p) = (1 − ε) · [i is the ranker's p-th] + ε / n

which is what the independent-item estimators in platform/off_policy.py divide by. Why
not swap single positions: a candidate ranker that reorders the top k would then ask
about (item, position) pairs the log can never show (probability 0), and no estimator
can recover those. Why not a Plackett–Luce softmax: its per-position probabilities have
no closed form beyond the first position and would have to be estimated themselves.

The draw is seeded by the request id, so a replayed request gets the same slate.
`epsilon=0` is the deterministic top k with propensity 1, so an A/B can pit exploring
against not.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

DEFAULT_EPSILON = 0.05  # one request in 20 explores: a small cost, and every item gets seen


@dataclass(frozen=True)
class Slate:
    items: list[str]
    propensities: list[float]  # π0(items[p] at p), position by position
    explored: bool


def request_rng(request_id: str) -> np.random.Generator:
    """A generator seeded by the request id alone: the same id draws the same slate."""
    return np.random.default_rng(int.from_bytes(hashlib.sha256(request_id.encode()).digest()[:8], "little"))


def position_propensity(item: str, position: int, ranked: list[str], n: int, epsilon: float) -> float:
    """π0(item at position) under ε-greedy over whole slates of n candidates."""
    greedy = 1.0 if position < len(ranked) and ranked[position] == item else 0.0
    return (1.0 - epsilon) * greedy + epsilon / n


def explore_slate(ranked: list[str], candidates: list[str], epsilon: float, request_id: str) -> Slate:
    """`ranked`: the ranker's top k, best first; `candidates`: every item it chose from."""
    if not 0.0 <= epsilon <= 1.0:
        raise ValueError(f"exploration epsilon must be in [0, 1], got {epsilon}")
    if len(candidates) < len(ranked):
        raise ValueError(f"{len(ranked)} ranked items but only {len(candidates)} candidates")
    n, k = len(candidates), len(ranked)
    rng = request_rng(request_id)
    explored = bool(epsilon > 0 and rng.random() < epsilon)
    items = [candidates[i] for i in rng.choice(n, k, replace=False)] if explored else list(ranked)
    return Slate(items, [position_propensity(item, p, ranked, n, epsilon) for p, item in enumerate(items)], explored)

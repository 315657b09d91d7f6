"""A/B variant assignment: a stable hash of the user id, never a coin flip per request.

The same user always lands in the same variant (across replicas, restarts and
machines), which keeps an A/B test's arms disjoint and its analysis valid.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

STRATEGIES = ("congruent", "regulating")
RANKERS = ("affect", "learned")


@dataclass
class Variant:
    name: str = "control"
    fraction: float = 1.0  # share of users; the fractions of all variants sum to 1
    strategy: str = "congruent"  # congruent | regulating: the affect strategy this arm serves
    ranker: str = "affect"  # affect (the scoring model) or learned (the serving config's ranker_bundle)
    epsilon: float = 0.0  # exploration: this share of its requests get a uniformly random slate (platform/exploration.py)

    def __post_init__(self) -> None:
        if not 0.0 < self.fraction <= 1.0:
            raise ValueError(f"variant {self.name!r}: fraction must be in (0, 1], got {self.fraction}")
        if self.ranker not in RANKERS:
            raise ValueError(f"variant {self.name!r}: ranker must be one of {RANKERS}, got {self.ranker!r}")
        if not 0.0 <= self.epsilon <= 1.0:
            raise ValueError(f"variant {self.name!r}: epsilon must be in [0, 1], got {self.epsilon}")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"variant {self.name!r}: strategy must be one of {STRATEGIES}, got {self.strategy!r}")


def check_variants(variants: list[Variant]) -> None:
    names = [v.name for v in variants]
    if not variants or len(set(names)) != len(names):
        raise ValueError(f"variants must be non-empty with unique names, got {names}")
    total = sum(v.fraction for v in variants)
    if abs(total - 1.0) > 1e-6:
        raise ValueError(f"variant fractions must sum to 1, got {total:.4f} for {names}")


def bucket(user_id: str, salt: str = "mmei-ab") -> float:
    """A uniform number in [0, 1) that depends only on (salt, user_id)."""
    digest = hashlib.sha256(f"{salt}:{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign_variant(user_id: str, variants: list[Variant], salt: str = "mmei-ab") -> Variant:
    point, edge = bucket(user_id, salt), 0.0
    for variant in variants:
        edge += variant.fraction
        if point < edge:
            return variant
    return variants[-1]  # rounding at the top edge

"""The affect-aware scoring ranker: user state × item → score, with no training.

score(item) = w_affect  · affect match (strategy-dependent)
            + w_intent  · Σ_i p(intent i) · affinity(item, i)
            + w_content · cos(request text vector, item vector)      (0 without text)
            + w_profile · cos(profile vector, item vector) · n/(n+3)  (0 without history)

Affect match under each strategy, with p the recognised emotion distribution:
- congruent: Σ_e p(e) · [item.target_emotion = e]: content that matches the mood;
- regulating: Σ_e p(e) · REGULATION[e][item.target_emotion]: content that moves a
  negative mood toward calm or joy, and keeps a good one.

The profile vector is the sum of item vectors the user gave feedback on, each
weighted by its reward: satisfaction mapped to [-1, 1] (3 is neutral), plus
engagement beyond 60 s as a bonus up to 0.5. Item and text vectors come from the
model's own text encoder, so words about affect and intent in titles and tags count.

A learned ranker can replace this one behind the same `score` signature.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from mmei.platform.catalog import Item
from mmei.platform.labels import LabelSpaces
from mmei.platform.store import ProfileEntry

REGULATION = {  # recognised emotion → how much each target emotion helps
    "anger": {"neutral": 1.0, "joy": 0.6},
    "disgust": {"neutral": 0.8, "joy": 0.8},
    "fear": {"neutral": 1.0, "joy": 0.7},
    "sadness": {"joy": 1.0, "surprise": 0.5, "neutral": 0.4},
    "neutral": {"joy": 0.7, "surprise": 0.7, "neutral": 0.5},
    "joy": {"joy": 1.0, "surprise": 0.6},
    "surprise": {"surprise": 0.8, "joy": 0.8},
}
PROFILE_PRIOR_EVENTS = 3.0


@dataclass
class RankerWeights:
    affect: float = 1.0  # weight of the affect match (congruent or regulating)
    intent: float = 1.0  # weight of intent affinity
    content: float = 0.5  # weight of text-to-item similarity
    profile: float = 0.5  # weight of the user's stored feedback


@dataclass
class UserState:
    """What the ranker knows about the user now: MMEI's output for this request."""

    emotion: dict[str, float]
    intent: dict[str, float]
    text_vector: np.ndarray | None = None  # unit vector, or None when no text was given


def reward(entry: ProfileEntry) -> float:
    return (entry.mean_satisfaction - 3.0) / 2.0 + min(max(entry.mean_engagement - 60.0, 0.0) / 120.0, 0.5)


class AffectRanker:
    def __init__(self, items: Sequence[Item], item_vectors: np.ndarray, labels: LabelSpaces,
                 weights: RankerWeights | None = None):
        if len(items) != len(item_vectors):
            raise ValueError(f"{len(items)} items but {len(item_vectors)} vectors")
        self.items = list(items)
        self.index = {item.item_id: i for i, item in enumerate(self.items)}
        norms = np.linalg.norm(item_vectors, axis=1, keepdims=True)
        self.vectors = (item_vectors / np.maximum(norms, 1e-8)).astype(np.float32)
        self.weights = weights or RankerWeights()
        emotions = labels.emotion
        targets = np.array([emotions.index(item.target_emotion) for item in self.items])
        self.congruence = np.eye(len(emotions), dtype=np.float32)[:, targets]  # (emotions, items)
        table = np.array([[REGULATION.get(e, {}).get(t, 0.0) for t in emotions] for e in emotions], dtype=np.float32)
        self.regulation = table[:, targets]
        self.affinity = np.array([[item.intent_affinity.get(i, 0.0) for item in self.items] for i in labels.intent],
                                 dtype=np.float32)  # (intents, items)
        self.emotions, self.intents = emotions, labels.intent

    def profile_vector(self, profile: Sequence[ProfileEntry]) -> tuple[np.ndarray | None, int]:
        known = [entry for entry in profile if entry.item_id in self.index]
        if not known:
            return None, 0
        vector = sum(reward(e) * e.events * self.vectors[self.index[e.item_id]] for e in known)
        norm = float(np.linalg.norm(vector))
        events = sum(e.events for e in known)
        return (vector / norm if norm > 1e-8 else None), events

    def score(self, state: UserState, profile: Sequence[ProfileEntry], strategy: str) -> np.ndarray:
        emotion = np.array([state.emotion.get(e, 0.0) for e in self.emotions], dtype=np.float32)
        intent = np.array([state.intent.get(i, 0.0) for i in self.intents], dtype=np.float32)
        table = self.regulation if strategy == "regulating" else self.congruence
        scores = self.weights.affect * (emotion @ table) + self.weights.intent * (intent @ self.affinity)
        if state.text_vector is not None:
            scores = scores + self.weights.content * (self.vectors @ state.text_vector.astype(np.float32))
        vector, events = self.profile_vector(profile)
        if vector is not None:
            confidence = events / (events + PROFILE_PRIOR_EVENTS)
            scores = scores + self.weights.profile * confidence * (self.vectors @ vector)
        return scores

    def top_k(self, state: UserState, profile: Sequence[ProfileEntry], strategy: str, k: int) -> list[tuple[str, float]]:
        scores = self.score(state, profile, strategy)
        return [(self.items[i].item_id, float(scores[i])) for i in top_indices(scores, k)]


def state_only_ranker(items: Sequence[Item], labels: LabelSpaces) -> "AffectRanker":
    """The affect ranker on the recognised state alone: no text or profile weight, so no
    item vectors are needed (the simulator's logging policies and off-policy candidates)."""
    return AffectRanker(items, np.zeros((len(items), 1), np.float32), labels, RankerWeights(content=0.0, profile=0.0))


def top_indices(scores: np.ndarray, k: int) -> np.ndarray:
    """The k best indices, best first, ties in catalog order: a partition, then a sort of
    only those k (not of the whole catalog)."""
    if k >= len(scores):
        return np.argsort(-scores, kind="stable")
    cut = np.partition(-scores, k - 1)[k - 1]  # the k-th best score, negated
    candidates = np.flatnonzero(-scores <= cut)  # every item tied with it too, in catalog order
    return candidates[np.argsort(-scores[candidates], kind="stable")][:k]

"""Features of a (user state, item) pair for the learned ranker.

    outer(emotion distribution, item target emotion)   emotions²  affect fit, any mapping:
                                                                  congruent and regulating alike
    intent distribution ⊙ item intent affinity          intents    intent fit
    item target emotion, intent affinity, kind          item priors (popularity by type)
  with `history=True` (platform/user_history.py), two more blocks:
    the user's history vector                           3          congruence lift, mean outcome, experience
    congruence lift × outer(emotion, target)            emotions²  the affect fit this user has shown they want

`emotion_blind=True` replaces the emotion distribution with a uniform one: the same
model and features with the affect signal removed, the honest ablation of "emotion
awareness". A blind ranker has no history: its history is made of moods.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from mmei.platform.catalog import Item
from mmei.platform.labels import LabelSpaces
from mmei.platform.user_history import HISTORY_WIDTH

# What a learned ranker reads: name → (emotion_blind, history). The names are eval's systems.
RANKER_INPUTS = {"emotion-blind": (True, False), "emotion-aware": (False, False), "emotion-aware+history": (False, True)}


class PairFeatures:
    def __init__(self, items: Sequence[Item], labels: LabelSpaces, kinds: Sequence[str], history: bool = False):
        self.labels, self.kinds, self.history = labels, list(kinds), history
        emotions, intents = labels.emotion, labels.intent
        self.target = np.eye(len(emotions), dtype=np.float32)[[emotions.index(i.target_emotion) for i in items]]
        self.affinity = np.array([[i.intent_affinity.get(n, 0.0) for n in intents] for i in items], np.float32)
        self.kind = np.array([[float(i.kind == k) for k in self.kinds] for i in items], np.float32)
        self.width = len(emotions) ** 2 + 2 * len(intents) + len(emotions) + len(self.kinds)
        if history:
            self.width += HISTORY_WIDTH + len(emotions) ** 2

    def __call__(self, emotion: np.ndarray, intent: np.ndarray, rows: np.ndarray | None = None,
                 emotion_blind: bool = False, history: np.ndarray | None = None) -> np.ndarray:
        """(n, width) features for one state against items `rows` (default: the whole catalog);
        `history` is the user's vector from user_history.py, required when built with history."""
        rows = np.arange(len(self.target)) if rows is None else rows
        if emotion_blind:
            emotion = np.full_like(emotion, 1.0 / len(emotion))
        target, affinity = self.target[rows], self.affinity[rows]
        outer = (emotion[None, :, None] * target[:, None, :]).reshape(len(rows), -1)
        blocks = [outer, intent[None, :] * affinity, target, affinity, self.kind[rows]]
        if self.history:
            if history is None or history.shape != (HISTORY_WIDTH,):
                raise ValueError(f"this ranker reads a user history of {HISTORY_WIDTH} values; got {history!r}")
            blocks += [np.broadcast_to(history, (len(rows), HISTORY_WIDTH)), history[0] * outer]
        return np.concatenate(blocks, axis=1)

    def one_hot(self, head: str, name: str) -> np.ndarray:
        names = self.labels.names(head)
        vector = np.zeros(len(names), np.float32)
        vector[names.index(name)] = 1.0
        return vector

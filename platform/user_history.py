"""A user's affect history: how their outcomes varied with the affect match of what they were shown.

The current mood alone cannot tell a user who wants content that matches their mood
from one who wants content that lifts it: the same mood calls for opposite items.
Their past can. Each item shown to a user counts once, with the mood recognised for
that request; its outcome is the satisfaction the user gave it (0 without feedback).
The history's vector is what the learned ranker reads:

    congruence_lift   (Σ outcome on mood-matching items − matched · mean outcome) / (matched + PRIOR_MATCHED) / 5
                      > 0: this user does better on items that match their mood
    mean_outcome      mean outcome per shown item / 5
    experience        log(1 + items shown) / 5: how much to trust the other two

It uses only the log (moods, items, feedback), never a simulator's latent traits,
and only what was stored before the moment it describes: offline, each request sees
the events stored before it (`replay`); online, the store keeps these four sums per
user (`Store.user_affect`), added to in each write's transaction, so the Ranker reads
one row instead of replaying the log.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import numpy as np

HISTORY_WIDTH = 3
PRIOR_MATCHED = 3.0  # pseudo-items at the user's mean: a lift from one matched item is shrunk to a quarter
MAX_SATISFACTION = 5.0


@dataclass
class AffectHistory:
    shown: int = 0
    outcome_sum: float = 0.0
    matched: int = 0
    matched_outcome_sum: float = 0.0

    def show(self, mood: str | None, target_emotion: str | None) -> None:
        self.shown += 1
        self.matched += int(mood is not None and mood == target_emotion)

    def feedback(self, mood: str | None, target_emotion: str | None, satisfaction: float) -> None:
        self.outcome_sum += satisfaction
        if mood is not None and mood == target_emotion:
            self.matched_outcome_sum += satisfaction

    def vector(self) -> np.ndarray:
        mean = self.outcome_sum / self.shown if self.shown else 0.0
        lift = (self.matched_outcome_sum - self.matched * mean) / (self.matched + PRIOR_MATCHED)
        return np.array([lift / MAX_SATISFACTION, mean / MAX_SATISFACTION, np.log1p(self.shown) / 5.0], np.float32)


def replay(requests: Iterable[Mapping[str, Any]], events: Iterable[Mapping[str, Any]],
           target_of: Mapping[str, str]) -> tuple[dict[str, np.ndarray], dict[str, AffectHistory]]:
    """Replay a log in time order: (the history vector each request saw, each user's history at the end).

    `requests` are logged recommendations (request_id, user_id, emotion, items,
    created_at); `events` are feedback events (request_id, item_id, satisfaction,
    created_at); `target_of` maps item ids to their target emotion. A request sees the
    events stored strictly before it; feedback on a request this log does not hold, or
    on an item the catalog no longer has, is skipped.
    """
    timeline = sorted([(float(r["created_at"]), 0, r) for r in requests]
                      + [(float(e["created_at"]), 1, e) for e in events], key=lambda entry: entry[:2])
    seen: dict[str, np.ndarray] = {}
    users: dict[str, AffectHistory] = {}
    mood_of: dict[str, tuple[str, str | None]] = {}  # request_id → (user, mood)
    for _, kind, entry in timeline:
        if kind == 0:
            history = users.setdefault(entry["user_id"], AffectHistory())
            seen[entry["request_id"]] = history.vector()
            mood_of[entry["request_id"]] = (entry["user_id"], entry["emotion"])
            for item_id in entry["items"]:
                history.show(entry["emotion"], target_of.get(item_id))
        elif entry["request_id"] in mood_of and entry["item_id"] in target_of:
            user, mood = mood_of[entry["request_id"]]
            users[user].feedback(mood, target_of[entry["item_id"]], float(entry["satisfaction"]))
    return seen, users

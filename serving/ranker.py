"""The Ranker deployment: the catalog, its item vectors, and the ranking models.

Item vectors are computed once at start-up by the bundle's text encoder (the one
the TextEncoder deployment runs), so request text and items share one space.
Two rankers sit behind the same `rank` call, chosen per A/B variant:
- `affect`: the scoring model of platform/affect_ranker.py, always there;
- `learned`: a ranker bundle from `mmei ranker train`, named by the deployment's
  `user_config` (`{"ranker_bundle": DIR}`). Changing the user_config (serve.run or
  `serve deploy` with a new one) calls `reconfigure` on the live replicas: the new
  bundle is loaded beside the old one and swapped in one assignment, so no request
  is dropped or served half-swapped. A bundle that reads user history gets it
  replayed from the user's stored log (the ingress fetches it for learned variants).
A variant with `epsilon` > 0 explores: that share of its requests, drawn by the request
id, get a uniformly random slate of the catalog instead of the top k, and every answer
carries each item's propensity (platform/exploration.py), which the store logs.
"""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ray import serve

from mmei.platform.affect_ranker import AffectRanker, RankerWeights, UserState, top_indices
from mmei.platform.bundle import load_bundle
from mmei.platform.catalog import load_catalog
from mmei.platform.exploration import explore_slate
from mmei.platform.ranker_bundle import LearnedRanker
from mmei.platform.store import ProfileEntry
from mmei.platform.text_embedding import embed_texts
from mmei.platform.user_history import AffectHistory


@serve.deployment
class Ranker:
    def __init__(self, bundle: str, catalog: str, weights: RankerWeights, floor: bool = False):
        torch.set_num_threads(1)
        self.floor, self.floor_output = floor, {}  # the benchmark's floor system: k → the first answer
        predictor = load_bundle(bundle)
        self.items = load_catalog(catalog, predictor.config.labels)
        vectors = embed_texts(predictor.model.encoders["text"], [item.text() for item in self.items],
                              predictor.config.features)
        self.labels = predictor.config.labels
        self.ranker = AffectRanker(self.items, vectors, self.labels, weights)
        self.target_of = {item.item_id: item.target_emotion for item in self.items}
        self.item_ids = [item.item_id for item in self.items]
        self.learned: LearnedRanker | None = None

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        folder = (user_config or {}).get("ranker_bundle") or None
        if folder is None:
            self.learned = None
        elif self.learned is None or self.learned.folder != str(folder):
            self.learned = LearnedRanker(Path(folder), self.items)  # load fully, then swap

    def scores(self, state: UserState, profile: list[ProfileEntry], strategy: str, ranker: str,
               history: AffectHistory | None = None) -> tuple[str, np.ndarray]:
        """(the ranker used, every catalog item's score)."""
        learned = self.learned  # one read: a concurrent swap cannot change it mid-request
        if ranker == "learned" and learned is not None:
            emotion = np.array([state.emotion.get(e, 0.0) for e in self.labels.emotion], np.float32)
            intent = np.array([state.intent.get(i, 0.0) for i in self.labels.intent], np.float32)
            vector = (history or AffectHistory()).vector() if learned.history else None
            return f"learned:{Path(learned.folder).name}", learned.score(emotion, intent, vector)
        return "affect", self.ranker.score(state, profile, strategy)

    def top_k(self, state: UserState, profile: list[ProfileEntry], strategy: str, k: int, ranker: str,
              history: AffectHistory | None = None, epsilon: float = 0.0, request_id: str = ""
              ) -> tuple[str, list[tuple[str, float]], list[float]]:
        """(the ranker used, the slate with scores, each slate item's propensity)."""
        used, scores = self.scores(state, profile, strategy, ranker, history)
        slate = explore_slate([self.item_ids[i] for i in top_indices(scores, k)], self.item_ids, epsilon, request_id)
        return used, [(item_id, float(scores[self.ranker.index[item_id]])) for item_id in slate.items], \
            slate.propensities

    async def rank(self, emotion: dict[str, float], intent: dict[str, float], text_vector: np.ndarray | None,
                   profile: list[ProfileEntry], strategy: str, k: int, ranker: str = "affect",
                   history: AffectHistory | None = None, epsilon: float = 0.0, request_id: str = "") -> dict[str, Any]:
        """The top k items (or, for an exploring variant, sometimes a random slate) with
        their propensities; `matched` names those whose target emotion is the recognised
        mood (the argmax), which the store adds to the user's affect history."""
        if self.floor and k in self.floor_output:
            return self.floor_output[k]
        state = UserState(emotion=emotion, intent=intent, text_vector=text_vector)
        # numpy and torch off the event loop, so Serve's probes of this replica are answered meanwhile
        used, ranked, propensities = await asyncio.to_thread(self.top_k, state, profile, strategy, k, ranker, history,
                                                             epsilon, request_id)
        mood = max(emotion, key=emotion.get) if emotion else None
        answer = {"ranker": used, "items": [
            {"item_id": item_id, "score": score, "title": self.items[self.ranker.index[item_id]].title,
             "kind": self.items[self.ranker.index[item_id]].kind} for item_id, score in ranked],
            "matched": [item_id for item_id, _ in ranked if self.target_of.get(item_id) == mood],
            "propensities": propensities}
        if self.floor:
            self.floor_output[k] = answer
        return answer

    async def ready(self) -> bool:
        """The ingress's readiness probe: this replica is up and answering."""
        return True

    async def catalog(self, offset: int, limit: int) -> tuple[int, list[dict[str, Any]]]:
        return len(self.items), [item.to_dict() for item in self.items[offset:offset + limit]]

    async def known(self, item_id: str) -> bool:
        return item_id in self.ranker.index

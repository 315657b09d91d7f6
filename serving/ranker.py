"""The Ranker deployment: the catalog, its item vectors, and the ranking model.

Item vectors are computed once at start-up by the bundle's text encoder (the one
the TextEncoder deployment runs), so request text and items share one space. The
ranking model is `platform.affect_ranker`; a learned ranker plugs in behind the same
`rank` call without changing the graph or the API.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from ray import serve

from mmei.platform.affect_ranker import AffectRanker, RankerWeights, UserState
from mmei.platform.bundle import load_bundle
from mmei.platform.catalog import load_catalog
from mmei.platform.store import ProfileEntry
from mmei.platform.text_embedding import embed_texts


@serve.deployment
class Ranker:
    def __init__(self, bundle: str, catalog: str, weights: RankerWeights):
        torch.set_num_threads(1)
        predictor = load_bundle(bundle)
        self.items = load_catalog(catalog, predictor.config.labels)
        vectors = embed_texts(predictor.model.encoders["text"], [item.text() for item in self.items],
                              predictor.config.features)
        self.ranker = AffectRanker(self.items, vectors, predictor.config.labels, weights)

    async def rank(self, emotion: dict[str, float], intent: dict[str, float], text_vector: np.ndarray | None,
                   profile: list[ProfileEntry], strategy: str, k: int) -> list[dict[str, Any]]:
        state = UserState(emotion=emotion, intent=intent, text_vector=text_vector)
        ranked = self.ranker.top_k(state, profile, strategy, k)
        return [{"item_id": item_id, "score": score, "title": self.items[self.ranker.index[item_id]].title,
                 "kind": self.items[self.ranker.index[item_id]].kind} for item_id, score in ranked]

    async def catalog(self, offset: int, limit: int) -> tuple[int, list[dict[str, Any]]]:
        return len(self.items), [item.to_dict() for item in self.items[offset:offset + limit]]

    async def known(self, item_id: str) -> bool:
        return item_id in self.ranker.index

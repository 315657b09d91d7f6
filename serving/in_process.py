"""The graph's classes in one process, called directly: the benchmark's floor.

Instantiates the very deployment classes Serve runs (their `func_or_class`) and
drives them with the same RecommendFlow, so any difference from the Serve graph is
the graph's cost: proxy, handles, serialisation and scheduling.
"""
from __future__ import annotations

from typing import Any

from mmei.platform.store import Store
from mmei.serving.api import RecommendRequest
from mmei.serving.config import ServeConfig
from mmei.serving.encoders import AudioEncoder, TextEncoder, VisualEncoder
from mmei.serving.flow import RecommendFlow
from mmei.serving.fusion import Fusion
from mmei.serving.ranker import Ranker


class InProcessGraph:
    def __init__(self, config: ServeConfig):
        config.check_paths()
        bundle = str(config.bundle)
        self.encoders = {"text": TextEncoder.func_or_class(bundle), "audio": AudioEncoder.func_or_class(bundle),
                         "visual": VisualEncoder.func_or_class(bundle)}
        self.fusion = Fusion.func_or_class(bundle)
        self.ranker = Ranker.func_or_class(bundle, str(config.catalog_path), config.ranker)
        self.ranker.reconfigure({"ranker_bundle": config.ranker_bundle or None})
        self.store = Store(config.store_url)
        self.flow = RecommendFlow(config, self.store, encode=lambda modality, value: self.encoders[modality](value),
                                  fuse=self.fusion, rank=self.ranker.rank)

    async def recommend(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self.flow.recommend(RecommendRequest(**body))

"""The graph's classes in one process, called directly: the benchmark's floor.

Instantiates the very deployment classes Serve runs (their `func_or_class`) and
drives them with the same RecommendFlow, so any difference from the Serve graph is
the graph's cost: proxy, handles, serialisation and scheduling. With `floor` set in
the config, the same classes skip their model work after the first request (the
benchmark's floor system, in process).
"""
from __future__ import annotations

from typing import Any

from mmei.platform.store import Store
from mmei.serving.api import RecommendRequest
from mmei.serving.config import ServeConfig
from mmei.serving.encoders import AudioEncoder, TextEncoder, VisualEncoder
from mmei.serving.flow import RecommendFlow, encode_then_fuse
from mmei.serving.fusion import Fusion
from mmei.serving.ranker import Ranker


class InProcessGraph:
    def __init__(self, config: ServeConfig):
        config.check_paths()
        options = (str(config.bundle), 16, 0.005, "auto", config.floor)
        self.encoders = {"text": TextEncoder.func_or_class(*options), "audio": AudioEncoder.func_or_class(*options),
                         "visual": VisualEncoder.func_or_class(*options)}
        self.fusion = Fusion.func_or_class(*options)
        self.ranker = Ranker.func_or_class(str(config.bundle), str(config.catalog_path), config.ranker, config.floor)
        self.ranker.reconfigure({"ranker_bundle": config.ranker_bundle or None})
        self.store = Store(config.store_url)
        self.flow = RecommendFlow(config, self.store,
                                  encode_then_fuse(lambda modality, value: self.encoders[modality](value), self.fusion),
                                  self.ranker.rank)

    async def recommend(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self.flow.recommend(RecommendRequest(**body))

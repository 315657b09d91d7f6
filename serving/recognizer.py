"""The Recognizer deployment of the `compact` topology: the three encoders and fusion in one replica.

    Ingress ─ Recognizer (text, audio and visual encoders ∥, then fusion) ─ Ranker

It holds the very classes the `graph` topology deploys one by one and runs them
with the same `encode_then_fuse`, so both topologies compute the same recognition.
What it saves is hops: one handle call per request instead of four, and the
encoders' token arrays never leave the replica (only the text's unit vector does,
for the Ranker). On one node that is most of the graph's overhead; on a cluster,
`graph` lets encoders scale apart and get their own GPUs. Undecodable media still
come back as a 422 naming the field (MediaError carries the modality).
"""
from __future__ import annotations

from typing import Any

import numpy as np
from ray import serve

from mmei.serving.encoders import AudioEncoder, TextEncoder, VisualEncoder
from mmei.serving.flow import encode_then_fuse
from mmei.serving.fusion import Fusion


@serve.deployment
class Recognizer:
    def __init__(self, bundle: str, max_batch_size: int = 16, batch_wait_timeout_s: float = 0.005,
                 batching: str = "auto", floor: bool = False):
        options = (bundle, max_batch_size, batch_wait_timeout_s, batching, floor)
        self.encoders = {"text": TextEncoder.func_or_class(*options), "audio": AudioEncoder.func_or_class(*options),
                         "visual": VisualEncoder.func_or_class(*options)}
        self.fusion = Fusion.func_or_class(*options)
        self.recognise = encode_then_fuse(lambda modality, value: self.encoders[modality](value), self.fusion)

    async def ready(self) -> bool:
        """The ingress's readiness probe: this replica is up and answering."""
        return True

    async def __call__(self, media: dict[str, Any]) -> tuple[dict[str, Any], np.ndarray | None]:
        return await self.recognise(media)

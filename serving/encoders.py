"""Encoder deployments: one per modality, each the bundle's own encoder.

A replica featurizes its modality with the platform's featurization (the same code
Ray Data ran at training time) and returns the encoder's tokens and mask as numpy.
Undecodable media raise FeatureError, which the ingress turns into a 422.

The model runs in a worker thread (`asyncio.to_thread`), so the replica's event loop
stays free to answer Serve's queue-length probes while it computes. Computing on the
loop itself made the router time out on busy replicas and back off: throughput at
concurrency 16 fell to half of that at concurrency 1.

`@serve.batch` is not used: on this 2-core machine it only added its wait window to
each request (see the bench-serve note in the README); a GPU deployment with many
concurrent users is where it pays, and `max_ongoing_requests` is the knob to start from.
"""
from __future__ import annotations

import asyncio
from typing import Any

import torch
from ray import serve

from mmei.platform.bundle import load_bundle
from mmei.platform.features import modality_batch, to_tensors
from mmei.platform.text_embedding import unit_vectors


class ModalityEncoder:
    modality = ""

    def __init__(self, bundle: str):
        torch.set_num_threads(1)  # replicas share the cores; one thread each keeps latency predictable
        predictor = load_bundle(bundle)
        self.features = predictor.config.features
        encoders = predictor.model.encoders
        self.encoder = encoders[self.modality].eval() if self.modality in encoders else None

    @torch.inference_mode()
    def encode(self, value: Any) -> dict[str, Any] | None:
        if self.encoder is None:  # the model does not use this modality (e.g. text_only)
            return None
        tokens, valid = self.encoder(to_tensors(modality_batch(self.modality, value, self.features)))
        return {"tokens": tokens[0].float().numpy(), "valid": valid[0].bool().numpy()}

    async def __call__(self, value: Any) -> dict[str, Any] | None:
        return await asyncio.to_thread(self.encode, value)


@serve.deployment
class TextEncoder(ModalityEncoder):
    modality = "text"

    def encode(self, value: str) -> dict[str, Any] | None:
        """Also returns the text's unit vector: the ranker's content match."""
        encoded = super().encode(value)
        if encoded is not None:
            tokens, valid = torch.from_numpy(encoded["tokens"])[None], torch.from_numpy(encoded["valid"])[None]
            encoded["vector"] = unit_vectors(tokens, valid)[0]
        return encoded


@serve.deployment
class AudioEncoder(ModalityEncoder):
    modality = "audio"


@serve.deployment
class VisualEncoder(ModalityEncoder):
    modality = "visual"

"""The Fusion deployment: MMEI's cross-modal transformer, attention fusion and heads.

It takes what the encoder deployments returned and runs the model's own `fuse`, the
second half of its `forward`, so the graph computes what the trained model computes
(a test compares the two). A modality a request lacks gets a masked placeholder.
Like the encoders, it fuses batches in one code path, gathers them with
`@serve.batch` on a GPU replica, and runs each request at once on a CPU one.
"""
from __future__ import annotations

import asyncio
import copy
from typing import Any

import numpy as np
import torch
from ray import serve

from mmei.platform.bundle import load_bundle
from mmei.platform.predict import describe
from mmei.serving.device import replica_device, uses_batching

Encoded = dict[str, dict[str, Any] | None]


@serve.deployment
class Fusion:
    def __init__(self, bundle: str, max_batch_size: int = 16, batch_wait_timeout_s: float = 0.005,
                 batching: str = "auto", floor: bool = False):
        torch.set_num_threads(1)
        self.floor, self.floor_output = floor, None  # the benchmark's floor system (see encoders.py)
        predictor = load_bundle(bundle)
        self.device = replica_device()
        self.model, self.config = predictor.model.eval().to(self.device), predictor.config
        self.hidden = self.config.model.hidden_size
        self.batched = uses_batching(batching, self.device)
        self.recognise_batched.set_max_batch_size(max_batch_size)
        self.recognise_batched.set_batch_wait_timeout_s(batch_wait_timeout_s)
        self.recognise_many([{}])  # warm up before traffic: the first request must not pay lazy initialisation

    async def ready(self) -> bool:
        """The ingress's readiness probe: this replica is up and answering."""
        return True

    def inputs(self, requests: list[Encoded]) -> tuple[dict[str, tuple[torch.Tensor, torch.Tensor]], torch.Tensor]:
        """Per modality, (tokens, valid) stacked over the requests; zeros where one lacks it."""
        inputs = {}
        for modality in self.model.modalities:
            given = [request.get(modality) for request in requests]
            like = next((g for g in given if g is not None), None)
            if like is None:
                tokens = np.zeros((len(requests), 1, self.hidden), np.float32)
                valid = np.zeros((len(requests), 1), bool)
            else:
                tokens = np.stack([g["tokens"] if g is not None else np.zeros_like(like["tokens"]) for g in given])
                valid = np.stack([g["valid"] if g is not None else np.zeros_like(like["valid"]) for g in given])
            inputs[modality] = (torch.from_numpy(tokens).to(self.device), torch.from_numpy(valid).to(self.device))
        present = torch.tensor([[request.get(m) is not None for m in self.model.modalities] for request in requests],
                               device=self.device)
        return inputs, present

    @torch.inference_mode()
    def recognise_many(self, requests: list[Encoded]) -> list[dict[str, Any]]:
        output = self.model.fuse(*self.inputs(requests))
        return describe(output, self.config)

    def recognise(self, encoded: Encoded) -> dict[str, Any]:
        return self.recognise_many([encoded])[0]

    @serve.batch(max_batch_size=16, batch_wait_timeout_s=0.005)
    async def recognise_batched(self, requests: list[Encoded]) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self.recognise_many, requests)

    async def __call__(self, encoded: Encoded) -> dict[str, Any]:
        if self.floor and self.floor_output is not None:
            return copy.deepcopy(self.floor_output)  # the caller adds to it
        if self.batched:
            result = await self.recognise_batched(encoded)
        else:
            result = await asyncio.to_thread(self.recognise, encoded)  # keep the loop free (see encoders.py)
        if self.floor:
            self.floor_output = copy.deepcopy(result)
        return result

"""Encoder deployments: one per modality, each the bundle's own encoder.

A replica featurizes its modality with the platform's featurization (the same code
Ray Data ran at training time) and returns the encoder's tokens and mask as numpy.
Undecodable media raise FeatureError, which the ingress turns into a 422.

With `floor` (the benchmark's floor system only) a replica answers every request
after its first with that first answer: the same arrays, the same hops, no model work.

Requests are encoded in batches by one code path (`encode_many`); a single request
is a batch of one. On a GPU replica, `@serve.batch` gathers concurrent requests
(`replicas.max_batch_size`, `replicas.batch_wait_timeout_s`) so the GPU sees real
batches; on a CPU replica each request runs at once, because on this 2-core machine
batching only added its wait window to every request. One bad request in a batch
fails only itself.

The model runs in a worker thread (`asyncio.to_thread`), so the replica's event loop
stays free to answer Serve's queue-length probes while it computes. Computing on the
loop itself made the router time out on busy replicas and back off: throughput at
concurrency 16 fell to half of that at concurrency 1.
"""
from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import numpy as np
import torch
from ray import serve

from mmei.platform.bundle import load_bundle
from mmei.platform.features import FeatureError, modality_batch, to_tensors
from mmei.platform.text_embedding import unit_vectors
from mmei.serving import fault_injection
from mmei.serving.device import replica_device, to_device, uses_batching

Encoded = dict[str, Any] | None


class ModalityEncoder:
    modality = ""

    def __init__(self, bundle: str, max_batch_size: int = 16, batch_wait_timeout_s: float = 0.005,
                 batching: str = "auto", floor: bool = False):
        torch.set_num_threads(1)  # replicas share the cores; one thread each keeps latency predictable
        self.floor, self.floor_output = floor, None  # the benchmark's floor system (ServeConfig.floor)
        predictor = load_bundle(bundle)
        self.features = predictor.config.features
        self.device = replica_device()
        encoders = predictor.model.encoders
        self.encoder = encoders[self.modality].eval().to(self.device) if self.modality in encoders else None
        self.batched = uses_batching(batching, self.device)
        self.batch_sizes: Counter[int] = Counter()  # how many batches of each size this replica ran
        self.encode_batched.set_max_batch_size(max_batch_size)
        self.encode_batched.set_batch_wait_timeout_s(batch_wait_timeout_s)
        self.warm_up()

    def warm_up(self) -> None:
        """One forward pass before Serve routes traffic here, so that the first user's request
        does not pay for lazy initialisation (tokenizer, kernels, thread pools) against its deadline."""

    @torch.inference_mode()
    def forward_once(self, value: Any) -> None:
        if self.encoder is not None:
            _, _, arrays = self.featurize([value])
            self.encoder(to_device(to_tensors(arrays), self.device))

    async def ready(self) -> bool:
        """The ingress's readiness probe: this replica is up and answering."""
        return True

    def stats(self) -> dict[str, Any]:
        return {"device": str(self.device), "batched": self.batched, "batch_sizes": dict(self.batch_sizes)}

    def featurize(self, values: list[Any]) -> tuple[list[int], list[FeatureError | None], dict[str, np.ndarray]]:
        """(rows that featurized, each value's error or None, their stacked arrays)."""
        good, errors, arrays = [], [], []
        for index, value in enumerate(values):
            try:
                arrays.append(modality_batch(self.modality, value, self.features))
                good.append(index)
                errors.append(None)
            except FeatureError as error:
                errors.append(error)
        stacked = {key: np.concatenate([a[key] for a in arrays]) for key in arrays[0]} if arrays else {}
        return good, errors, stacked

    def outputs(self, tokens: torch.Tensor, valid: torch.Tensor, index: int) -> dict[str, Any]:
        return {"tokens": tokens[index].float().cpu().numpy(), "valid": valid[index].bool().cpu().numpy()}

    @torch.inference_mode()
    def encode_many(self, values: list[Any]) -> list[Encoded | FeatureError]:
        """Each value's encoding, or its FeatureError: one forward pass for the batch."""
        if self.encoder is None:  # the model does not use this modality (e.g. text_only)
            return [None] * len(values)
        self.batch_sizes[len(values)] += 1
        fault_injection.maybe_hold(values)
        good, results, arrays = self.featurize(values)
        if good:
            tokens, valid = self.encoder(to_device(to_tensors(arrays), self.device))
            for row, index in enumerate(good):
                results[index] = self.outputs(tokens, valid, row)
        return results

    def encode(self, value: Any) -> Encoded:
        result = self.encode_many([value])[0]
        if isinstance(result, FeatureError):
            raise result
        return result

    @serve.batch(max_batch_size=16, batch_wait_timeout_s=0.005)
    async def encode_batched(self, values: list[Any]) -> list[Encoded | FeatureError]:
        return await asyncio.to_thread(self.encode_many, values)

    async def __call__(self, value: Any) -> Encoded:
        if self.floor and self.floor_output is not None:
            return self.floor_output  # no model work: the first request's arrays again
        if not self.batched:
            result = await asyncio.to_thread(self.encode, value)
        else:
            result = await self.encode_batched(value)
            if isinstance(result, FeatureError):
                raise result
        if self.floor:
            self.floor_output = result
        return result


@serve.deployment
class TextEncoder(ModalityEncoder):
    modality = "text"

    def warm_up(self) -> None:
        self.forward_once("warm-up")

    def outputs(self, tokens: torch.Tensor, valid: torch.Tensor, index: int) -> dict[str, Any]:
        """Also the text's unit vector: the ranker's content match."""
        encoded = super().outputs(tokens, valid, index)
        encoded["vector"] = unit_vectors(tokens[index:index + 1].float().cpu(), valid[index:index + 1].cpu())[0]
        return encoded


@serve.deployment
class AudioEncoder(ModalityEncoder):
    modality = "audio"


@serve.deployment
class VisualEncoder(ModalityEncoder):
    modality = "visual"

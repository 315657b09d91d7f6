"""The Fusion deployment: MMEI's cross-modal transformer, attention fusion and heads.

It takes what the encoder deployments returned and runs the model's own `fuse`, the
second half of its `forward`, so the graph computes what the trained model computes
(a test compares the two). A modality the request lacks gets a masked placeholder.
"""
from __future__ import annotations

import asyncio
from typing import Any

import torch
from ray import serve

from mmei.platform.bundle import load_bundle
from mmei.platform.predict import describe


@serve.deployment
class Fusion:
    def __init__(self, bundle: str):
        torch.set_num_threads(1)
        predictor = load_bundle(bundle)
        self.model, self.config = predictor.model.eval(), predictor.config
        self.hidden = self.config.model.hidden_size

    @torch.inference_mode()
    def recognise(self, encoded: dict[str, dict[str, Any] | None]) -> dict[str, Any]:
        inputs, present = {}, []
        for modality in self.model.modalities:
            given = encoded.get(modality)
            present.append(given is not None)
            if given is None:
                inputs[modality] = (torch.zeros(1, 1, self.hidden), torch.zeros(1, 1, dtype=torch.bool))
            else:
                inputs[modality] = (torch.from_numpy(given["tokens"])[None], torch.from_numpy(given["valid"])[None])
        output = self.model.fuse(inputs, torch.tensor([present]))
        return describe(output, self.config)[0]

    async def __call__(self, encoded: dict[str, dict[str, Any] | None]) -> dict[str, Any]:
        return await asyncio.to_thread(self.recognise, encoded)  # keep the loop free (see encoders.py)

"""Inference: modality rows in, named distributions and fusion weights out.

Used by bundles, the quickstart, evaluation and the Serve deployments, so every
consumer reads model outputs the same way.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch

from mmei.platform.config import MODALITIES, Config
from mmei.platform.features import featurize_batch, to_tensors
from mmei.platform.labels import HEADS
from mmei.platform.models.output import ModelOutput


def describe(output: ModelOutput, config: Config) -> list[dict[str, Any]]:
    """Batch output → one dict per sample: label, distribution per head, fusion weights."""
    probabilities = {head: torch.softmax(output.logits[head].float(), dim=-1).tolist() for head in HEADS}
    weights = output.fusion_weights.float().tolist()
    results = []
    for i in range(len(weights)):
        sample: dict[str, Any] = {}
        for head in HEADS:
            names = config.labels.names(head)
            distribution = dict(zip(names, probabilities[head][i]))
            sample[head] = {"label": max(distribution, key=distribution.get), "probabilities": distribution}
        sample["fusion_weights"] = dict(zip(MODALITIES, weights[i]))
        results.append(sample)
    return results


class Predictor:
    def __init__(self, model: torch.nn.Module, config: Config):
        self.model = model.eval()
        self.config = config

    @torch.no_grad()
    def predict_arrays(self, arrays: dict[str, Any]) -> list[dict[str, Any]]:
        return describe(self.model(to_tensors(arrays)), self.config)

    def predict(self, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Rows with optional `text`, `audio` (WAV/FLAC bytes) and `frames` (image bytes)."""
        return self.predict_arrays(featurize_batch(rows, self.config.features))

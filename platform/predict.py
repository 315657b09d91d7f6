"""Inference: modality rows in, named distributions and fusion weights out.

Used by bundles, the quickstart, evaluation and the Serve deployments, so every
consumer reads model outputs the same way.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import torch

from mmei.platform.config import MODALITIES, Config
from mmei.platform.features import featurize_batch, to_tensors
from mmei.platform.labels import HEADS, SCORE_HEAD
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


@dataclass
class Outputs:
    """Model outputs over a whole dataset, in row order."""

    probabilities: dict[str, np.ndarray]  # head → (N, classes)
    labels: dict[str, np.ndarray]  # head → (N,), IGNORE_INDEX where unlabelled
    fusion_weights: np.ndarray  # (N, 3)
    present: np.ndarray  # (N, 3) modalities given to the model
    scores: np.ndarray  # (N,) predicted sentiment scores
    score_targets: np.ndarray  # (N,) true scores, NaN where a row has none


@torch.no_grad()
def collect_outputs(forward: Callable[[dict[str, torch.Tensor]], ModelOutput],
                    batches: Iterable[dict[str, torch.Tensor]]) -> Outputs:
    """Run `forward` over labelled tensor batches and gather everything on the CPU."""
    probabilities: dict[str, list] = {head: [] for head in HEADS}
    labels: dict[str, list] = {head: [] for head in HEADS}
    weights, present, scores, targets = [], [], [], []
    for batch in batches:
        output = forward(batch)
        for head in HEADS:
            probabilities[head].append(torch.softmax(output.logits[head].float(), -1).cpu().numpy())
            labels[head].append(batch[head].cpu().numpy())
        weights.append(output.fusion_weights.float().cpu().numpy())
        present.append(batch["present"].cpu().numpy())
        scores.append(output.logits[SCORE_HEAD][:, 0].float().cpu().numpy())
        rows = len(batch["present"])
        targets.append(batch["score"].float().cpu().numpy() if "score" in batch else np.full(rows, np.nan, np.float32))
    return Outputs({h: np.concatenate(v) for h, v in probabilities.items()},
                   {h: np.concatenate(v) for h, v in labels.items()}, np.concatenate(weights), np.concatenate(present),
                   np.concatenate(scores), np.concatenate(targets))


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

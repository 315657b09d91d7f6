"""Evaluating a model on a prepared feature split: outputs and metrics.

The same metric code as training's validation (platform.metrics.joint_metrics), so
a bundle evaluated here reproduces the numbers its training run reported.
"""
from __future__ import annotations

from pathlib import Path

import torch

from mmei.pipelines.feature_dataset import FeatureCollate, load_feature_dataset
from mmei.platform.metrics import joint_metrics
from mmei.platform.predict import Outputs, collect_outputs


def evaluate_model(model: torch.nn.Module, data_dir: Path, split: str,
                   batch_size: int = 64) -> tuple[dict[str, float], Outputs]:
    model.eval()
    batches = load_feature_dataset(data_dir, split).iter_torch_batches(batch_size=batch_size,
                                                                       collate_fn=FeatureCollate())
    outputs = collect_outputs(model, batches)
    return joint_metrics(outputs.probabilities, outputs.labels), outputs

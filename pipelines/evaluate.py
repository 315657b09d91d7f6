"""Evaluating a model on a prepared feature split: metrics, ablation, robustness.

The same metric code as training's validation (platform.metrics.joint_metrics), so
a bundle evaluated here reproduces the numbers its training run reported. The split
is read once into memory (evaluation splits are small) and every condition reuses it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from mmei.pipelines.feature_dataset import FeatureCollate, load_feature_dataset, manifest_features, read_manifest
from mmei.platform.bundle import load_bundle
from mmei.platform.config import MODALITIES
from mmei.platform.labels import HEADS, IGNORE_INDEX
from mmei.platform.metrics import confusion_matrix, joint_metrics
from mmei.platform.mmsa_metrics import DEFINITIONS, mmsa_metrics
from mmei.platform.perturb import add_noise, drop_modalities, drop_tokens
from mmei.platform.predict import Outputs, collect_outputs

Batch = dict[str, torch.Tensor]
ABLATIONS: list[tuple[str, ...]] = [(), ("text",), ("audio",), ("visual",), ("audio", "visual"),
                                    ("text", "visual"), ("text", "audio")]
LEVELS = [0.0, 0.1, 0.25, 0.5, 1.0]


def load_batches(data_dir: Path, split: str, batch_size: int = 64) -> list[Batch]:
    dataset = load_feature_dataset(data_dir, split)
    collate = FeatureCollate(manifest_features(data_dir))
    return list(dataset.iter_torch_batches(batch_size=batch_size, collate_fn=collate))


def evaluate_model(model: torch.nn.Module, data_dir: Path, split: str) -> tuple[dict[str, float], Outputs]:
    return run_condition(model, load_batches(data_dir, split), lambda batch: batch)


def predict_split(model: torch.nn.Module, data_dir: Path, split: str) -> tuple[list[str], Outputs]:
    """Outputs on every row of `split`, with each row's sample id in the same order:
    what a paired comparison with another model on the same rows needs."""
    collate = FeatureCollate(manifest_features(data_dir))
    ids, batches = [], []
    for batch in load_feature_dataset(data_dir, split).iter_batches(batch_size=64, batch_format="numpy"):
        ids.extend(str(sample_id) for sample_id in batch["sample_id"])
        batches.append(collate(batch))
    model.eval()
    return ids, collect_outputs(model, batches)


def run_condition(model: torch.nn.Module, batches: list[Batch],
                  transform: Callable[[Batch], Batch]) -> tuple[dict[str, float], Outputs]:
    model.eval()
    outputs = collect_outputs(model, (transform(batch) for batch in batches))
    return joint_metrics(outputs.probabilities, outputs.labels), outputs


def fusion_summary(outputs: Outputs, emotions: list[str]) -> dict[str, Any]:
    """Mean fusion weight per modality, over all samples and per true emotion."""
    weights, labels = outputs.fusion_weights, outputs.labels["emotion"]
    per_emotion = {}
    for index, name in enumerate(emotions):
        rows = labels == index
        if rows.any():
            per_emotion[name] = dict(zip(MODALITIES, weights[rows].mean(axis=0).round(6).tolist()))
    return {"overall": dict(zip(MODALITIES, weights.mean(axis=0).round(6).tolist())), "per_emotion": per_emotion}


def confusion(outputs: Outputs, sizes: dict[str, int]) -> dict[str, list[list[int]]]:
    matrices = {}
    for head in HEADS:
        keep = outputs.labels[head] != IGNORE_INDEX
        predictions = outputs.probabilities[head].argmax(axis=1)
        matrices[head] = confusion_matrix(outputs.labels[head][keep], predictions[keep], sizes[head]).tolist()
    return matrices


def headline(metrics: dict[str, float]) -> dict[str, float]:
    return {"macro_f1_mean": metrics["macro_f1_mean"], "loss": metrics["loss"]}


def full_evaluation(bundle_dir: Path, data_dir: Path, split: str = "test", seed: int = 0) -> dict[str, Any]:
    """Everything `mmei eval` reports, as one JSON-able dict."""
    predictor = load_bundle(bundle_dir)
    model, config = predictor.model, predictor.config
    batches = load_batches(data_dir, split)
    if not batches:
        raise ValueError(f"{data_dir} has no rows in split {split!r}")
    metrics, outputs = run_condition(model, batches, lambda batch: batch)
    ablation = {}
    for dropped in ABLATIONS:
        name = "none" if not dropped else "drop " + "+".join(dropped)
        ablation[name] = headline(run_condition(model, batches, lambda b, d=dropped: drop_modalities(b, d))[0])
    robustness: dict[str, list[dict[str, float]]] = {"audio_visual_noise": [], "text_token_dropout": []}
    for level in LEVELS:
        noisy = run_condition(model, batches, lambda b, s=level: add_noise(b, s, seed))[0]
        dropped = run_condition(model, batches, lambda b, r=level: drop_tokens(b, r, seed))[0]
        robustness["audio_visual_noise"].append({"level": level, **headline(noisy)})
        robustness["text_token_dropout"].append({"level": level, **headline(dropped)})
    meta = predictor_meta(bundle_dir)
    mmsa = ({**mmsa_metrics(outputs.scores, outputs.score_targets), "definitions": DEFINITIONS}
            if np.isfinite(outputs.score_targets).any() else None)
    return {
        "bundle": str(bundle_dir), "data": str(data_dir), "split": split, "rows": int(len(outputs.present)),
        "model_type": config.model.type, "synthetic": bool(read_manifest(data_dir).get("synthetic")),
        "metrics": metrics, "confusion": confusion(outputs, config.labels.sizes()),
        "labels": {head: config.labels.names(head) for head in HEADS},
        "fusion_weights": fusion_summary(outputs, config.labels.emotion),
        "modalities_present": dict(zip(MODALITIES, outputs.present.mean(axis=0).round(6).tolist())),
        "ablation": ablation, "robustness": robustness, "history": meta.get("history", []),
        "mmsa": mmsa,
    }


def predictor_meta(bundle_dir: Path) -> dict[str, Any]:
    import json

    return json.loads((Path(bundle_dir) / "bundle.json").read_text()).get("extra", {})


def mean_std(values: list[float]) -> tuple[float, float]:
    array = np.asarray(values, dtype=np.float64)
    return float(array.mean()), float(array.std(ddof=1)) if len(array) > 1 else 0.0

"""What every real-data bench shares: train one preset over several seeds, score each
run's test predictions against a baseline's on the same rows, print the line.

The platform's number is the mean over seeds (paired_bootstrap averages the seeds'
scores per resample), never one lucky seed.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np

from mmei.pipelines.evaluate import predict_split
from mmei.pipelines.train import run_training
from mmei.platform.bundle import load_bundle
from mmei.platform.config import load_config
from mmei.platform.paired_stats import macro_f1_batch, paired_bootstrap


def train_seeds(preset: str, overrides: list[str], features: Path, output: Path, seeds: int, head: str,
                say: Callable[[str], None]) -> dict[str, Any]:
    """Seeds 0..seeds-1 → per-seed test predictions sorted by sample id, and the runs."""
    predictions, runs, fusion = [], [], []
    for seed in range(seeds):
        config = load_config(preset, [*overrides, f"train.seed={seed}"])
        say(f"seed {seed}: training {config.train.epochs} epochs (the train log: {output / f'run-seed{seed}'})")
        result = run_training(config, features, output / f"run-seed{seed}", echo=lambda _: None)
        ids, outputs = predict_split(load_bundle(result.bundle).model, features, "test")
        order = np.argsort(ids)
        predictions.append(outputs.probabilities[head].argmax(axis=1)[order])
        labels, test_ids = outputs.labels[head][order], sorted(ids)
        fusion.append(outputs.fusion_weights.mean(axis=0))
        runs.append({"seed": seed, "seconds": round(result.seconds), "selected": result.selected,
                     "bundle": str(result.bundle)})
        say(f"seed {seed}: trained {config.train.epochs} epochs in {result.seconds:.0f}s, best val macro-F1 "
            f"{result.selected['value']:.4f} (epoch {result.selected['epoch'] + 1})")
    return {"labels": labels, "ids": test_ids, "predictions": np.stack(predictions), "runs": runs,
            "fusion_weights": np.mean(fusion, axis=0), "classes": config.labels.size(head)}


def compare_with_baseline(trained: dict[str, Any], baseline: dict[str, Any]) -> dict[str, Any]:
    """Paired bootstrap of macro-F1 over test rows, with each seed's own score and accuracy."""
    order = np.argsort(baseline["ids"])
    if [baseline["ids"][i] for i in order] != trained["ids"]:
        raise RuntimeError("the baseline and the model were scored on different test rows")
    labels, predictions, base = trained["labels"], trained["predictions"], baseline["predictions"][order]
    stats = paired_bootstrap(labels, predictions, base, trained["classes"])
    for run, predicted in zip(trained["runs"], predictions):
        run["test_macro_f1"] = float(macro_f1_batch(labels[None], predicted[None], trained["classes"])[0])
        run["test_accuracy"] = float((predicted == labels).mean())
    stats["accuracy"] = float((predictions == labels[None]).mean())
    stats["baseline_accuracy"] = float((base == labels).mean())
    return stats


def bench_line(name: str, stats: dict[str, Any]) -> str:
    return (f"bench {name}: macro_f1={stats['a']:.4f} baseline_macro_f1={stats['b']:.4f} "
            f"diff_ci95=[{stats['ci95_low']:.4f}, {stats['ci95_high']:.4f}]")

"""Reading prepared feature shards back: a Ray Dataset plus the collate function.

Training uses `load_feature_dataset(folder, split)` with
`iter_torch_batches(collate_fn=FeatureCollate())` on each worker's shard.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import ray
import torch
from ray.data.collate_fn import NumpyBatchCollateFn
from ray.data.expressions import col

from mmei.platform.features import FEATURE_KEYS
from mmei.platform.labels import HEADS


def read_manifest(folder: str | Path) -> dict[str, Any]:
    path = Path(folder) / "manifest.json"
    if not path.is_file():
        raise FileNotFoundError(f"{folder} holds no prepared features (no manifest.json); run `mmei data prepare`")
    return json.loads(path.read_text())


def load_feature_dataset(folder: str | Path, split: str | None = None) -> ray.data.Dataset:
    """Feature shards of `folder` (top level only: never the quarantine) as a Dataset."""
    manifest = read_manifest(folder)
    files = [str(Path(folder) / name) for name in manifest["outputs"]]
    if not files:
        raise FileNotFoundError(f"{folder}: preparation wrote no feature rows (all quarantined?)")
    dataset = ray.data.read_parquet(files)
    return dataset.filter(expr=col("split") == split) if split else dataset


class FeatureCollate(NumpyBatchCollateFn):
    """A numpy batch from Ray Data → the model's input dict, with label ids under head names."""

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
        tensors = {key: torch.from_numpy(np.array(batch[key])) for key in FEATURE_KEYS}  # copies: writable
        for key in ("present", "audio_mask", "frame_mask"):
            tensors[key] = tensors[key].bool()
        for head in HEADS:
            tensors[head] = torch.from_numpy(np.array(batch[f"{head}_id"], dtype=np.int64))
        return tensors

"""Feature shards: their columns, reading them back as a Ray Dataset, and the collate.

A feature shard row holds what exists and nothing else (the compact arrays of
`platform/features.py`), as Arrow lists, flattened:

    tokens  list<int32>    token ids with [CLS]/[SEP], unpadded; null without text
    audio   list<float32>  the clip's steps × width (log-mel, waveform or features); null without audio
    frames  list<uint8>    the chosen frames, 3 × S × S pixels each; list<float32> (steps × D) for
                           pre-extracted vectors; null without frames
    sample_id, split, text, emotion_id, sentiment_id, intent_id, score (null without one), and any
    other input column carried along

Training uses `load_feature_dataset(folder, split)` with
`iter_torch_batches(collate_fn=FeatureCollate(features))`: the collate pads each
batch and builds the masks and `present`, exactly as `featurize_batch` does for Serve.
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

from mmei.pipelines.feature_sink import FEATURE_FORMAT
from mmei.platform.config import FeatureConfig
from mmei.platform.errors import UserInputError
from mmei.platform.features import Compact, pad_batch, to_tensors
from mmei.platform.labels import HEADS



def read_manifest(folder: str | Path) -> dict[str, Any]:
    path = Path(folder) / "manifest.json"
    if not path.is_file():
        raise FileNotFoundError(f"{folder} holds no prepared features (no manifest.json); run `mmei data prepare`")
    manifest = json.loads(path.read_text())
    if manifest.get("feature_format") != FEATURE_FORMAT:
        raise UserInputError(f"{folder} was prepared by an older mmei (feature format "
                             f"{manifest.get('feature_format', 'dense')!r}, now {FEATURE_FORMAT!r}); prepare it again")
    return manifest


def manifest_features(folder: str | Path) -> FeatureConfig:
    """The feature settings the shards in `folder` were prepared with."""
    return FeatureConfig(**read_manifest(folder)["features"])


def load_feature_dataset(folder: str | Path, split: str | None = None) -> ray.data.Dataset:
    """Feature shards of `folder` (top level only: never the quarantine) as a Dataset."""
    manifest = read_manifest(folder)
    files = [str(Path(folder) / name) for name in manifest["outputs"]]
    if not files:
        raise FileNotFoundError(f"{folder}: preparation wrote no feature rows (all quarantined?)")
    dataset = ray.data.read_parquet(files)
    return dataset.filter(expr=col("split") == split) if split else dataset


def compact_item(tokens: Any, audio: Any, frames: Any, features: FeatureConfig) -> Compact:
    """One shard row's flattened lists → the compact arrays `pad_batch` takes."""
    item: Compact = {"tokens": None, "audio": None, "frames": None}
    if tokens is not None:
        item["tokens"] = np.asarray(tokens, dtype=np.int32)
    if audio is not None:
        values = np.asarray(audio, dtype=np.float32)
        item["audio"] = values if features.audio_input == "waveform" else values.reshape(-1, features.audio_width)
    if frames is not None:
        if features.visual_input == "features":
            item["frames"] = np.asarray(frames, dtype=np.float32).reshape(-1, features.visual_feature_dim)
        else:
            item["frames"] = np.asarray(frames, dtype=np.uint8).reshape(-1, 3, features.image_size,
                                                                        features.image_size)
    return item


class FeatureCollate(NumpyBatchCollateFn):
    """A numpy batch of shard rows → the model's input dict, label ids under head names,
    and `score` (NaN where a row has none)."""

    def __init__(self, features: FeatureConfig):
        super().__init__()
        self.features = features

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
        items = [compact_item(t, a, f, self.features) for t, a, f in zip(batch["tokens"], batch["audio"],
                                                                           batch["frames"])]
        tensors = to_tensors(pad_batch(items, self.features))
        for head in HEADS:
            tensors[head] = torch.from_numpy(np.array(batch[f"{head}_id"], dtype=np.int64))  # a writable copy
        scores = batch["score"] if "score" in batch else [None] * len(items)
        tensors["score"] = torch.tensor([np.nan if s is None else float(s) for s in scores], dtype=torch.float32)
        return tensors

"""Row validation against the modality-shard contract: why a row can't be used.

`check_row` returns None for a good row, or a Rejection with a short reason code
(counted in manifests) and a detail for people. Preparation quarantines rejected
rows with both; nothing is dropped without a record.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mmei.platform.config import Config
from mmei.platform.features import FeatureError, MediaTooLarge, check_audio_header, feature_matrix, has_text
from mmei.platform.labels import HEADS
from mmei.platform.schema import SPLITS

REASONS = (
    "schema", "no_modality", "audio_undecodable", "audio_too_long", "audio_too_short",
    "image_undecodable", "media_too_large", "too_many_frames", "nonfinite_features", "bad_features", "unknown_label",
    "featurization",  # set by preparation when featurizing fails after validation passed
)


@dataclass(frozen=True)
class Rejection:
    reason: str  # one of REASONS
    detail: str


def _schema_problem(row: dict[str, Any]) -> str | None:
    if not isinstance(row.get("sample_id"), str) or not row["sample_id"]:
        return "sample_id must be a non-empty string"
    if row.get("split") not in SPLITS:
        return f"split must be one of {SPLITS}, got {row.get('split')!r}"
    if row.get("text") is not None and not isinstance(row["text"], str):
        return "text must be a string or null"
    if row.get("audio") is not None and not isinstance(row["audio"], (bytes, bytearray)):
        return "audio must be encoded bytes or null"
    frames = row.get("frames")
    if frames is not None and not all(isinstance(f, (bytes, bytearray)) for f in frames):
        return "frames must be a list of encoded images or null"
    for head in HEADS:
        if row.get(head) is not None and not isinstance(row[head], str):
            return f"{head} must be a string or null"
    return None


def _audio_problem(row: dict[str, Any], config: Config) -> Rejection | None:
    features = config.features
    if features.audio_input == "features":
        if row.get("audio_features") is None:
            return None
        try:
            feature_matrix(row["audio_features"], features.audio_feature_dim, "audio_features")
        except FeatureError as error:
            return Rejection("nonfinite_features" if "NaN" in str(error) else "bad_features", str(error))
        return None
    if not row.get("audio"):
        return None
    try:
        seconds = check_audio_header(row["audio"], features.audio_max_sample_rate, features.audio_max_channels)
    except MediaTooLarge as error:
        return Rejection("media_too_large", str(error))
    except FeatureError as error:
        return Rejection("audio_undecodable", str(error))
    if seconds > features.audio_reject_seconds:
        return Rejection("audio_too_long", f"{seconds:.1f} s > limit {features.audio_reject_seconds} s")
    if seconds < features.audio_min_seconds:
        return Rejection("audio_too_short", f"{seconds:.3f} s < minimum {features.audio_min_seconds} s")
    return None


def _visual_problem(row: dict[str, Any], config: Config) -> Rejection | None:
    """Counts and shapes only: images are decoded once, by featurization, and a frame
    that fails there is quarantined as image_undecodable with the same detail."""
    features = config.features
    if features.visual_input == "features":
        values = row.get("visual_features")
        if values is None:
            return None
        try:  # any number of steps is fine: they are subsampled to max_feature_steps
            feature_matrix(values, features.visual_feature_dim, "visual_features")
        except FeatureError as error:
            return Rejection("nonfinite_features" if "NaN" in str(error) else "bad_features", str(error))
        return None
    frames = row.get("frames")
    if frames is not None and len(frames) > features.frames_reject_count:
        return Rejection("too_many_frames", f"{len(frames)} frames > limit {features.frames_reject_count}")
    return None


def has_modality(row: dict[str, Any], config: Config) -> bool:
    audio_key = "audio_features" if config.features.audio_input == "features" else "audio"
    visual_key = "visual_features" if config.features.visual_input == "features" else "frames"
    return has_text(row.get("text")) or bool(row.get(audio_key)) or bool(row.get(visual_key))


def _nonfinite_features(row: dict[str, Any]) -> Rejection | None:
    """NaN or Inf in any pre-extracted matrix, whether or not this config reads it."""
    for key in ("audio_features", "visual_features"):
        values = row.get(key)
        if values is None:
            continue
        try:
            matrix = np.asarray(values, dtype=np.float32)
        except (ValueError, TypeError):
            return Rejection("bad_features", f"{key} is not a rectangular matrix of numbers")
        if not np.all(np.isfinite(matrix)):
            return Rejection("nonfinite_features", f"{key} contains NaN or Inf")
    return None


def check_row(row: dict[str, Any], config: Config) -> Rejection | None:
    problem = _schema_problem(row)
    if problem:
        return Rejection("schema", problem)
    rejection = _nonfinite_features(row)
    if rejection:
        return rejection
    if not has_modality(row, config):
        return Rejection("no_modality", "no text, audio or visual input in the form the config reads")
    rejection = _audio_problem(row, config) or _visual_problem(row, config)
    if rejection:
        return rejection
    for head in HEADS:
        label = row.get(head)
        if label is not None and label not in config.labels.names(head):
            return Rejection("unknown_label", f"{head} {label!r} is not in {config.labels.names(head)}")
    return None

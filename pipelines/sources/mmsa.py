"""MMSA-style pickles: the standard packaging of CMU-MOSI, CMU-MOSEI and CH-SIMS features.

A pickled dict with `train`, `valid` and `test`; each split is a dict of arrays over
its samples: `raw_text` (or `text` as strings), `audio` (N, T, Da), `vision`
(N, T, Dv), `id`, `regression_labels` (sentiment score in [-3, 3]; CH-SIMS uses
[-1, 1]) and `classification_labels`, optionally `audio_lengths` / `vision_lengths`
to trim padding. The score's sign gives the 3 sentiment classes (MMSA's own 3-class
rule): < 0 negative, 0 neutral, > 0 positive. These corpora have no emotion or
intent labels, so those stay null. Non-finite feature values are kept as they are:
preparation quarantines them with a reason, rather than an importer hiding them.
"""
from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from mmei.pipelines.sources.shards import ImportFormatError

SPLITS = {"train": "train", "valid": "val", "test": "test"}


def sentiment_of(score: float) -> str:
    return "negative" if score < 0 else "positive" if score > 0 else "neutral"


def _texts(split: dict[str, Any], path: Path, name: str) -> list[str]:
    for key in ("raw_text", "text"):
        values = split.get(key)
        if values is not None and len(values) and isinstance(values[0], str):
            return [str(v) for v in values]
    raise ImportFormatError(f"{path}: split {name!r} has no raw_text (strings)")


def _trim(matrix: np.ndarray, lengths: Any, i: int) -> list[list[float]]:
    rows = np.asarray(matrix[i], dtype=np.float32)
    if lengths is not None:
        rows = rows[: int(lengths[i])] if int(lengths[i]) > 0 else rows[:0]
    return rows.tolist() if len(rows) else None


def read_mmsa(path: Path) -> Iterator[dict[str, Any]]:
    try:
        with path.open("rb") as handle:
            data = pickle.load(handle)
    except (OSError, pickle.UnpicklingError, EOFError) as error:
        raise ImportFormatError(f"{path}: not a readable pickle ({error})") from None
    if not isinstance(data, dict) or not set(SPLITS) & set(data):
        raise ImportFormatError(f"{path}: expected a dict with train / valid / test, got {type(data).__name__}")
    for name, split_name in SPLITS.items():
        split = data.get(name)
        if split is None:
            continue
        missing = [key for key in ("audio", "vision", "id", "regression_labels") if key not in split]
        if missing:
            raise ImportFormatError(f"{path}: split {name!r} lacks {missing}")
        texts = _texts(split, path, name)
        n = len(split["id"])
        for key in ("audio", "vision", "regression_labels"):
            if len(split[key]) != n:
                raise ImportFormatError(f"{path}: split {name!r} has {len(split[key])} {key} rows for {n} ids")
        for i in range(n):
            score = float(np.asarray(split["regression_labels"][i]).reshape(-1)[0])
            yield {
                "sample_id": str(split["id"][i]),
                "split": split_name,
                "text": texts[i] or None,
                "audio_features": _trim(split["audio"], split.get("audio_lengths"), i),
                "visual_features": _trim(split["vision"], split.get("vision_lengths"), i),
                "sentiment": sentiment_of(score) if np.isfinite(score) else None,
            }

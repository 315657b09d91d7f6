"""MMSA-style pickles: the standard packaging of CMU-MOSI, CMU-MOSEI and CH-SIMS features.

A pickled dict with `train`, `valid` and `test`; each split is a dict of arrays over
its samples: `raw_text` (or `text` as strings), `audio` (N, T, Da), `vision`
(N, T, Dv), `id`, `regression_labels` (sentiment score in [-3, 3]; CH-SIMS uses
[-1, 1]) and `classification_labels`, optionally `audio_lengths` / `vision_lengths`
to trim padding.

As MMSA's own loader does, so splits and results compare with the literature:
- non-finite feature values (CMU-MOSEI's audio holds -inf) become 0; how many, per
  modality, is counted in `_import.json` (`nonfinite_values_zeroed`);
- the score is kept in the shard (`score`), and `mmei eval` reports MMSA's metrics on it;
- the 3 sentiment classes are MMSA's Acc-3 bins: round(clip(score, -1, 1)) is -1
  negative, 0 neutral, 1 positive (so -0.4 is neutral, -0.6 negative).
These corpora have no emotion or intent labels, so those stay null.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import numpy as np

from mmei.pipelines.sources.safe_pickle import load_data_pickle
from mmei.pipelines.sources.shards import ImportFormatError

SPLITS = {"train": "train", "valid": "val", "test": "test"}


def sentiment_of(score: float) -> str:
    """MMSA's Acc-3 class of a score."""
    return {-1: "negative", 0: "neutral", 1: "positive"}[int(np.round(np.clip(score, -1.0, 1.0)))]


def _texts(split: dict[str, Any], path: Path, name: str) -> list[str]:
    for key in ("raw_text", "text"):
        values = split.get(key)
        if values is not None and len(values) and isinstance(values[0], str):
            return [str(v) for v in values]
    raise ImportFormatError(f"{path}: split {name!r} has no raw_text (strings)")


class MmsaReader:
    """Rows of an MMSA pickle; counts the non-finite values it zeroes, per modality."""

    def __init__(self, path: Path):
        self.path = path
        self.zeroed = {"audio": 0, "vision": 0}

    def _matrix(self, split: dict[str, Any], key: str, i: int) -> list[list[float]] | None:
        rows = np.asarray(split[key][i], dtype=np.float32)
        lengths = split.get(f"{key}_lengths")
        if lengths is not None:
            rows = rows[: max(int(lengths[i]), 0)]
        if not len(rows):
            return None
        bad = ~np.isfinite(rows)
        if bad.any():
            self.zeroed[key] += int(bad.sum())
            rows = np.where(bad, np.float32(0), rows)
        return rows.tolist()

    def __iter__(self) -> Iterator[dict[str, Any]]:
        data = load_data_pickle(self.path)  # never runs code a pickle names
        if not isinstance(data, dict) or not set(SPLITS) & set(data):
            raise ImportFormatError(f"{self.path}: expected a dict with train / valid / test, got {type(data).__name__}")
        for name, split_name in SPLITS.items():
            split = data.get(name)
            if split is None:
                continue
            if not isinstance(split, dict):
                raise ImportFormatError(f"{self.path}: split {name!r} is a {type(split).__name__}, not a dict of arrays")
            missing = [key for key in ("audio", "vision", "id", "regression_labels") if key not in split]
            if missing:
                raise ImportFormatError(f"{self.path}: split {name!r} lacks {missing}")
            texts = _texts(split, self.path, name)
            n = self._length(split, name, "id")
            for key in ("audio", "vision", "regression_labels"):
                if self._length(split, name, key) != n:
                    raise ImportFormatError(f"{self.path}: split {name!r} has {len(split[key])} {key} rows for {n} ids")
            if len(texts) != n:
                raise ImportFormatError(f"{self.path}: split {name!r} has {len(texts)} texts for {n} ids")
            for i in range(n):
                yield self._row(split, name, split_name, texts[i], i)

    def _length(self, split: dict[str, Any], name: str, key: str) -> int:
        try:
            return len(split[key])
        except TypeError:
            raise ImportFormatError(f"{self.path}: split {name!r}, key {key!r}: a {type(split[key]).__name__}, "
                                    f"not an array over the samples") from None

    def _row(self, split: dict[str, Any], name: str, split_name: str, text: str, i: int) -> dict[str, Any]:
        """One sample; a value of the wrong shape or type names the file, split, row and key."""
        key = "id"
        try:
            sample_id = str(split[key][i])
            key = "regression_labels"
            score = float(np.asarray(split[key][i], dtype=np.float64).reshape(-1)[0])
            key = "audio"
            audio = self._matrix(split, key, i)
            key = "vision"
            vision = self._matrix(split, key, i)
        except (TypeError, ValueError, IndexError, KeyError) as error:
            raise ImportFormatError(f"{self.path}: split {name!r}, row {i}, key {key!r}: {type(error).__name__}: "
                                    f"{str(error)[:200]}") from None
        known = bool(np.isfinite(score))
        return {
            "sample_id": sample_id,
            "split": split_name,
            "text": text or None,
            "audio_features": audio,
            "visual_features": vision,
            "sentiment": sentiment_of(score) if known else None,
            "score": score if known else None,
        }

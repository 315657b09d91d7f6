"""MIntRec-style intent data: TSV utterances plus pickled per-utterance features.

Layout (after the MIntRec release): `train.tsv`, `dev.tsv`, `test.tsv` with a header
`season  episode  clip  text  label`; the utterance index is `{season}_{episode}_{clip}`.
`audio_feats.pkl` and `video_feats.pkl` map that index to a feature array (wav2vec 2.0
audio up to ~480 × 768, Faster R-CNN video up to 225 × 1 × 256 in the original; the
singleton axis is dropped, as upstream's `squeeze(1)` does). Intent labels are
MIntRec's own 20 classes: use the `mintrec` config preset, whose label space lists them.

The TSVs are read as upstream reads them: split on tabs with no quote handling
(`quotechar=None`), so a text that starts with `"` is just a text, and never swallows
the tabs and lines after it as a quoted field would.
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from mmei.pipelines.sources.safe_pickle import load_data_pickle
from mmei.pipelines.sources.shards import ImportFormatError

SPLIT_FILES = {"train.tsv": "train", "dev.tsv": "val", "test.tsv": "test"}
COLUMNS = ("season", "episode", "clip", "text", "label")


def _features(folder: Path, name: str) -> dict[str, Any]:
    path = folder / name
    if not path.is_file():
        return {}
    features = load_data_pickle(path)  # never runs code a pickle names
    if not isinstance(features, dict):
        raise ImportFormatError(f"{path}: expected a dict of utterance index → feature array")
    return features


def _matrix(features: dict[str, Any], index: str, source: str) -> list[list[float]] | None:
    """The utterance's features as (steps, dims); a value that is not a numeric array names the file and key."""
    if index not in features:
        return None
    try:
        values = np.asarray(features[index], dtype=np.float32)
        if values.ndim == 0:
            raise ValueError(f"a scalar ({values.item()!r}), not an array")
        return values.reshape(len(values), -1).tolist() if values.size else None
    except (TypeError, ValueError) as error:
        raise ImportFormatError(f"{source}: key {index!r}: not a numeric feature array ({str(error)[:200]})") from None


def read_mintrec(folder: Path) -> Iterator[dict[str, Any]]:
    audio = _features(folder, "audio_feats.pkl")
    video = _features(folder, "video_feats.pkl")
    found = [name for name in SPLIT_FILES if (folder / name).is_file()]
    if not found:
        raise ImportFormatError(f"{folder}: no train.tsv / dev.tsv / test.tsv")
    for name in found:
        path = folder / name
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
            header = next(reader, None)
            if header is None or tuple(h.strip().lower() for h in header[:5]) != COLUMNS:
                raise ImportFormatError(f"{path}: header must start with the columns {COLUMNS}, got {header}")
            for line, fields in enumerate(reader, start=2):
                if len(fields) < 5:
                    raise ImportFormatError(f"{path} row {line}: expected 5 tab-separated fields, got {len(fields)}")
                season, episode, clip, text, label = (f.strip() for f in fields[:5])
                index = f"{season}_{episode}_{clip}"
                yield {
                    "sample_id": index,
                    "split": SPLIT_FILES[name],
                    "text": text or None,
                    "audio_features": _matrix(audio, index, str(folder / "audio_feats.pkl")),
                    "visual_features": _matrix(video, index, str(folder / "video_feats.pkl")),
                    "intent": label or None,
                }

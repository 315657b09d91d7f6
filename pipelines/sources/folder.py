"""A plain folder: `ID.txt`, `ID.wav`, `ID.png` (or `ID_001.png` …, or `ID/`) plus labels.csv.

labels.csv has a `sample_id` column and optionally `split` (default train),
`emotion`, `sentiment`, `intent` (empty = unlabelled). A sample id in labels.csv
with no files is still imported (preparation quarantines it as no_modality); media
whose id is not in labels.csv are imported unlabelled into train. Both are counted.
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Iterator

from mmei.pipelines.sources.media import AUDIO_SUFFIXES, IMAGE_SUFFIXES, MediaIndex
from mmei.pipelines.sources.shards import ImportFormatError


class FolderReader:
    def __init__(self, folder: Path):
        self.folder = folder
        self.media = MediaIndex(folder)
        self.unlisted = 0

    def _labels(self) -> dict[str, dict[str, str]]:
        path = self.folder / "labels.csv"
        if not path.is_file():
            raise ImportFormatError(f"{self.folder}: no labels.csv (columns: sample_id, split, emotion, sentiment, intent)")
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            if "sample_id" not in (reader.fieldnames or []):
                raise ImportFormatError(f"{path}: missing column sample_id")
            labels = {}
            for line, record in enumerate(reader, start=2):
                sample_id = (record.get("sample_id") or "").strip()
                if not sample_id:
                    raise ImportFormatError(f"{path} row {line}: empty sample_id")
                if sample_id in labels:
                    raise ImportFormatError(f"{path} row {line}: duplicate sample_id {sample_id!r}")
                labels[sample_id] = {k: (v or "").strip() for k, v in record.items() if k}
            return labels

    def _media_ids(self) -> set[str]:
        ids = set()
        for stem, paths in self.media.by_stem.items():
            for path in paths:
                if path.suffix.lower() in (".txt", *AUDIO_SUFFIXES):
                    ids.add(stem)
                elif path.suffix.lower() in IMAGE_SUFFIXES:
                    base, _, number = stem.rpartition("_")
                    ids.add(base if number.isdigit() and base else stem)
        ids |= set(self.media.frame_dirs)
        return ids

    def _text(self, sample_id: str) -> str | None:
        for path in self.media.by_stem.get(sample_id, []):
            if path.suffix.lower() == ".txt":
                return path.read_text(encoding="utf-8").strip() or None
        return None

    def __iter__(self) -> Iterator[dict[str, Any]]:
        labels = self._labels()
        unlisted = sorted(self._media_ids() - set(labels) - {"labels"})
        self.unlisted = len(unlisted)
        for sample_id in [*labels, *unlisted]:
            record = labels.get(sample_id, {})
            yield {
                "sample_id": sample_id,
                "split": record.get("split") or "train",
                "text": self._text(sample_id),
                "audio": self.media.audio(sample_id),
                "frames": self.media.frames(sample_id),
                "emotion": record.get("emotion") or None,
                "sentiment": record.get("sentiment") or None,
                "intent": record.get("intent") or None,
            }

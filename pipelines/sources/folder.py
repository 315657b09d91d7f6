"""A plain folder: `ID.txt`, `ID.wav`, `ID.png` (or `ID_001.png` …, or `ID/`) plus labels.csv.

Files may sit in subfolders (say `train/` and `test/`); a subfolder is a sample's frame
folder only if it directly holds images. The folder is walked once, so importing runs
in time linear in the number of files.

labels.csv has a `sample_id` column and optionally `split` (default train),
`emotion`, `sentiment`, `intent` (empty = unlabelled). A sample id in labels.csv
with no files is still imported (preparation quarantines it as no_modality); media
whose id is not in labels.csv are imported unlabelled into train. Both are counted.
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Iterator

from mmei.pipelines.sources.media import MediaIndex
from mmei.pipelines.sources.shards import ImportFormatError


class FolderReader:
    def __init__(self, folder: Path, allow_outside_root: bool = False):
        self.folder = folder
        self.media = MediaIndex(folder, allow_outside_root)
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

    def __iter__(self) -> Iterator[dict[str, Any]]:
        labels = self._labels()
        unlisted = sorted(self.media.keys() - set(labels) - {"labels"})
        self.unlisted = len(unlisted)
        for sample_id in [*labels, *unlisted]:
            record = labels.get(sample_id, {})
            yield {
                "sample_id": sample_id,
                "split": record.get("split") or "train",
                "text": self.media.text(sample_id),
                "audio": self.media.audio(sample_id),
                "frames": self.media.frames(sample_id),
                "emotion": record.get("emotion") or None,
                "sentiment": record.get("sentiment") or None,
                "intent": record.get("intent") or None,
            }

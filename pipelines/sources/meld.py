"""MELD-style data: `{train,dev,test}_sent_emo.csv` plus a folder of media per split.

CSV columns used: Utterance, Emotion, Sentiment, Dialogue_ID, Utterance_ID. Media are
named from the ids, `dia{D}_utt{U}`: audio as `.wav`/`.flac`, frames as images
(`dia{D}_utt{U}.png`, numbered `_001.png` …, or a folder).

The three splits reuse the same names (`dia0_utt0` is in train, dev and test), so
each split's media are looked up in that split's own folder only: MELD.Raw's
`train_splits`, `dev_splits_complete` and `output_repeated_splits_test`, or folders
named `train`, `dev` and `test`. Two files of one kind for one name within a split is
an error naming both. MELD ships `.mp4`; this importer does not decode video (no
ffmpeg here): extract wav and frames first. Every utterance whose only media is video
is counted in `_import.json`, never skipped silently: the row is imported with text
only. MELD has no intent labels.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, Iterator

from mmei.pipelines.sources.media import MediaIndex
from mmei.pipelines.sources.shards import ImportFormatError

SPLIT_FILES = {"train_sent_emo.csv": "train", "dev_sent_emo.csv": "val", "test_sent_emo.csv": "test"}
MEDIA_FOLDERS = {"train": ("train_splits", "train"), "val": ("dev_splits_complete", "dev"),
                 "test": ("output_repeated_splits_test", "test")}
REQUIRED = ("Utterance", "Emotion", "Sentiment", "Dialogue_ID", "Utterance_ID")


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252")  # the released MELD CSVs are Windows-1252


class MeldReader:
    def __init__(self, folder: Path, allow_outside_root: bool = False):
        self.folder = folder
        self.allow_outside_root = allow_outside_root
        self.rejected: list[dict[str, Any]] = []  # links that leave the dataset (confine.py)
        self.video_only = 0
        self.media_folders: dict[str, str | None] = {}

    def media_for(self, split: str) -> MediaIndex | None:
        """The index of this split's own media folder; None when the split has none."""
        for name in MEDIA_FOLDERS[split]:
            if (self.folder / name).is_dir():
                self.media_folders[split] = name
                media = MediaIndex(self.folder / name, self.allow_outside_root)
                self.rejected += [{**item, "file": f"{name}/{item['file']}"} for item in media.rejected]
                return media
        self.media_folders[split] = None
        return None

    def __iter__(self) -> Iterator[dict[str, Any]]:
        found = [name for name in SPLIT_FILES if (self.folder / name).is_file()]
        if not found:
            raise ImportFormatError(f"{self.folder}: no train_sent_emo.csv / dev_sent_emo.csv / test_sent_emo.csv")
        for name in found:
            path = self.folder / name
            media = self.media_for(SPLIT_FILES[name])
            reader = csv.DictReader(io.StringIO(_read_text(path), newline=""))  # quoted fields may hold newlines
            missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
            if missing:
                raise ImportFormatError(f"{path}: missing columns {missing}")
            for record in reader:
                line = reader.line_num
                dialogue, utterance = record["Dialogue_ID"].strip(), record["Utterance_ID"].strip()
                if not dialogue.isdigit() or not utterance.isdigit():
                    raise ImportFormatError(f"{path} row {line}: Dialogue_ID and Utterance_ID must be integers")
                key = f"dia{dialogue}_utt{utterance}"
                audio, frames = (media.audio(key), media.frames(key)) if media else (None, None)
                if audio is None and frames is None and media and media.has_video_only(key):
                    self.video_only += 1
                yield {
                    "sample_id": f"{SPLIT_FILES[name]}-{key}",
                    "split": SPLIT_FILES[name],
                    "text": record["Utterance"].strip() or None,
                    "audio": audio,
                    "frames": frames,
                    "emotion": record["Emotion"].strip().lower() or None,
                    "sentiment": record["Sentiment"].strip().lower() or None,
                }

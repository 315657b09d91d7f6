"""FER2013 faces (Goodfellow et al. 2013) → image-only modality shards.

Two layouts, as the set is distributed:
- **image folders** (Kaggle's "FER-2013" image release): `train/<class>/*.jpg` and
  `test/<class>/*.jpg`, class folders named angry, disgust, fear, happy, neutral, sad,
  surprise. `test/` holds the PublicTest and PrivateTest images.
- **the original CSV** `fer2013.csv`: `emotion` (0 angry … 6 neutral), `pixels` (2,304
  space-separated grey levels) and `Usage` (Training, PublicTest, PrivateTest). Each
  row becomes a 48×48 PNG; PublicTest and PrivateTest go to test, as in the folders.

Val is 10% of train, chosen by a stable hash of the file name (the same file is always
in the same split); test is the set's own. Images keep their size and colour mode;
`mmei data prepare` converts them to RGB at `features.image_size`, or quarantines what
it cannot decode. A file in a class folder that is not an image, or an image in a
folder that names no class, is rejected here with a reason and kept aside: files in =
rows + rejected.
"""
from __future__ import annotations

import csv
import hashlib
import io
import os
from pathlib import Path
from typing import Any, Iterator

import numpy as np
from PIL import Image

from mmei.pipelines.sources.confine import link_rejection, outside_root
from mmei.pipelines.sources.media import IMAGE_SUFFIXES
from mmei.pipelines.sources.shards import ImportFormatError

LABEL_SPACE = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]
CSV_CODES = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]  # fer2013.csv's emotion 0-6
CSV_USAGE = {"Training": "train", "PublicTest": "test", "PrivateTest": "test"}
VAL_SHARE = 0.1
SIDE = 48


def train_or_val(name: str) -> str:
    fraction = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big") / 2**64
    return "val" if fraction < VAL_SHARE else "train"


def pixels_png(text: str, where: str) -> bytes:
    try:
        values = np.array(text.split(), dtype=np.int64)
    except ValueError:
        raise ImportFormatError(f"{where}: pixels are not whole numbers") from None
    if values.size != SIDE * SIDE or values.min(initial=0) < 0 or values.max(initial=0) > 255:
        raise ImportFormatError(f"{where}: pixels must be {SIDE * SIDE} grey levels in 0-255, got {values.size} values")
    buffer = io.BytesIO()
    Image.fromarray(values.astype(np.uint8).reshape(SIDE, SIDE), mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


class Fer2013Reader:
    def __init__(self, source: Path, allow_outside_root: bool = False):
        self.source = source
        self.allow_outside_root = allow_outside_root
        self.rejected: list[dict[str, Any]] = []
        self.csv = source / "fer2013.csv" if source.is_dir() and (source / "fer2013.csv").is_file() else \
            source if source.is_file() else None
        if self.csv is None and not any((source / split).is_dir() for split in ("train", "test")):
            raise ImportFormatError(f"{source}: expected train/<class>/*.jpg and test/<class>/*.jpg folders, or "
                                    "fer2013.csv (emotion, pixels, Usage)")

    def __iter__(self) -> Iterator[dict[str, Any]]:
        yield from self._csv_rows() if self.csv else self._folder_rows()

    def _folder_rows(self) -> Iterator[dict[str, Any]]:
        for split in ("train", "test"):
            root = self.source / split
            if not root.is_dir():
                raise ImportFormatError(f"{self.source}: no {split}/ folder")
            for folder, dirs, names in os.walk(root):
                dirs.sort()
                label = Path(folder).relative_to(root).parts[0] if Path(folder) != root else None
                for name in sorted(names):
                    path = Path(folder) / name
                    relative = str(path.relative_to(self.source))
                    if not self.allow_outside_root and outside_root(path, self.source):
                        self.rejected.append(link_rejection(path, self.source))
                    elif label not in LABEL_SPACE:
                        self.rejected.append({"file": relative, "reason": "not_in_a_class_folder"})
                    elif os.path.splitext(name)[1].lower() not in IMAGE_SUFFIXES:
                        self.rejected.append({"file": relative, "reason": "not_an_image"})
                    else:
                        stem = f"{split}-{label}-{os.path.splitext(name)[0]}"
                        yield {"sample_id": f"fer2013-{stem}", "split": train_or_val(stem) if split == "train" else "test",
                               "frames": [path.read_bytes()], "emotion": label}

    def _csv_rows(self) -> Iterator[dict[str, Any]]:
        with self.csv.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            missing = {"emotion", "pixels", "Usage"} - set(reader.fieldnames or [])
            if missing:
                raise ImportFormatError(f"{self.csv}: missing column(s) {', '.join(sorted(missing))}")
            for record in reader:
                where = f"{self.csv.name} row {reader.line_num}"
                usage, code = (record["Usage"] or "").strip(), (record["emotion"] or "").strip()
                try:
                    if usage not in CSV_USAGE or code not in {str(i) for i in range(len(CSV_CODES))}:
                        raise ImportFormatError(f"{where}: Usage {usage!r} / emotion {code!r}; expected one of "
                                                f"{', '.join(CSV_USAGE)} / 0-6")
                    image = pixels_png(record["pixels"] or "", where)
                except ImportFormatError as error:
                    self.rejected.append({"file": where, "reason": "bad_csv_row", "detail": str(error),
                                          "content": ",".join(str(v) for v in record.values()).encode()})
                    continue
                stem = f"row{reader.line_num:06d}"
                split = CSV_USAGE[usage]
                yield {"sample_id": f"fer2013-{stem}", "split": train_or_val(stem) if split == "train" else split,
                       "frames": [image], "emotion": CSV_CODES[int(code)]}

    def notes(self) -> dict[str, Any]:
        return {"split_from": "the set's own train and test; val is 10% of train by a hash of the file name",
                "layout": "fer2013.csv" if self.csv else "train/<class>/ and test/<class>/ image folders",
                "label_space": {"emotion": LABEL_SPACE}}

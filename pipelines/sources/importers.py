"""`mmei data import`: known dataset layouts → modality shards in the contract."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from mmei.pipelines.sources.fer2013 import Fer2013Reader
from mmei.pipelines.sources.folder import FolderReader
from mmei.pipelines.sources.meld import MeldReader
from mmei.pipelines.sources.mintrec import read_mintrec
from mmei.pipelines.sources.mmsa import MmsaReader
from mmei.pipelines.sources.ravdess import RavdessReader
from mmei.pipelines.sources.shards import ImportFormatError, write_shards
from mmei.pipelines.sources.table import TableReader

FORMATS = ("mmsa", "mintrec", "meld", "folder", "table", "ravdess", "fer2013")


def import_dataset(fmt: str, source: Path, out: Path, table: dict[str, Any] | None = None,
                   allow_outside_root: bool = False) -> dict[str, Any]:
    """`table` holds the table format's column options (TableReader's keyword arguments).
    Media outside the dataset's root are kept aside unless `allow_outside_root` (confine.py)."""
    if fmt not in FORMATS:
        raise ImportFormatError(f"unknown format {fmt!r}; one of {FORMATS}")
    if not source.exists():
        raise ImportFormatError(f"input {source} does not exist")
    if fmt == "table":
        if not source.is_file():
            raise ImportFormatError(f"{source}: the table format is one file (.csv, .tsv, .jsonl or .parquet)")
        reader = TableReader(source, **(table or {}), allow_outside_root=allow_outside_root)
        return write_shards(reader, out, "table", notes=lambda: {"split_from": "hash of the id (80/10/10)"
                                                                  if reader.hashed_splits else reader.split_column,
                                                                  "label_columns": reader.label_columns},
                            rejected=lambda: reader.rejected)
    if fmt == "mmsa":
        if not source.is_file():
            raise ImportFormatError(f"{source}: the mmsa format is one pickle file (e.g. aligned_50.pkl)")
        reader = MmsaReader(source)
        return write_shards(reader, out, "mmsa", notes=lambda: {"nonfinite_values_zeroed": reader.zeroed})
    if fmt == "fer2013":  # a folder of class folders, or the original fer2013.csv
        reader = Fer2013Reader(source, allow_outside_root=allow_outside_root)
        return write_shards(reader, out, "fer2013", notes=reader.notes, rejected=lambda: reader.rejected,
                            root=source if source.is_dir() else None)
    if not source.is_dir():
        raise ImportFormatError(f"{source}: the {fmt} format is a folder")
    if fmt == "ravdess":
        reader = RavdessReader(source, allow_outside_root=allow_outside_root)
        return write_shards(reader, out, "ravdess", notes=reader.notes, rejected=lambda: reader.rejected, root=source)
    if fmt == "mintrec":
        return write_shards(read_mintrec(source), out, "mintrec")
    if fmt == "meld":
        reader = MeldReader(source, allow_outside_root)
        return write_shards(reader, out, "meld", notes=lambda: {"video_only_without_extracted_media": reader.video_only,
                                                                 "media_folders": reader.media_folders},
                            rejected=lambda: reader.rejected, root=source)
    reader = FolderReader(source, allow_outside_root)
    return write_shards(reader, out, "folder", notes=lambda: {"media_without_labels_row": reader.unlisted},
                        rejected=lambda: reader.media.rejected, root=source)

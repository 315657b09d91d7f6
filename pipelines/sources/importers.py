"""`mmei data import`: known dataset layouts → modality shards in the contract."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from mmei.pipelines.sources.folder import FolderReader
from mmei.pipelines.sources.meld import MeldReader
from mmei.pipelines.sources.mintrec import read_mintrec
from mmei.pipelines.sources.mmsa import read_mmsa
from mmei.pipelines.sources.shards import ImportFormatError, write_shards

FORMATS = ("mmsa", "mintrec", "meld", "folder")


def import_dataset(fmt: str, source: Path, out: Path) -> dict[str, Any]:
    if fmt not in FORMATS:
        raise ImportFormatError(f"unknown format {fmt!r}; one of {FORMATS}")
    if not source.exists():
        raise ImportFormatError(f"input {source} does not exist")
    if fmt == "mmsa":
        if not source.is_file():
            raise ImportFormatError(f"{source}: the mmsa format is one pickle file (e.g. aligned_50.pkl)")
        return write_shards(read_mmsa(source), out, "mmsa")
    if not source.is_dir():
        raise ImportFormatError(f"{source}: the {fmt} format is a folder")
    if fmt == "mintrec":
        return write_shards(read_mintrec(source), out, "mintrec")
    if fmt == "meld":
        reader = MeldReader(source)
        return write_shards(reader, out, "meld", notes=lambda: {"video_only_without_extracted_media": reader.video_only})
    reader = FolderReader(source)
    return write_shards(reader, out, "folder", notes=lambda: {"media_without_labels_row": reader.unlisted})

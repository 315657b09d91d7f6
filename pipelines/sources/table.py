"""A plain table of texts and labels (CSV, TSV, JSON Lines or Parquet) → modality shards.

The common case of "a spreadsheet of texts and labels". Columns are mapped by name:

    --text-column text                  the text (empty = no text); by default a
                                        column named `text`, and audio-only or
                                        image-only tables need none
    --label-column sentiment=category   head=column, repeatable; by default a column
                                        named like a head (emotion, sentiment, intent)
    --split-column split                train / val (or dev, valid) / test; without
                                        one, rows get a seeded 80/10/10 split by id
    --id-column id                      the sample id; default `sample_id` or `id`,
                                        else the row number
    --audio-column / --image-column     paths relative to the table's folder
                                        (images: one path, or several joined by `;`);
                                        a row whose path is absolute or leaves that
                                        folder is kept aside (--allow-outside-root
                                        lets it in)

Label values pass through as they are: the label space in the config decides which
are known, and preparation quarantines unknown ones with a reason. A blank label is
unlabelled. A media path that names no file is an error naming the file and row,
never a silently missing modality. Rows stream from the file, so size is no limit.
"""
from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path
from typing import Any, Iterator

import pyarrow.parquet as pq

from mmei.pipelines.sources.confine import outside_root
from mmei.pipelines.sources.shards import ImportFormatError
from mmei.platform.labels import HEADS

SUFFIXES = (".csv", ".tsv", ".jsonl", ".parquet")
SPLIT_NAMES = {"train": "train", "val": "val", "valid": "val", "validation": "val", "dev": "val", "test": "test"}
DEFAULT_SPLIT = (("train", 0.8), ("val", 0.1), ("test", 0.1))


class OutsideRoot(Exception):
    """A media path that is absolute or leaves the table's folder."""


def parse_label_columns(specs: list[str]) -> dict[str, str]:
    """["sentiment=category"] → {"sentiment": "category"}, with every head checked."""
    mapping = {}
    for spec in specs:
        head, sep, column = spec.partition("=")
        if not sep or not column:
            raise ImportFormatError(f"--label-column {spec!r} must look like HEAD=COLUMN, e.g. sentiment=label")
        if head not in HEADS:
            raise ImportFormatError(f"--label-column {spec!r}: unknown head {head!r}; heads are {', '.join(HEADS)}")
        mapping[head] = column
    return mapping


def hashed_split(sample_id: str) -> str:
    """80/10/10 by a stable hash of the id: the same id always lands in the same split."""
    fraction = int.from_bytes(hashlib.blake2b(sample_id.encode(), digest_size=8).digest(), "big") / 2**64
    cumulative = 0.0
    for name, share in DEFAULT_SPLIT:
        cumulative += share
        if fraction < cumulative:
            return name
    return DEFAULT_SPLIT[-1][0]


class TableReader:
    def __init__(self, path: Path, text_column: str | None = None, label_columns: dict[str, str] | None = None,
                 split_column: str | None = None, id_column: str | None = None, audio_column: str | None = None,
                 image_column: str | None = None, allow_outside_root: bool = False):
        if path.suffix.lower() not in SUFFIXES:
            raise ImportFormatError(f"{path}: the table format reads {', '.join(SUFFIXES)} files")
        self.path = path
        self.text_column = text_column
        self.label_columns = label_columns
        self.split_column = split_column
        self.id_column = id_column
        self.audio_column = audio_column
        self.image_column = image_column
        self.hashed_splits = False
        self.allow_outside_root = allow_outside_root
        self.rejected: list[dict[str, Any]] = []  # rows whose media lie outside the table's folder

    # ------------------------------------------------------------ reading
    def _records(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """(row number as a person counts it in the file, record) for every row."""
        suffix = self.path.suffix.lower()
        if suffix in (".csv", ".tsv"):
            with self.path.open(newline="", encoding="utf-8-sig") as handle:
                reader = csv.DictReader(handle, delimiter="\t" if suffix == ".tsv" else ",")
                self._check_columns(reader.fieldnames or [])
                for record in reader:
                    yield reader.line_num, record
        elif suffix == ".jsonl":
            columns_checked = False
            with self.path.open(encoding="utf-8") as handle:
                for line_number, line in enumerate(handle, start=1):
                    if not line.strip():
                        continue
                    try:
                        record = json.loads(line)
                    except json.JSONDecodeError as error:
                        raise ImportFormatError(f"{self.path} line {line_number}: not JSON ({error})") from None
                    if not isinstance(record, dict):
                        raise ImportFormatError(f"{self.path} line {line_number}: not a JSON object")
                    if not columns_checked:
                        self._check_columns(list(record))
                        columns_checked = True
                    yield line_number, record
        else:
            try:
                parquet = pq.ParquetFile(self.path)
            except Exception as error:  # pyarrow raises several kinds for a bad file
                raise ImportFormatError(f"{self.path}: unreadable Parquet file ({error})") from None
            self._check_columns(parquet.schema_arrow.names)
            number = 0
            for batch in parquet.iter_batches(batch_size=4096):
                for record in batch.to_pylist():
                    number += 1
                    yield number, record

    def _check_columns(self, names: list[str]) -> None:
        """Resolve the defaults against the header, and name any column that is not there."""
        if self.label_columns is None:
            self.label_columns = {head: head for head in HEADS if head in names}
        if self.split_column is None and "split" in names:
            self.split_column = "split"
        if self.text_column is None and "text" in names:
            self.text_column = "text"
        if self.text_column is None and not (self.audio_column or self.image_column):
            raise ImportFormatError(f"{self.path}: no column 'text' and no --audio-column or --image-column; name the "
                                    f"text with --text-column (columns are {', '.join(names)})")
        if self.id_column is None:
            self.id_column = next((name for name in ("sample_id", "id") if name in names), None)
        self.hashed_splits = self.split_column is None
        wanted = {"--text-column": self.text_column, "--split-column": self.split_column,
                  "--id-column": self.id_column, "--audio-column": self.audio_column,
                  "--image-column": self.image_column,
                  **{f"--label-column {head}=": column for head, column in self.label_columns.items()}}
        for flag, column in wanted.items():
            if column is not None and column not in names:
                raise ImportFormatError(f"{self.path}: no column {column!r} ({flag}); columns are {', '.join(names)}")

    # ------------------------------------------------------------ rows
    def _media(self, value: Any, where: str) -> bytes | None:
        if value is None or not str(value).strip():
            return None
        named = Path(str(value).strip())
        if not self.allow_outside_root and (named.is_absolute() or outside_root(self.path.parent / named,
                                                                                  self.path.parent)):
            raise OutsideRoot(f"media path {str(value)!r} leads outside {self.path.parent}")
        path = (self.path.parent / named).resolve()
        if not path.is_file():
            raise ImportFormatError(f"{where}: media file {value!r} does not exist (looked for {path})")
        return path.read_bytes()

    def _split(self, value: Any, sample_id: str, where: str) -> str:
        if self.hashed_splits:
            return hashed_split(sample_id)
        name = SPLIT_NAMES.get(str(value or "").strip().lower())
        if name is None:
            raise ImportFormatError(f"{where}: split {value!r} is not one of {', '.join(sorted(SPLIT_NAMES))}")
        return name

    def __iter__(self) -> Iterator[dict[str, Any]]:
        seen: set[str] = set()
        for number, record in self._records():
            where = f"{self.path} row {number}"
            sample_id = str(record[self.id_column]).strip() if self.id_column and record.get(self.id_column) is not None \
                else f"row-{number:07d}"
            if not sample_id:
                raise ImportFormatError(f"{where}: empty id in column {self.id_column!r}")
            if sample_id in seen:
                raise ImportFormatError(f"{where}: duplicate id {sample_id!r}")
            seen.add(sample_id)
            text = record.get(self.text_column) if self.text_column else None
            images = record.get(self.image_column) if self.image_column else None
            try:
                frames = [self._media(part, where) for part in str(images).split(";") if part.strip()] if images else None
                audio = self._media(record.get(self.audio_column), where) if self.audio_column else None
            except OutsideRoot as refused:  # kept aside, named, its file never read (confine.py)
                self.rejected.append({"file": where, "reason": "media_outside_root", "detail": str(refused),
                                      "content": json.dumps(record, default=str).encode()})
                continue
            yield {
                "sample_id": sample_id,
                "split": self._split(record.get(self.split_column) if self.split_column else None, sample_id, where),
                "text": str(text).strip() or None if text is not None else None,
                "audio": audio,
                "frames": frames or None,
                **{head: (str(record.get(column)).strip() or None) if record.get(column) is not None else None
                   for head, column in (self.label_columns or {}).items()},
            }

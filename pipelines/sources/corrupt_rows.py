"""Plant a few known-bad rows beside a SYNTHETIC corpus, so a demo shows the quarantine.

Real ingests bring rows like these: audio that is not audio, a truncated image, a label
outside the label space, a row with no modality at all. Each is a copy of a good row
with one thing broken, written to its own shard (`synthetic-part-corrupt.parquet`,
with the corpus's SYNTHETIC metadata). `mmei data prepare` must quarantine every one
with its reason and keep every good row.
"""
from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

CORRUPT_SHARD = "synthetic-part-corrupt.parquet"
REASONS = ("audio_undecodable", "image_undecodable", "unknown_label", "no_modality")


def corrupt_copies(rows: list[dict]) -> list[dict]:
    """One broken copy of a complete row per reason in REASONS."""
    full = [row for row in rows if row["text"] and row["audio"] and row["frames"]]
    if len(full) < len(REASONS):
        raise ValueError(f"need {len(REASONS)} rows with all three modalities to plant corrupt ones")
    png = full[1]["frames"][0]
    return [
        {**full[0], "sample_id": "corrupt-audio", "audio": b"RIFF\x00\x00\x00\x00WAVEnot audio"},
        {**full[1], "sample_id": "corrupt-image", "frames": [png[: len(png) // 2]]},
        {**full[2], "sample_id": "corrupt-label", "emotion": "bliss"},
        {**full[3], "sample_id": "corrupt-empty", "text": None, "audio": None, "frames": None},
    ]


def plant_corrupt_rows(corpus: Path) -> Path:
    """Write the corrupt shard into `corpus`, with the first shard's schema and metadata."""
    first = sorted(path for path in corpus.glob("synthetic-part-*.parquet") if path.name != CORRUPT_SHARD)[0]
    table = pq.read_table(first)
    bad = corrupt_copies(table.to_pylist())
    path = corpus / CORRUPT_SHARD
    pq.write_table(pa.Table.from_pylist(bad, schema=table.schema), path)
    return path

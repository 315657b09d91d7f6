"""Arrow schemas of the data contracts (see DESIGN.md, "Data contracts").

Modality shard: what importers and the synthetic corpus write and preprocessing
reads. Audio comes as encoded WAV/FLAC bytes (`audio`) or as pre-extracted frame
vectors (`audio_features`); frames likewise (`frames` / `visual_features`). Every
modality and every label is nullable; `score` may be left out. Extra columns (the corpus's `scenario`,
`speaker`) are allowed and carried along.
"""
from __future__ import annotations

import pyarrow as pa

FEATURE_MATRIX = pa.list_(pa.list_(pa.float32()))

MODALITY_SCHEMA = pa.schema([
    pa.field("sample_id", pa.string(), nullable=False),
    pa.field("split", pa.string(), nullable=False),
    pa.field("text", pa.string()),
    pa.field("audio", pa.binary()),
    pa.field("audio_features", FEATURE_MATRIX),
    pa.field("frames", pa.list_(pa.binary())),
    pa.field("visual_features", FEATURE_MATRIX),
    pa.field("emotion", pa.string()),
    pa.field("sentiment", pa.string()),
    pa.field("intent", pa.string()),
    pa.field("score", pa.float32()),  # optional: a sentiment score (MMSA's regression label)
])

OPTIONAL_COLUMNS = ("score",)
REQUIRED_COLUMNS = tuple(name for name in MODALITY_SCHEMA.names if name not in OPTIONAL_COLUMNS)
SPLITS = ("train", "val", "test")

# Parquet key-value metadata every synthetic shard carries, so a synthetic file can
# never pass for real data once it leaves the folder it was written to.
SYNTHETIC_KEY = b"mmei.synthetic"


def missing_columns(schema: pa.Schema) -> list[str]:
    return [name for name in REQUIRED_COLUMNS if name not in schema.names]

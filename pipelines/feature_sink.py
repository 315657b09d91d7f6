"""A Ray Data datasink that writes feature rows and quarantined rows in one streaming pass.

The featurizer emits both kinds of row in one table: good rows carry feature columns
(prefixed `x_`), rejected rows keep their original content plus `reason` and `detail`.
Each write task splits its blocks and writes two Parquet files named after its task
index: OUTPUT/part-NNNNNN.parquet and OUTPUT/_quarantine/part-NNNNNN.parquet. A retried
task writes the same names again (through a temporary file and a rename), so a retry
never duplicates rows; nothing is materialized between featurization and the files.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from ray.data import Datasink
from ray.data.block import Block, BlockAccessor

FEATURE_PREFIX = "x_"  # feature columns while rows are mixed; the prefix goes at write time
FEATURE_FORMAT = "compact/1"  # the shards' layout (pipelines/feature_dataset.py); manifests record it
VERDICT_COLUMNS = ("reason", "detail")


def feature_table(mixed: pa.Table, media_columns: tuple[str, ...]) -> pa.Table:
    """Good rows' columns: everything but the raw media and the verdict, `x_` names unprefixed."""
    keep = [name for name in mixed.column_names if name not in media_columns and name not in VERDICT_COLUMNS]
    table = mixed.select(keep)
    return table.rename_columns([name[len(FEATURE_PREFIX):] if name.startswith(FEATURE_PREFIX) else name
                                 for name in keep])


def quarantine_table(mixed: pa.Table, label_columns: tuple[str, ...]) -> pa.Table:
    """Rejected rows as they came in, plus why: no feature or label-id columns."""
    return mixed.select([name for name in mixed.column_names
                         if not name.startswith(FEATURE_PREFIX) and name not in label_columns])


def write_atomically(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, temporary)
    os.replace(temporary, path)


class SplitShardSink(Datasink):
    def __init__(self, output_dir: Path, rows_per_file: int, media_columns: tuple[str, ...],
                 label_columns: tuple[str, ...]):
        self.output_dir = Path(output_dir)
        self.rows_per_file = rows_per_file
        self.media_columns = media_columns
        self.label_columns = label_columns

    @property
    def min_rows_per_write(self) -> int:
        return self.rows_per_file

    def write(self, blocks: Iterable[Block], ctx) -> dict[str, int]:
        tables = [BlockAccessor.for_block(block).to_arrow() for block in blocks]
        tables = [table for table in tables if table.num_rows]
        if not tables:
            return {"features": 0, "quarantined": 0}
        mixed = pa.concat_tables(tables, promote_options="permissive")
        rejected = pc.is_valid(mixed.column("reason"))
        good, bad = mixed.filter(pc.invert(rejected)), mixed.filter(rejected)
        name = f"part-{ctx.task_idx:06d}.parquet"
        if good.num_rows:
            write_atomically(feature_table(good, self.media_columns), self.output_dir / name)
        if bad.num_rows:
            write_atomically(quarantine_table(bad, self.label_columns), self.output_dir / "_quarantine" / name)
        return {"features": good.num_rows, "quarantined": bad.num_rows}

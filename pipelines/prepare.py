"""Ray Data preparation: modality shards → feature shards, with bad rows quarantined.

    read_parquet ─► map_batches(ShardFeaturizer) ─► sort(hash(seed, sample_id)) ─► write_datasink(SplitShardSink)
                    (validate, featurize, label ids)  (seeded random order, one   ├► OUTPUT/part-*.parquet
                                                       block per output file)     └► OUTPUT/_quarantine/part-*.parquet
    then: rows_in == rows_out + rows_quarantined, checked from the files; then OUTPUT/manifest.json

One stateful UDF does validation and featurization in a single pass, so media are
decoded once. Its output carries both kinds of row: good rows get their compact
feature arrays (pipelines/feature_dataset.py: only the modalities that exist, frames
as uint8), rejected rows keep their original content plus `reason` and `detail`. Any
exception while featurizing one row (a decompression bomb, a codec error) rejects that
row, never the job. The datasink splits each write task's rows into the two outputs,
so nothing is materialized but the sort's own barrier (none with `keep_order`), and a
retried task rewrites its own files instead of duplicating rows. The manifest
is written only once the files account for every input row; otherwise the run fails
loudly with DataLossError.

Rows are written in a seeded random order by default: real corpora arrive grouped
by label or source, and shards that keep that order give training batches of one
class. The order is a sort on a hash of (seed, sample_id), so it does not depend on
how Ray schedules the tasks: the same seed gives the same order. `keep_order`
(`--keep-order`) writes rows in input order instead.
"""
from __future__ import annotations

import hashlib
import json
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import ray

from mmei.pipelines.feature_sink import FEATURE_FORMAT, FEATURE_PREFIX, SplitShardSink
from mmei.pipelines.prepare_progress import RowsWritten
from mmei.platform.config import Config, config_from_dict
from mmei.platform.errors import UserInputError
from mmei.platform.features import (AudioDecodeError, FeatureError, ImageDecodeError, MediaTooLarge, compact_row,
                                    load_tokenizer, text_tokens)
from mmei.platform.labels import HEADS, IGNORE_INDEX
from mmei.platform.schema import SYNTHETIC_KEY, missing_columns
from mmei.platform.validation import Rejection, check_row

MEDIA_COLUMNS = ("audio", "frames", "audio_features", "visual_features")
LABEL_COLUMNS = tuple(f"{head}_id" for head in HEADS)
ORDER_KEY = "_order_key"  # the seeded sort key; dropped before the write
KEY_SPACE = 1 << 63  # order keys are uniform in [0, KEY_SPACE)


class DataInputError(UserInputError):
    """An input file that cannot be read as modality shards; the message names it."""


class DataLossError(RuntimeError):
    """rows_in != rows_out + rows_quarantined: a row went missing, and that is a bug."""


def input_files(folder: Path) -> list[Path]:
    """Every data file under `folder` (files named _* or .* are sidecars and skipped)."""
    if not folder.is_dir():
        raise DataInputError(f"input folder {folder} does not exist")
    files = sorted(p for p in folder.rglob("*") if p.is_file()
                   and not any(part.startswith(("_", ".")) for part in p.relative_to(folder).parts))
    if not files:
        raise DataInputError(f"input folder {folder} holds no Parquet files")
    return files


def inspect_input(path: Path) -> dict[str, Any]:
    """Rows and metadata of one input file, or a DataInputError naming it."""
    if path.suffix != ".parquet":
        raise DataInputError(f"{path}: not a Parquet file (move it out of the input folder or prefix it with _)")
    try:
        meta = pq.read_metadata(path)
        schema = pq.read_schema(path)
    except (pa.ArrowInvalid, OSError) as error:
        raise DataInputError(f"{path}: unreadable Parquet file ({error})") from None
    missing = missing_columns(schema)
    if missing:
        raise DataInputError(f"{path}: missing columns {missing} of the modality-shard contract")
    synthetic = (schema.metadata or {}).get(SYNTHETIC_KEY) == b"true"
    return {"path": str(path), "rows": meta.num_rows, "bytes": path.stat().st_size, "synthetic": synthetic}


def rejection_for(error: Exception) -> Rejection:
    """Why featurizing a row failed, as a quarantine reason."""
    if isinstance(error, MediaTooLarge):
        return Rejection("media_too_large", str(error))
    if isinstance(error, AudioDecodeError):
        return Rejection("audio_undecodable", str(error))
    if isinstance(error, ImageDecodeError):
        return Rejection("image_undecodable", str(error))
    if isinstance(error, FeatureError):
        return Rejection("featurization", str(error))
    return Rejection("featurization", f"{type(error).__name__}: {error}")


def list_column(arrays: list[np.ndarray | None], value_type: pa.DataType) -> pa.Array:
    """Optional numpy arrays → one Arrow list column, each array flattened; None → null."""
    lengths = np.array([0 if a is None else a.size for a in arrays], dtype=np.int32)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    present = [a for a in arrays if a is not None]
    values = (np.concatenate([a.ravel() for a in present]) if present
              else np.zeros(0, dtype=value_type.to_pandas_dtype()))
    mask = pa.array([a is None for a in arrays], pa.bool_())
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values, value_type), mask=mask)


class ShardFeaturizer:
    """map_batches UDF: validate each row, featurize the good ones, mark the rest.

    A class so each actor loads the tokenizer once and reuses it for every batch.
    """

    def __init__(self, config: dict[str, Any]):
        self.config = config_from_dict(config)
        features = self.config.features
        load_tokenizer(features.tokenizer_path, features.text_max_tokens)
        self.audio_type = pa.float32()
        self.frame_type = pa.float32() if features.visual_input == "features" else pa.uint8()

    def __call__(self, table: pa.Table) -> pa.Table:
        rows = table.to_pylist()
        verdicts: list[Rejection | None] = [check_row(row, self.config) for row in rows]
        features = self.config.features
        good = [i for i, verdict in enumerate(verdicts) if verdict is None]
        tokens = text_tokens([rows[i].get("text") for i in good], features)
        items: list[dict | None] = [None] * len(rows)
        for i, ids in zip(good, tokens):
            try:
                items[i] = compact_row(rows[i], ids, features)
            except Exception as error:  # noqa: BLE001 - one row's failure must never fail the job
                verdicts[i] = rejection_for(error)
        return self._mixed_table(table, rows, verdicts, items)

    def _mixed_table(self, table: pa.Table, rows: list[dict], verdicts: list[Rejection | None],
                     items: list[dict | None]) -> pa.Table:
        n = len(rows)
        columns: dict[str, Any] = {}
        bad = np.array([verdict is not None for verdict in verdicts], dtype=bool)
        for name in table.column_names:  # original content; media only where rejected
            column = table.column(name)
            if name in MEDIA_COLUMNS:
                column = pa.compute.if_else(pa.array(bad), column, pa.nulls(n, column.type))
            columns[name] = column
        columns["reason"] = pa.array([v.reason if v else None for v in verdicts], pa.string())
        columns["detail"] = pa.array([v.detail if v else None for v in verdicts], pa.string())
        labels = self.config.labels
        for head in HEADS:
            ids = np.full(n, IGNORE_INDEX, dtype=np.int64)
            for i in np.flatnonzero(~bad):
                ids[i] = labels.encode(head, rows[i].get(head))
            columns[f"{head}_id"] = pa.array(ids)
        scores = [row.get("score") if not bad[i] else None for i, row in enumerate(rows)]
        columns["score"] = pa.array([None if s is None else float(s) for s in scores], pa.float32())
        kept = [item if not bad[i] else None for i, item in enumerate(items)]
        for key, value_type in (("tokens", pa.int32()), ("audio", self.audio_type), ("frames", self.frame_type)):
            columns[FEATURE_PREFIX + key] = list_column([item[key] if item else None for item in kept], value_type)
        return pa.table(columns)


def order_keys(table: pa.Table, seed: int) -> pa.Table:
    """map_batches UDF: a 63-bit hash of (seed, sample_id, split) per row, the shuffle's sort key."""
    ids = table.column("sample_id").to_pylist()
    splits = table.column("split").to_pylist()
    keys = [int.from_bytes(hashlib.blake2b(f"{seed}\x00{i}\x00{s}".encode(), digest_size=8).digest(), "big") >> 1
            for i, s in zip(ids, splits)]
    return table.append_column(ORDER_KEY, pa.array(keys, pa.int64()))


def key_boundaries(partitions: int) -> list[int]:
    """Sort boundaries that cut the uniform key space into `partitions` equal ranges.

    Ray samples boundaries when given none, so one partition is one boundary above
    every key.
    """
    if partitions <= 1:
        return [KEY_SPACE - 1]
    return [KEY_SPACE * k // partitions for k in range(1, partitions)]


def seeded_order(dataset: ray.data.Dataset, partitions: int) -> ray.data.Dataset:
    """The rows in the random order of their `order_keys`, whatever the block layout or
    scheduling, in `partitions` blocks of about equal size (one output file each).

    The keys are uniform hashes, so the boundaries are known without Ray's sampling
    pass. Left to itself, Ray sorts into one partition per input block: 99 files of
    2-3 rows for the tests' 240 samples, and 10 s of the 15 s preparation.

    The sort runs on featurized rows, not on the raw media: the same keys give the same
    order, but a third of the bytes cross the all-to-all, and featurizing streams from
    the read instead of waiting behind the sort's barrier. At 20,000 SYNTHETIC samples
    on 2 cores, sorting the raw media cut Ray Data from 1,370 samples/s (input order) to
    489 (`mmei bench data`)."""
    return dataset.sort(ORDER_KEY, boundaries=key_boundaries(partitions)).drop_columns([ORDER_KEY])


FEATURIZER_CPUS = 0.5  # fractional: whole-CPU actors on a 2-CPU node starve the read tasks (a hang)


BATCHES_PER_ACTOR = 4  # the least work that pays for starting a featurizer actor


def actor_pool_size(rows: int, batch_size: int) -> int:
    """One featurizer per CPU of the cluster, started together (a fixed pool), but no
    more than the rows keep busy.

    Logical CPUs are scheduling tokens: at half a CPU each, the pool leaves room for
    the read and write tasks, and each actor still gets a core's worth of work. An
    actor costs a process and a tokenizer load (~1 s here), so each must get at least
    BATCHES_PER_ACTOR batches: on the tests' 6-CPU cluster, 6 actors for 240 rows
    took 4.3 s against 2.2 s for 2.
    """
    cpus = max(1, int(ray.cluster_resources().get("CPU", 1.0)))
    return max(1, min(cpus, -(-rows // (BATCHES_PER_ACTOR * batch_size))))


@contextmanager
def stopping(progress: RowsWritten | None) -> Iterator[None]:
    try:
        yield
    finally:
        if progress:
            progress.stop()


@contextmanager
def small_read_blocks(inputs: list[dict[str, Any]], pool: int) -> Iterator[None]:
    """Cap read blocks so every featurizer actor gets work.

    Ray 2.60's Parquet reader (ReadFiles V2) ignores `override_num_blocks` and, under
    the default 128 MiB target, reads a few thousand rows as one block: one actor
    works and the rest idle. The cap is restored afterwards.
    """
    context = ray.data.DataContext.get_current()
    previous = context.target_max_block_size
    total = sum(item["bytes"] for item in inputs)
    context.target_max_block_size = max(1 << 20, min(previous or total, total // (4 * pool) + 1))
    try:
        yield
    finally:
        context.target_max_block_size = previous


def check_inputs(input_dir: Path, output_dir: Path) -> list[dict[str, Any]]:
    """File-level checks, before any cluster work: every input readable, output new."""
    inputs = [inspect_input(path) for path in input_files(input_dir)]
    if output_dir.exists() and any(output_dir.iterdir()):
        raise FileExistsError(f"output folder {output_dir} is not empty; choose a new one")
    return inputs


def prepare(input_dir: Path, output_dir: Path, config: Config, batch_size: int = 32,
            rows_per_file: int = 1000, echo: Callable[[str], None] = print, seed: int = 0,
            keep_order: bool = False, show_progress: bool = False) -> dict[str, Any]:
    """Check the inputs, then run the preparation on the current Ray cluster."""
    return run_preparation(check_inputs(input_dir, output_dir), output_dir, config, batch_size, rows_per_file, echo,
                           seed, keep_order, show_progress)


def run_preparation(inputs: list[dict[str, Any]], output_dir: Path, config: Config, batch_size: int = 32,
                    rows_per_file: int = 1000, echo: Callable[[str], None] = print, seed: int = 0,
                    keep_order: bool = False, show_progress: bool = False, indent: str = "") -> dict[str, Any]:
    """Returns the manifest; raises DataLossError if any row is unaccounted for.

    Rows come out in a random order fixed by `seed`, or in input order with `keep_order`.
    `show_progress` draws a rows-written line with an ETA while Ray Data runs.
    """
    started = time.perf_counter()
    files = [item["path"] for item in inputs]
    rows_in = sum(item["rows"] for item in inputs)
    echo(f"preparing {rows_in} rows from {len(files)} file(s)")

    pool = actor_pool_size(rows_in, batch_size)
    progress = RowsWritten(output_dir, rows_in, indent) if show_progress else None
    if progress:
        progress.start()
    with small_read_blocks(inputs, pool), stopping(progress):
        rows = ray.data.read_parquet(files)
        if keep_order:  # exactly: blocks leave the featurizer pool in input order, not as they finish
            rows.context.execution_options.preserve_order = True
        else:  # the key travels through the featurizer; the sort runs after it (see seeded_order)
            rows = rows.map_batches(order_keys, fn_kwargs={"seed": seed}, batch_format="pyarrow")
        rows = rows.map_batches(ShardFeaturizer, fn_constructor_kwargs={"config": config.to_dict()},
                                batch_size=batch_size, batch_format="pyarrow",
                                compute=ray.data.ActorPoolStrategy(size=pool), num_cpus=FEATURIZER_CPUS)
        if not keep_order:
            rows = seeded_order(rows, partitions=-(-rows_in // rows_per_file))
        rows.write_datasink(SplitShardSink(output_dir, rows_per_file, MEDIA_COLUMNS, LABEL_COLUMNS))
    order = "input" if keep_order else f"shuffled (seed {seed})"
    return write_manifest(output_dir, output_dir / "_quarantine", inputs, config, time.perf_counter() - started,
                          echo, order)


def write_manifest(output_dir: Path, quarantine_dir: Path, inputs: list[dict[str, Any]], config: Config,
                   elapsed: float, echo: Callable[[str], None], row_order: str = "input") -> dict[str, Any]:
    outputs = sorted(output_dir.glob("part-*.parquet"))
    rows_out = sum(pq.read_metadata(p).num_rows for p in outputs)
    reasons: dict[str, int] = {}
    quarantined = sorted(quarantine_dir.glob("part-*.parquet")) if quarantine_dir.is_dir() else []
    for path in quarantined:
        for reason in pq.read_table(path, columns=["reason"]).column("reason").to_pylist():
            reasons[reason] = reasons.get(reason, 0) + 1
    rows_in = sum(item["rows"] for item in inputs)
    rows_quarantined = sum(reasons.values())
    synthetic = any(item["synthetic"] for item in inputs)
    manifest = {
        "rows_in": rows_in,
        "rows_out": rows_out,
        "rows_quarantined": rows_quarantined,
        "reasons": dict(sorted(reasons.items())),
        "synthetic": synthetic,
        "row_order": row_order,
        "feature_format": FEATURE_FORMAT,
        "config_hash": config.fingerprint("features", "labels"),
        "features": config.to_dict()["features"],
        "labels": config.to_dict()["labels"],
        "inputs": inputs,
        "outputs": [p.name for p in outputs],
        "elapsed_s": round(elapsed, 2),
        "ray_version": ray.__version__,
    }
    if rows_in != rows_out + rows_quarantined:  # no manifest: nothing may train on a lossy output
        (output_dir / "_accounting.json").write_text(json.dumps(manifest, indent=2))
        raise DataLossError(f"rows_in {rows_in} != rows_out {rows_out} + rows_quarantined {rows_quarantined}; "
                            f"see {output_dir / '_accounting.json'}")
    (output_dir / "manifest.json").write_text(json.dumps(manifest, indent=2))
    if synthetic:  # the label travels with the data
        (output_dir / "_SYNTHETIC.md").write_text(
            "# SYNTHETIC DATA\n\nThese feature shards were prepared from synthetic modality shards "
            "(see manifest.json, inputs). No row is a real person's text, voice or face.\n")
    label = "SYNTHETIC " if synthetic else ""
    echo(f"prepared {label}data: {rows_in} in → {rows_out} out + {rows_quarantined} quarantined "
         f"{manifest['reasons']} in {elapsed:.1f}s → {output_dir}")
    return manifest

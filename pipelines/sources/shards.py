"""Writing modality shards: the one place importers turn rows into contract Parquet.

Every importer yields plain dict rows; this writes them in MODALITY_SCHEMA, in
`{source}-part-NNNNN.parquet` files, plus `_import.json` with what was written: rows
per split, modalities present, label counts, text lengths in tokens and pre-extracted
feature widths (the settings `mmei data prepare` will need).
"""
from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from mmei.platform.errors import UserInputError
from mmei.platform.features import has_text, load_tokenizer
from mmei.platform.schema import MODALITY_SCHEMA

MAX_TEXT_TOKENS = 512  # BERT's position table


class ImportFormatError(UserInputError):
    """Input that does not look like the format it claims; names the file and row."""


def _width(matrix: Any) -> int | None:
    return len(matrix[0]) if matrix is not None and len(matrix) and len(matrix[0]) else None


class TextLengths:
    """Token counts of every text, with the default (MiniLM) tokenizer, counted in batches."""

    def __init__(self, batch: int = 2048):
        self.batch = batch
        self.pending: list[str] = []
        self.lengths: list[np.ndarray] = []

    def add(self, text: str | None) -> None:
        if has_text(text):
            self.pending.append(text)
            if len(self.pending) == self.batch:
                self.flush()

    def flush(self) -> None:
        if self.pending:
            tokenized = load_tokenizer(None, MAX_TEXT_TOKENS)(self.pending)
            self.lengths.append(np.array([len(ids) for ids in tokenized]))
            self.pending.clear()

    def summary(self) -> dict[str, int]:
        self.flush()
        if not self.lengths:
            return {}
        lengths = np.concatenate(self.lengths)
        return {"texts": int(lengths.size), **{f"p{q}": int(np.percentile(lengths, q)) for q in (50, 95, 99)},
                "max": int(lengths.max())}


MAX_SUGGESTED_STEPS = 256  # past this, subsampling costs little accuracy and a lot of memory


def length_summary(lengths: list[int]) -> dict[str, int]:
    values = np.asarray(lengths)
    return {"rows": int(values.size), "p50": int(np.percentile(values, 50)), "p95": int(np.percentile(values, 95)),
            "max": int(values.max())}


def suggested_feature_steps(steps: dict[str, dict[str, int]]) -> int:
    """The longer modality's 95th percentile, rounded up to 8, at most MAX_SUGGESTED_STEPS."""
    longest = max(summary["p95"] for summary in steps.values())
    return min(MAX_SUGGESTED_STEPS, max(8, -(-longest // 8) * 8))


def suggested_text_tokens(lengths: dict[str, int]) -> int:
    """The 95th percentile, rounded up to a multiple of 8: most texts whole, little padding."""
    return min(MAX_TEXT_TOKENS, max(8, -(-lengths["p95"] // 8) * 8))


def label_space_overrides(label_space: dict[str, list[str]]) -> list[str]:
    """A format that knows its classes says so: `labels.emotion=[neutral, calm, …]`."""
    return [f"labels.{head}=[{', '.join(names)}]" for head, names in label_space.items()]


REJECTED_FILE = "_quarantine/import-rejected.parquet"
REJECTED_SCHEMA = pa.schema([("file", pa.string()), ("reason", pa.string()), ("detail", pa.string()),
                             ("content", pa.binary())])


def write_rejected(rejected: list[dict[str, Any]], root: Path | None, out: Path) -> dict[str, int]:
    """Files an importer could not turn into a sample, kept aside with their reason and
    bytes (none for a link that leaves the dataset: confine.py) in `_quarantine/`, which
    `mmei data prepare` never reads; reason → count."""
    rows = []
    for item in rejected:
        content = item.get("content")
        source = (root / item["file"]) if root is not None else None
        if content is None and source is not None and source.is_file():
            content = source.read_bytes()
        rows.append({"file": item["file"], "reason": item["reason"], "detail": item.get("detail", ""),
                     "content": content})
    path = out / REJECTED_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=REJECTED_SCHEMA), path)
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["reason"]] = counts.get(row["reason"], 0) + 1
    return counts


def write_shards(rows: Iterable[dict[str, Any]], out: Path, source: str, rows_per_shard: int = 1000,
                 notes: Callable[[], dict[str, Any]] | None = None,
                 rejected: Callable[[], list[dict[str, Any]]] | None = None, root: Path | None = None) -> dict[str, Any]:
    """`notes` and `rejected` are called after every row is written: readers count what
    they saw, and list the files they refused (`root` is where those files lie).

    Everything is written to a hidden folder beside `out`, renamed to `out` only once
    the import is whole: a failed import leaves nothing that a retry must clean up.
    """
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"{out} already holds files; choose an empty or new folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.importing-", dir=out.parent))
    staging.chmod(0o755)  # mkdtemp's 0700 would make the shards private to this user
    try:
        report = _write_rows(rows, staging, source, rows_per_shard)
        report.update(notes() if notes else {})
        report["prepare_overrides"] += label_space_overrides(report.get("label_space", {}))
        refused = rejected() if rejected else []
        report["files_rejected"] = write_rejected(refused, root, staging) if refused else {}
        report["files_in"] = report["rows"] + len(refused)
        (staging / "_import.json").write_text(json.dumps(report, indent=2))
        if out.exists():
            out.rmdir()  # empty, checked above
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return report


def _write_rows(rows: Iterable[dict[str, Any]], out: Path, source: str, rows_per_shard: int) -> dict[str, Any]:
    report: dict[str, Any] = {"source": source, "rows": 0, "splits": {}, "present": {"text": 0, "audio": 0, "visual": 0},
                              "labelled": {"emotion": 0, "sentiment": 0, "intent": 0}, "feature_dims": {}, "files": []}
    schema = MODALITY_SCHEMA.with_metadata({b"mmei.source": source.encode()})
    batch: list[dict[str, Any]] = []
    text_lengths = TextLengths()
    feature_steps: dict[str, list[int]] = {"audio_features": [], "visual_features": []}

    def flush() -> None:
        path = out / f"{source}-part-{len(report['files']):05d}.parquet"
        pq.write_table(pa.Table.from_pylist(batch, schema=schema), path)
        report["files"].append(path.name)
        batch.clear()

    for row in rows:
        row = {name: row.get(name) for name in MODALITY_SCHEMA.names}
        report["rows"] += 1
        report["splits"][row["split"]] = report["splits"].get(row["split"], 0) + 1
        report["present"]["text"] += row["text"] is not None
        text_lengths.add(row["text"])
        report["present"]["audio"] += row["audio"] is not None or row["audio_features"] is not None
        report["present"]["visual"] += row["frames"] is not None or row["visual_features"] is not None
        for head in report["labelled"]:
            report["labelled"][head] += row[head] is not None
        for key in ("audio_features", "visual_features"):
            width = _width(row[key])
            if width:
                report["feature_dims"].setdefault(key, width)
                feature_steps[key].append(len(row[key]))
        batch.append(row)
        if len(batch) == rows_per_shard:
            flush()
    if batch:
        flush()
    if not report["rows"]:
        raise ImportFormatError(f"no samples found for format {source!r}")
    report["text_tokens"] = text_lengths.summary()
    report["feature_steps"] = {key: length_summary(values) for key, values in feature_steps.items() if values}
    dims = report["feature_dims"]
    hints = []
    if report["text_tokens"]:
        hints.append(f"features.text_max_tokens={suggested_text_tokens(report['text_tokens'])}")
    if report["feature_steps"]:
        hints.append(f"features.max_feature_steps={suggested_feature_steps(report['feature_steps'])}")
    if "audio_features" in dims:
        hints += ["features.audio_input=features", f"features.audio_feature_dim={dims['audio_features']}"]
    if "visual_features" in dims:
        hints += ["features.visual_input=features", f"features.visual_feature_dim={dims['visual_features']}"]
    report["prepare_overrides"] = hints
    return report

"""`mmei bench data`: Ray Data preparation against a plain single-process loop.

Both sides run the same work on the same shards: read Parquet, validate and
featurize every row with the same `ShardFeaturizer`, write feature and quarantine
Parquet. Ray's cluster start-up is outside the timed region (a job on a running
cluster doesn't pay it); everything else is inside. Prints samples/s for each and,
last, the ratio.
"""
from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mmei.cluster.ray_session import ray_session
from mmei.pipelines.prepare import ShardFeaturizer, check_inputs, run_preparation
from mmei.pipelines.sources.synthetic import write_corpus
from mmei.platform.config import Config, load_config

TARGET = 1.7


def single_process(corpus: Path, output: Path, config: Config, batch_size: int) -> int:
    featurizer = ShardFeaturizer(config.to_dict())
    output.mkdir(parents=True)
    rows = 0
    for index, path in enumerate(sorted(corpus.glob("*.parquet"))):
        for start, batch in enumerate(pq.ParquetFile(path).iter_batches(batch_size=batch_size)):
            mixed = featurizer(pa.Table.from_batches([batch]))
            good = mixed.filter(pc.is_null(mixed.column("reason")))
            pq.write_table(good, output / f"part-{index}-{start}.parquet")
            rows += mixed.num_rows
    return rows


def run_bench(samples: int, batch_size: int = 32) -> float:
    config = load_config("tiny", [f"corpus.samples={samples}", "corpus.shard_rows=250"])
    work = Path(tempfile.mkdtemp(prefix="mmei-bench-data-"))
    try:
        corpus = work / "corpus"
        print(f"bench data: generating {samples} SYNTHETIC samples ...", flush=True)
        write_corpus(corpus, config.corpus, config.labels, config.features, progress=lambda _: None)

        start = time.perf_counter()
        rows = single_process(corpus, work / "single", config, batch_size)
        single_rate = rows / (time.perf_counter() - start)
        print(f"bench data: single process  {single_rate:7.1f} samples/s ({rows} rows)", flush=True)

        with ray_session(quiet=True):
            inputs = check_inputs(corpus, work / "ray")
            start = time.perf_counter()
            manifest = run_preparation(inputs, work / "ray", config, batch_size, echo=lambda _: None)
            ray_rate = manifest["rows_in"] / (time.perf_counter() - start)
        print(f"bench data: Ray Data        {ray_rate:7.1f} samples/s ({manifest['rows_in']} rows)", flush=True)
        ratio = ray_rate / single_rate
        print(f"bench data: ratio={ratio:.2f} (target >= {TARGET})", flush=True)
        return ratio
    finally:
        shutil.rmtree(work, ignore_errors=True)

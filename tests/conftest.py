"""Shared fixtures: one real local Ray cluster per session, and a small SYNTHETIC corpus."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "offline")

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def ray_cluster():
    """A real local Ray cluster; logical CPUs are scheduling tokens, so 4 on 2 cores is fine."""
    import ray

    ray.init(num_cpus=4, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory) -> Path:
    from mmei.pipelines.sources.synthetic import write_corpus
    from mmei.platform.config import load_config

    config = load_config("tiny", ["corpus.samples=240", "corpus.shard_rows=100"])
    out = tmp_path_factory.mktemp("corpus")
    write_corpus(out, config.corpus, config.labels, config.features, progress=lambda _: None)
    return out


@pytest.fixture(scope="session")
def corpus_rows(corpus_dir) -> list[dict]:
    import pyarrow.parquet as pq

    return pq.read_table(sorted(corpus_dir.glob("*.parquet"))).to_pylist()


@pytest.fixture(scope="session")
def features_dir(ray_cluster, corpus_dir, tmp_path_factory) -> Path:
    """The corpus prepared by Ray Data with the tiny config (shared by train/eval tests)."""
    from mmei.pipelines.prepare import prepare
    from mmei.platform.config import load_config

    out = tmp_path_factory.mktemp("features") / "features"
    prepare(corpus_dir, out, load_config("tiny"), echo=lambda _: None)
    return out

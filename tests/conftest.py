"""Shared fixtures: one real local Ray cluster per session, and a small SYNTHETIC corpus."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "offline")
# Read by the Serve ingress (serving tests set api_key_env to it). Set before ray.init,
# so every Ray worker process inherits it.
os.environ.setdefault("MMEI_TEST_API_KEY", "test-key")
# Lets a test hold one request inside an encoder replica (serving/fault_injection.py).
os.environ.setdefault("MMEI_FAULT_INJECTION", "1")

REPO_ROOT = Path(__file__).resolve().parents[1]


def pytest_collection_modifyitems(items):
    """Multi-node tests first: they start their own `ray start` cluster and stop it, and
    must be done before the session cluster starts (two Ray clusters on one machine
    confuse Ray Train's placement-group cleaner)."""
    items.sort(key=lambda item: item.get_closest_marker("multinode") is None)


@pytest.fixture(scope="session")
def ray_cluster():
    """A real local Ray cluster; logical CPUs are scheduling tokens, so 6 on 2 cores is fine."""
    import ray

    # The dashboard stays on: Ray Train v2 frees the placement groups of a trial Tune
    # stopped only once the State API (served by the dashboard) says its controller died.
    # 6 logical CPUs: the Serve graph (0.7) stays up for the whole session, and a Train
    # run that failed on purpose can hold its placement group for a while.
    from mmei.cluster.ray_session import LOCAL_CLUSTER_ENV

    os.environ.update(LOCAL_CLUSTER_ENV)  # what `mmei` sets for the clusters it starts
    ray.init(num_cpus=6, include_dashboard=True, dashboard_host="127.0.0.1", log_to_driver=False)
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


TRAINED_RUN_OVERRIDES = ["train.epochs=2", "train.batch_size=8", "train.warmup_ratio=0.15", "train.log_every=4"]


@pytest.fixture(scope="session")
def trained_run(features_dir, tmp_path_factory):
    """(run folder, TrainResult): ZeRO-2 on 2 workers, 2 epochs, never interrupted. One
    Ray Train run (~25 s here) shared by the training and evaluation tests."""
    from mmei.pipelines.train import run_training
    from mmei.platform.config import load_config

    out = tmp_path_factory.mktemp("trained-run")
    return out, run_training(load_config("tiny", TRAINED_RUN_OVERRIDES), features_dir, out, echo=lambda _: None)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def port_picker():
    """A function giving a free TCP port on 127.0.0.1."""
    return free_port


@pytest.fixture(scope="session")
def postgres_url():
    """A real PostgreSQL server on 127.0.0.1: .ci/run's (MMEI_TEST_POSTGRES_URL), or one
    started here by the same script. Without the `postgresql` package the tests skip,
    except where MMEI_REQUIRE_POSTGRES=1 (CI), where that is a failure."""
    import shutil
    import subprocess
    import tempfile

    if os.environ.get("MMEI_TEST_POSTGRES_URL"):
        yield os.environ["MMEI_TEST_POSTGRES_URL"]
        return
    script = REPO_ROOT / ".ci" / "postgres.sh"
    folder = Path(tempfile.mkdtemp(prefix="mmei-pg-"))
    folder.chmod(0o755)  # the server runs as `postgres` when we are root
    started = subprocess.run(["bash", str(script), "start", str(folder / "pg"), str(free_port())],
                             capture_output=True, text=True)
    if started.returncode != 0:
        message = f"no PostgreSQL server could be started: {started.stderr.strip()[-500:]}"
        if os.environ.get("MMEI_REQUIRE_POSTGRES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    yield started.stdout.strip().splitlines()[-1]
    subprocess.run(["bash", str(script), "stop", str(folder / "pg")], capture_output=True)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    """Every store test runs on an SQLite file and on a real PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    import sqlalchemy

    url = request.getfixturevalue("postgres_url")
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as connection:  # a clean schema per test
        for table in ("feedback", "user_profiles", "user_affect", "recommendations"):
            connection.execute(sqlalchemy.text(f"DROP TABLE IF EXISTS {table}"))
    engine.dispose()
    return url


def make_png_bomb(width: int, height: int) -> bytes:
    """A real 1-bit PNG of zeros: a few KB that decode to width × height pixels."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    compressor, parts = zlib.compressobj(9), []
    row = b"\x00" * (1 + (width + 7) // 8)
    for _ in range(height):
        parts.append(compressor.compress(row))
    parts.append(compressor.flush())
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b"")


@pytest.fixture(scope="session")
def png_bomb():
    """make_png_bomb(width, height): decompression bombs for the media-limit tests."""
    return make_png_bomb

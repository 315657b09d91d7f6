"""`mmei bench serve`: both Serve topologies against the same work in process, against
Serve's own floor, and against a two-worker FastAPI app.

Same models (a tiny MMEI bundle), same request (text + audio + frames from one
SYNTHETIC sample), same work per request (RecommendFlow: featurize, encode, fuse,
rank, log to SQLite), all on 127.0.0.1:
- graph, compact: the Serve application `mmei serve` deploys (`topology=`), over HTTP;
- in-process: the same classes called directly in this process (no HTTP);
- the floor of each (`floor=true`): every model replica answers with its first
  answer, so what remains is Serve's own cost for this shape of graph (proxy, hops,
  payloads of the real sizes) plus the store write; the same in process;
- single app: uvicorn with 2 worker processes hosting the same classes, over HTTP:
  the realistic single-machine alternative.
Latency is measured at concurrency 1, throughput at concurrency 16 (with its p99),
each after a warm-up. For each topology, `overhead_ms` is its p50 minus the
in-process p50 and `floor_ms` its floor's p50 minus the in-process floor's: their
ratio says how far our own code sits above what Serve costs anyway.
"""
from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Awaitable, Callable

import httpx
import numpy as np

from mmei.cluster.ray_session import ray_session
from mmei.pipelines.sources.synthetic import make_sample
from mmei.platform.bundle import save_bundle
from mmei.platform.config import load_config
from mmei.platform.models.build import build_model
from mmei.serving.config import ServeConfig, load_serve_config
from mmei.serving.in_process import InProcessGraph
from mmei.serving.launch import start, stop, wait_healthy

OVERHEAD_RATIO_TARGET, THROUGHPUT_TARGET = 1.25, 0.8
TOPOLOGIES = ("graph", "compact")


def sample_request(config) -> dict[str, Any]:
    """The first SYNTHETIC sample with all three modalities, as an API request."""
    for index in range(100):
        row = make_sample(index, "test", config.corpus, config.labels, config.features.sample_rate)
        if row["text"] and row["audio"] and row["frames"]:
            return {"user_id": "bench-user", "text": row["text"], "k": 10,
                    "audio": base64.b64encode(row["audio"]).decode(),
                    "frames": [base64.b64encode(frame).decode() for frame in row["frames"]]}
    raise RuntimeError("no SYNTHETIC sample with all modalities in the first 100")


async def measure(send: Callable[[], Awaitable[Any]], requests: int, concurrency: int) -> dict[str, float]:
    """Latencies (ms) and throughput of `requests` calls with `concurrency` in flight."""
    latencies: list[float] = []
    queue = iter(range(requests))

    async def worker() -> None:
        for _ in queue:
            started = time.perf_counter()
            await send()
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return {"p50": float(np.percentile(latencies, 50)), "p99": float(np.percentile(latencies, 99)),
            "rps": requests / elapsed}


async def http_sender(url: str, body: dict[str, Any], client: httpx.AsyncClient) -> Callable[[], Awaitable[Any]]:
    async def send() -> None:
        response = await client.post(f"{url}/v1/recommend", json=body)
        if response.status_code != 200:
            raise RuntimeError(f"{url}: {response.status_code} {response.text[:300]}")
    return send


async def profile(name: str, send: Callable[[], Awaitable[Any]], latency_n: int, throughput_n: int) -> dict[str, float]:
    await measure(send, 10, 1)  # warm-up
    latency = await measure(send, latency_n, 1)
    throughput = await measure(send, throughput_n, 16)
    result = {"p50": latency["p50"], "p99": latency["p99"], "rps16": throughput["rps"], "p99_16": throughput["p99"]}
    print(f"  {name:<17} p50 {result['p50']:7.1f} ms  p99 {result['p99']:7.1f} ms  "
          f"concurrency 16: {result['rps16']:6.1f} req/s, p99 {result['p99_16']:7.1f} ms", flush=True)
    return result


def run_bench(latency_requests: int = 100, throughput_requests: int = 320, port: int = 8765) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="mmei-bench-serve-"))
    config = load_config("tiny")
    bundle = save_bundle(build_model(config, pretrained=True).eval(), config, work / "bundle")
    body = sample_request(config)
    base = [f"bundle={bundle}", f"port={port}"]
    results: dict[str, dict[str, float]] = {}
    print(f"bench serve: {latency_requests} requests at concurrency 1, {throughput_requests} at 16; "
          "text + audio + frames; all on 127.0.0.1", flush=True)

    async def run_http(name: str, url: str) -> None:
        limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
        headers = ServeConfig().client_headers(os.environ)  # the servers below inherit the env, and its key
        async with httpx.AsyncClient(timeout=120, limits=limits, headers=headers) as client:
            results[name] = await profile(name, await http_sender(url, body, client), latency_requests,
                                          throughput_requests)

    for floor in (False, True):
        name = "in-process floor" if floor else "in-process"
        graph = InProcessGraph(load_serve_config(None, [*base, f"floor={floor}", f"store_url=sqlite:///{work}/{name}.db"]))
        results[name] = asyncio.run(profile(name, lambda: graph.recommend(body), latency_requests, throughput_requests))
        del graph

    env = {**os.environ, "MMEI_SINGLE_APP_ARGS": json.dumps([*base, f"store_url=sqlite:///{work}/single.db"])}
    single = subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory", "mmei.serving.single_app:create_app",
                               "--host", "127.0.0.1", "--port", str(port + 1), "--workers", "2", "--no-access-log",
                               "--log-level", "warning"], env=env)
    try:
        wait_healthy(f"http://127.0.0.1:{port + 1}", 180)
        asyncio.run(run_http("single app x2", f"http://127.0.0.1:{port + 1}"))
    finally:
        single.terminate()
        single.wait(timeout=30)

    with ray_session(quiet=True):
        for topology in TOPOLOGIES:
            for floor in (False, True):
                name = f"{topology}{' floor' if floor else ''}"
                url = start(load_serve_config(None, [*base, f"topology={topology}", f"floor={floor}",
                                                     f"store_url=sqlite:///{work}/{name.replace(' ', '-')}.db"]))
                try:
                    asyncio.run(run_http(name, url))
                finally:
                    stop()
    shutil.rmtree(work, ignore_errors=True)

    summary: dict[str, Any] = {"results": results}
    for topology in TOPOLOGIES:
        overhead = results[topology]["p50"] - results["in-process"]["p50"]
        floor_ms = results[f"{topology} floor"]["p50"] - results["in-process floor"]["p50"]
        summary[topology] = {"overhead_ms": overhead, "floor_ms": floor_ms, "ratio": overhead / floor_ms}
        print(f"bench serve-latency: topology={topology} overhead_ms={overhead:.1f} floor_ms={floor_ms:.1f} "
              f"ratio={overhead / floor_ms:.2f} (target <= {OVERHEAD_RATIO_TARGET:g})", flush=True)
    ratio = results["compact"]["rps16"] / results["single app x2"]["rps16"]
    summary["throughput_ratio"] = ratio
    print(f"bench serve: p99 at concurrency 16: compact {results['compact']['p99_16']:.0f} ms, graph "
          f"{results['graph']['p99_16']:.0f} ms, uvicorn x2 {results['single app x2']['p99_16']:.0f} ms", flush=True)
    print(f"bench serve-throughput: topology=compact ratio={ratio:.2f} (target >= {THROUGHPUT_TARGET:g})", flush=True)
    return summary

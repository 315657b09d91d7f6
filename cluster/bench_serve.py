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
each after a warm-up. Every figure is the median of `--rounds` (3) rounds that
alternate the systems, printed with its min and max, so a swing between runs shows as
noise rather than as a change. The last lines hold each target and whether it is met.
For each topology, `overhead_ms` is its p50 minus the in-process p50 and `floor_ms`
its floor's p50 minus the in-process floor's: their ratio says how far our own code
sits above what Serve costs anyway.
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
from mmei.serving.launch import wait_healthy

OVERHEAD_RATIO_TARGET = 1.25  # each topology's overhead over Serve's own floor, on the median
THROUGHPUT_TARGETS = {"compact": 1.0, "graph": 0.8}  # req/s at concurrency 16 vs uvicorn x2
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


def spread(results: list[dict[str, float]], key: str) -> tuple[float, float, float]:
    """Median, min and max of one figure over the rounds."""
    values = [r[key] for r in results]
    return float(np.median(values)), min(values), max(values)


def figure(results: list[dict[str, float]], key: str, unit: str = "") -> str:
    median, low, high = spread(results, key)
    return f"{median:.1f}{unit} [{low:.1f}-{high:.1f}]"


SERVE_SYSTEMS = tuple((topology, floor) for topology in TOPOLOGIES for floor in (False, True))


def deploy(base: list[str], port: int, work: Path, topology: str, floor: bool) -> tuple[str, str]:
    """One system as its own Serve app, alone on the instance while it is measured: idle
    apps beside it are not free here (with all four deployed side by side, compact fell
    from 34 to 24 req/s and graph from 29 to 19)."""
    from ray import serve

    from mmei.serving.app import application

    name = f"{topology}{' floor' if floor else ''}"
    slug = name.replace(" ", "-")
    config = load_serve_config(None, [*base, f"topology={topology}", f"floor={floor}",
                                      f"store_url=sqlite:///{work}/{slug}.db"])
    serve.run(application(config), name=slug, route_prefix=f"/{slug}", logging_config={"enable_access_log": False})
    url = f"http://127.0.0.1:{port}/{slug}"
    wait_healthy(url, 180)
    return slug, url


def start_serve(port: int) -> None:
    """One Serve instance for every round: apps come and go on it (a serve.delete takes
    3 s), but Serve itself is started once."""
    from ray import serve

    from mmei.serving.drain import create_switch

    serve.start(http_options={"host": "127.0.0.1", "port": port}, logging_config={"enable_access_log": False})
    create_switch()


def history_read(work: Path, sizes: tuple[int, ...] = (10, 10_000), reads: int = 200) -> dict[int, float]:
    """The ranker's per-request read of a user's affect history (one row of sums, O(1)),
    after `size` requests logged for that user through the serving store's own write."""
    from mmei.platform.store import Store

    costs = {}
    for size in sizes:
        store = Store(f"sqlite:///{work}/history-{size}.db")
        for n in range(size):
            store.log_recommendation(f"r{n}", "heavy-user", "control", "congruent", ["a", "b", "c"], "joy", "relax",
                                     created_at=float(n), matched_items=["a"])
        started = time.perf_counter()
        for _ in range(reads):
            store.user_affect("heavy-user")
        costs[size] = (time.perf_counter() - started) / reads * 1000
        store.close()
    small, large = sizes[0], sizes[-1]
    print(f"bench serve-history: read at {large:,} logged requests {costs[large]:.3f} ms, at {small} "
          f"{costs[small]:.3f} ms: ratio={costs[large] / costs[small]:.2f} (O(1): about 1)", flush=True)
    return costs


def run_bench(latency_requests: int = 100, throughput_requests: int = 320, port: int = 8765,
              rounds: int = 3) -> dict[str, Any]:
    """Every figure is the median of `rounds` alternating rounds (each round measures every
    system once, in the same order), printed with its min and max."""
    work = Path(tempfile.mkdtemp(prefix="mmei-bench-serve-"))
    config = load_config("tiny")
    bundle = save_bundle(build_model(config, pretrained=True).eval(), config, work / "bundle")
    body = sample_request(config)
    base = [f"bundle={bundle}", f"port={port}"]
    results: dict[str, list[dict[str, float]]] = {}
    print(f"bench serve: {rounds} alternating rounds; each {latency_requests} requests at concurrency 1, "
          f"{throughput_requests} at 16; text + audio + frames; all on 127.0.0.1", flush=True)
    headers = ServeConfig().client_headers(os.environ)  # the servers below inherit the env, and its key

    async def run_http(name: str, url: str) -> None:
        limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
        async with httpx.AsyncClient(timeout=120, limits=limits, headers=headers) as client:
            results.setdefault(name, []).append(
                await profile(name, await http_sender(url, body, client), latency_requests, throughput_requests))

    env = {**os.environ, "MMEI_SINGLE_APP_ARGS": json.dumps([*base, f"store_url=sqlite:///{work}/single.db"])}
    single = subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory", "mmei.serving.single_app:create_app",
                               "--host", "127.0.0.1", "--port", str(port + 1), "--workers", "2", "--no-access-log",
                               "--log-level", "warning"], env=env)
    try:
        wait_healthy(f"http://127.0.0.1:{port + 1}", 180)
        with ray_session(quiet=True):
            from ray import serve

            start_serve(port)
            for number in range(rounds):
                print(f"round {number + 1}/{rounds}", flush=True)
                for floor in (False, True):
                    name = "in-process floor" if floor else "in-process"
                    graph = InProcessGraph(load_serve_config(
                        None, [*base, f"floor={floor}", f"store_url=sqlite:///{work}/in-process-{floor}.db"]))
                    results.setdefault(name, []).append(asyncio.run(
                        profile(name, lambda: graph.recommend(body), latency_requests, throughput_requests)))
                    del graph
                asyncio.run(run_http("single app x2", f"http://127.0.0.1:{port + 1}"))
                for topology, floor in SERVE_SYSTEMS:
                    slug, url = deploy(base, port, work, topology, floor)
                    asyncio.run(run_http(slug.replace("-", " "), url))
                    serve.delete(slug)
            # no serve.shutdown: the session's end stops Serve with the cluster, at once
    finally:
        single.terminate()
        single.wait(timeout=30)
    summary = summarise(results)
    summary["history_read_ms"] = history_read(work)
    shutil.rmtree(work, ignore_errors=True)
    return summary


def summarise(results: dict[str, list[dict[str, float]]]) -> dict[str, Any]:
    """The medians, their spread, and the target lines."""
    median = {name: {key: spread(runs, key)[0] for key in runs[0]} for name, runs in results.items()}
    print(f"\nmedian [min-max] of {len(next(iter(results.values())))} rounds:", flush=True)
    for name, runs in results.items():
        print(f"  {name:<17} p50 {figure(runs, 'p50', ' ms')}  p99 {figure(runs, 'p99', ' ms')}  "
              f"concurrency 16: {figure(runs, 'rps16', ' req/s')}, p99 {figure(runs, 'p99_16', ' ms')}", flush=True)
    summary: dict[str, Any] = {"results": results, "median": median}
    uvicorn = median["single app x2"]
    for topology in TOPOLOGIES:
        overhead = median[topology]["p50"] - median["in-process"]["p50"]
        floor_ms = median[f"{topology} floor"]["p50"] - median["in-process floor"]["p50"]
        ratio = overhead / floor_ms
        throughput = median[topology]["rps16"] / uvicorn["rps16"]
        summary[topology] = {"overhead_ms": overhead, "floor_ms": floor_ms, "ratio": ratio,
                             "throughput_ratio": throughput, "p99_16_ms": median[topology]["p99_16"]}
        print(f"bench serve-latency: topology={topology} overhead_ms={overhead:.1f} floor_ms={floor_ms:.1f} "
              f"ratio={ratio:.2f} (target <= {OVERHEAD_RATIO_TARGET:g}: {verdict(ratio <= OVERHEAD_RATIO_TARGET)})",
              flush=True)
    for topology in TOPOLOGIES:
        ratio, target = summary[topology]["throughput_ratio"], THROUGHPUT_TARGETS[topology]
        print(f"bench serve-throughput: topology={topology} ratio={ratio:.2f} vs uvicorn x2 "
              f"(target >= {target:g}: {verdict(ratio >= target)})", flush=True)
    for topology in TOPOLOGIES:
        p99 = summary[topology]["p99_16_ms"]
        print(f"bench serve-p99: topology={topology} p99_16={p99:.0f} ms, uvicorn x2 {uvicorn['p99_16']:.0f} ms "
              f"(target <= uvicorn's: {verdict(p99 <= uvicorn['p99_16'])})", flush=True)
    return summary


def verdict(met: bool) -> str:
    return "met" if met else "missed"

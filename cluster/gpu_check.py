"""`make gpu-check`: proves the GPU path on a machine with CUDA GPUs, in under 8 minutes.

Everything goes through the real CLI, on the SYNTHETIC corpus:
1. `mmei train` with Ray Train + DeepSpeed bf16 at ZeRO-2 and at ZeRO-3, on 1 GPU worker
   (2 when there are 2+ GPUs), about 100 optimizer steps each: the loss must fall and
   no step may be skipped (read from each run's steps.jsonl).
2. A ZeRO-2 run killed with SIGKILL (driver and its local Ray cluster) after its first
   epoch, then `mmei train --resume`: it must finish with the epochs continuing.
3. `mmei serve` with GPU replicas (batching on), answering /v1/recommend under 16
   concurrent clients.

Prints `gpu-check: train zero2 samples/s=… mfu=… peak_mem_gb=…` and
`gpu-check: serve p50_ms=… p99_ms=… rps=…`; exits 1 on the first failed check.
Without CUDA: `gpu-check: skipped (no CUDA device)`, exit 0. `--cpu-dry-run` runs the
same steps on the CPU (fp32, small) to check the script itself.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SAMPLES = 1600
TARGET_STEPS = 100


class CheckFailed(RuntimeError):
    pass


def say(message: str) -> None:
    print(f"gpu-check: {message}", flush=True)


def mmei(*args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "mmei.cluster.cli", *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise CheckFailed(f"`mmei {' '.join(args)}` exited {result.returncode}:\n{result.stderr[-3000:]}")
    return result


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def train_settings(gpu: bool, workers: int, stage: int, train_rows: int) -> list[str]:
    batch = 24 if gpu else 8
    steps_per_epoch = max(1, train_rows // workers // batch)
    epochs = max(2, math.ceil(TARGET_STEPS / steps_per_epoch)) if gpu else 3
    log_every = max(1, steps_per_epoch * epochs // 12)  # about 12 step records: enough to judge the loss
    settings = [f"train.zero_stage={stage}", f"train.num_workers={workers}", f"train.batch_size={batch}",
                f"train.epochs={epochs}", f"train.log_every={log_every}", "train.warmup_ratio=0.1"]
    if gpu:
        settings += ["train.use_gpu=true", "train.precision=bf16", "train.cpus_per_worker=1"]
    return settings


def check_training(run: Path, label: str) -> dict:
    records = read_jsonl(run / "steps.jsonl")
    steps = [r for r in records if not r.get("epoch_end")]
    if len(steps) < 4:
        raise CheckFailed(f"{label}: only {len(steps)} step records in {run / 'steps.jsonl'}")
    first, last = statistics.mean(r["loss"] for r in steps[:3]), statistics.mean(r["loss"] for r in steps[-3:])
    skipped = max(r["skipped_steps"] for r in records)
    if skipped:
        raise CheckFailed(f"{label}: {skipped} optimizer steps skipped (non-finite gradients)")
    if not last < 0.95 * first:
        raise CheckFailed(f"{label}: the loss did not fall: {first:.4f} → {last:.4f}")
    epochs = [r for r in records if r.get("epoch_end")]
    summary = {"steps": steps[-1]["step"], "loss_first": first, "loss_last": last,
               "samples_per_s": epochs[-1]["samples_per_s"], "mfu": steps[-1].get("mfu"),
               "peak_mem_gb": max((r.get("peak_mem_gb") or 0.0) for r in steps)}
    return summary


def train_line(label: str, summary: dict) -> str:
    mfu = f"{summary['mfu']:.3f}" if summary["mfu"] is not None else "n/a"
    return (f"train {label} samples/s={summary['samples_per_s']:.0f} mfu={mfu} "
            f"peak_mem_gb={summary['peak_mem_gb']:.2f} steps={summary['steps']} "
            f"loss {summary['loss_first']:.3f}→{summary['loss_last']:.3f}")


def kill_and_resume(work: Path, settings: list[str]) -> None:
    """SIGKILL the whole `mmei train` process group once its first checkpoint is written, then --resume."""
    run = work / "train-killed"
    command = [sys.executable, "-m", "mmei.cluster.cli", "train", "--data", str(work / "features"),
               "--output", str(run), *settings]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 420
    while not list((run / "ray" / "train").glob("checkpoint_*/train_state.json")):  # the first epoch's checkpoint
        if process.poll() is not None:
            raise CheckFailed(f"the run to kill ended by itself (exit {process.returncode}) before its first epoch")
        if time.monotonic() > deadline:
            os.killpg(process.pid, signal.SIGKILL)
            raise CheckFailed("no epoch finished within 7 minutes")
        time.sleep(1)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=60)
    killed_at = max(r["step"] for r in read_jsonl(run / "steps.jsonl"))
    if not (run / "ray" / "train").exists():
        raise CheckFailed("the killed run left no checkpoint to resume from")
    mmei("train", "--data", str(work / "features"), "--output", str(run), "--resume", *settings)
    history = json.loads((run / "history.json").read_text())
    steps = [r["step"] for r in read_jsonl(run / "steps.jsonl") if not r.get("epoch_end")]  # epoch ends repeat a step
    if steps != sorted(steps) or len(set(steps)) != len(steps) or steps[-1] <= killed_at:
        raise CheckFailed(f"resumed step numbers do not continue: killed at {killed_at}, now {steps}")
    say(f"kill and resume: killed at step {killed_at}, resumed to step {steps[-1]}, {len(history)} epochs")


async def load(url: str, requests: int, concurrency: int) -> tuple[list[float], float]:
    import httpx

    latencies: list[float] = []
    queue = list(range(requests))
    texts = ["I could use something calming", "this is amazing, show me more", "I am so angry right now",
             "teach me how to paint"]

    async def client(session: httpx.AsyncClient) -> None:
        while queue:
            i = queue.pop()
            started = time.perf_counter()
            response = await session.post(f"{url}/v1/recommend", json={"user_id": f"u{i % 50}",
                                                                       "text": texts[i % 4], "k": 5})
            if response.status_code != 200:
                raise CheckFailed(f"/v1/recommend answered {response.status_code}: {response.text[:300]}")
            latencies.append((time.perf_counter() - started) * 1000)

    from mmei.serving.config import ServeConfig

    headers = ServeConfig().client_headers(os.environ)  # `mmei serve` below inherits the env, and its key
    async with httpx.AsyncClient(timeout=60, headers=headers) as session:
        started = time.perf_counter()
        await asyncio.gather(*(client(session) for _ in range(concurrency)))
        return latencies, time.perf_counter() - started


def check_serving(work: Path, bundle: Path, gpu: bool) -> None:
    import httpx

    port = 8000 + os.getpid() % 1000
    settings = [f"replicas.gpus_per_encoder={0.2 if gpu else 0}", f"store_url=sqlite:///{work / 'serve.db'}"]
    process = subprocess.Popen([sys.executable, "-m", "mmei.cluster.cli", "serve", "--bundle", str(bundle),
                                "--port", str(port), *settings], stdout=subprocess.DEVNULL,
                               stderr=open(work / "serve.log", "w"), start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise CheckFailed(f"mmei serve did not come up; see {work / 'serve.log'}")
            time.sleep(2)
        asyncio.run(load(url, 32, 4))  # warm-up
        latencies, seconds = asyncio.run(load(url, 320, 16))
        latencies.sort()
        p50, p99 = latencies[len(latencies) // 2], latencies[int(0.99 * (len(latencies) - 1))]
        say(f"serve p50_ms={p50:.1f} p99_ms={p99:.1f} rps={len(latencies) / seconds:.1f} (concurrency 16)")
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def run(gpu: bool, keep: bool) -> int:
    import torch

    work = Path(tempfile.mkdtemp(prefix="mmei-gpu-check-"))
    started = time.monotonic()
    try:
        gpus = torch.cuda.device_count() if gpu else 0
        workers = 2 if gpus >= 2 or not gpu else 1
        say(f"{gpus} CUDA device(s): {torch.cuda.get_device_name(0) if gpu else 'CPU dry run'}; "
            f"{workers} training worker(s); work in {work}")
        mmei("data", "synth", "--output", str(work / "corpus"), "--samples", str(SAMPLES if gpu else 240))
        mmei("data", "prepare", "--input", str(work / "corpus"), "--output", str(work / "features"))
        train_rows = json.loads((work / "features" / "manifest.json").read_text())["rows_out"] * 8 // 10
        for stage in (2, 3):
            settings = train_settings(gpu, workers, stage, train_rows)
            mmei("train", "--data", str(work / "features"), "--output", str(work / f"train-zero{stage}"), *settings)
            say(train_line(f"zero{stage}", check_training(work / f"train-zero{stage}", f"ZeRO-{stage}")))
        kill_and_resume(work, train_settings(gpu, workers, 2, train_rows))
        check_serving(work, work / "train-zero2" / "bundle", gpu)
        say(f"passed in {time.monotonic() - started:.0f}s")
        return 0
    except CheckFailed as error:
        say(f"FAILED after {time.monotonic() - started:.0f}s: {error}")
        return 1
    finally:
        if keep:
            say(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gpu-check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--cpu-dry-run", action="store_true", help="run every step on the CPU, small, fp32")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)
    import torch

    if not args.cpu_dry_run and not torch.cuda.is_available():
        say("skipped (no CUDA device)")
        return 0
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("WANDB_MODE", "offline")
    return run(gpu=not args.cpu_dry_run, keep=args.keep)


if __name__ == "__main__":
    sys.exit(main())

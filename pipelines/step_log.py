"""Step-level training numbers, kept without a host sync per step, and RUN/steps.jsonl.

Running sums live on the engine's device and are all-reduced on that device: with
`use_gpu`, Ray Train's process group is NCCL, which takes CUDA tensors only, so a
CPU tensor in a collective crashes the run (CPU tests can't see that unless they
check the device; tests/pipelines/test_step_log.py does). They are read on the host
once per log interval and once per epoch.

steps.jsonl has one JSON object per logged step: step, epoch, loss, lr (per group),
grad_norm, skipped_steps, samples_per_s, and on GPU peak_mem_gb and mfu. A resumed
run first drops the records past its checkpoint, so step numbers continue.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

# Dense bf16 peak per GPU, for the MFU estimate (train.peak_tflops overrides).
PEAK_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "A10G": 125.0, "L4": 121.0,
               "A10": 125.0, "RTX 4090": 165.0}


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """Sum across ranks, in place, on the tensor's own device; a no-op outside a process group."""
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


class RunningSums:
    """loss, batches and samples since the last read, on `device`."""

    def __init__(self, device: torch.device):
        self.values = torch.zeros(3, dtype=torch.float64, device=device)

    def add(self, loss: torch.Tensor, samples: int) -> None:
        self.values[0] += loss.detach().to(torch.float64)
        self.values[1] += 1
        self.values[2] += samples

    def read_global(self) -> dict[str, float]:
        """Every rank's sums added up (a collective: all ranks call it together), then reset."""
        loss, batches, samples = all_reduce_sum(self.values).tolist()  # the one host sync
        self.values.zero_()
        return {"loss": loss / max(batches, 1.0), "batches": batches, "samples": samples}


def peak_flops(device: torch.device, override_tflops: float = 0.0) -> float | None:
    """Peak FLOP/s of one device, or None where unknown (CPU, unlisted GPUs)."""
    if override_tflops:
        return override_tflops * 1e12
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((tflops * 1e12 for key, tflops in PEAK_TFLOPS.items() if key in name), None)


@torch.no_grad()
def flops_per_sample(probe: torch.nn.Module, batch: dict[str, torch.Tensor]) -> float:
    """Training FLOPs per sample: one counted forward pass of `probe` (a throwaway copy
    of the model, moved to the CPU here) on one row, times 3 (backward costs about
    twice the forward). In eval mode: no randomness drawn, no training state touched."""
    from torch.utils.flop_counter import FlopCounterMode

    probe = probe.float().cpu().eval()
    one = {key: value[:1].cpu().float() if value.is_floating_point() else value[:1].cpu() for key, value in batch.items()}
    with FlopCounterMode(display=False) as counter:
        probe(one)
    return 3.0 * counter.get_total_flops()


def gpu_stats(device: torch.device) -> dict[str, float]:
    if device.type != "cuda":
        return {}
    return {"peak_mem_gb": torch.cuda.max_memory_allocated(device) / 2**30}


class StepLog:
    """Appends step records to RUN/steps.jsonl (rank 0 only)."""

    def __init__(self, path: Path, resume_from_step: int):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        kept = []
        if path.exists():  # a resumed or restarted run: forget steps the checkpoint does not hold
            kept = [line for line in path.read_text().splitlines()
                    if line.strip() and json.loads(line)["step"] <= resume_from_step]
        path.write_text("".join(f"{line}\n" for line in kept))

    def append(self, record: dict[str, Any]) -> None:
        with self.path.open("a") as handle:
            handle.write(json.dumps(record) + "\n")


def read_steps(path: Path) -> list[dict[str, Any]]:
    """The records of a steps.jsonl, tolerating a last line still being written."""
    records = []
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                break
    return records

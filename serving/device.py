"""Where a replica computes: its GPU when Serve gave it one, else the CPU.

Tensors go to that device for the model and come back to the CPU before numpy, so
one code path serves both (tests run it on the CPU).
"""
from __future__ import annotations

import torch


def replica_device() -> torch.device:
    """cuda when this replica was granted a GPU (Ray sets CUDA_VISIBLE_DEVICES for it)."""
    import ray

    if torch.cuda.is_available() and ray.is_initialized() and ray.get_gpu_ids():
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def to_device(tensors: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {key: value.to(device, non_blocking=True) for key, value in tensors.items()}


def uses_batching(batching: str, device: torch.device) -> bool:
    """replicas.batching: auto batches on GPU replicas only; always / never force it."""
    if batching not in ("auto", "always", "never"):
        raise ValueError(f"replicas.batching must be auto, always or never, got {batching!r}")
    return batching == "always" or (batching == "auto" and device.type == "cuda")

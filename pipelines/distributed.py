"""What Ray Train and DeepSpeed are told, generated from our TrainConfig.

Kept apart from the training loop so the GPU preset's settings can be checked
without a GPU, and so the loop reads top to bottom.
"""
from __future__ import annotations

import importlib
import math
from typing import Any

from mmei.platform.config import TrainConfig


def scaling_config(train: TrainConfig):
    """Ray Train's ScalingConfig (imported here: the DeepSpeed half of this module is
    used where Ray is absent, e.g. a bare GPU box checking the base preset)."""
    from ray.train import ScalingConfig

    resources = {"CPU": train.cpus_per_worker}
    if train.use_gpu:
        resources["GPU"] = train.gpus_per_worker
    return ScalingConfig(num_workers=train.num_workers, use_gpu=train.use_gpu, resources_per_worker=resources,
                         placement_strategy=train.placement_strategy)


def steps_per_epoch(train: TrainConfig, train_rows: int) -> int:
    """Optimizer steps per epoch: rows are split evenly across workers."""
    per_worker = train_rows // train.num_workers
    return max(1, math.ceil(per_worker / train.batch_size) // train.grad_accum)


def deepspeed_config(train: TrainConfig) -> dict[str, Any]:
    """ZeRO stage, precision, accumulation and clipping.

    The optimizer and the schedule are not here: they are client objects built by
    `pipelines/recipe.py` (parameter groups with their own learning rates), so no
    DeepSpeed optimizer op is compiled at worker start.
    """
    return {
        "train_micro_batch_size_per_gpu": train.batch_size,
        "gradient_accumulation_steps": train.grad_accum,
        "gradient_clipping": train.clip,
        "zero_optimization": {"stage": train.zero_stage},
        "bf16": {"enabled": train.dtype == "bf16"},
        "steps_per_print": 1 << 30,
        "wall_clock_breakdown": False,
    }


def disable_cpu_jit_ops() -> None:
    """Keep DeepSpeed from JIT-compiling its shared-memory comm op on CPU (~100 s, 3 GiB)."""
    importlib.import_module("deepspeed.ops").__compatible_ops__["deepspeed_shm_comm"] = False

"""No code from checkpoints: every `torch.load` of a run's files reads tensors and plain data only.

DeepSpeed's `load_checkpoint` and `zero_to_fp32` call `torch.load(weights_only=False)`
themselves, so a replaced `.pt` file in a run folder ran its payload on the next
`--resume` or export. `weights_only_loads()` sets torch's own switch,
TORCH_FORCE_WEIGHTS_ONLY_LOAD, which overrides what the caller passed, and allows the
few plain DeepSpeed classes its checkpoints hold (found with
`torch.serialization.get_unsafe_globals_in_checkpoint` on ZeRO-1/2/3 checkpoints).
Anything else in a checkpoint is refused, naming the global.

What this cannot cover: Tune's experiment state is a cloudpickle, so a sweep folder is
code. `check_not_world_writable` refuses to resume one that anyone may write to.
"""
from __future__ import annotations

import importlib
import os
import stat
from pathlib import Path

from mmei.platform.errors import UserInputError

DEEPSPEED_CHECKPOINT_CLASSES = (
    "deepspeed.runtime.fp16.loss_scaler.LossScaler",
    "deepspeed.runtime.fp16.loss_scaler.DynamicLossScaler",  # fp16 on GPUs
    "deepspeed.runtime.zero.config.ZeroStageEnum",
    "deepspeed.utils.tensor_fragment.fragment_address",
)


def weights_only_loads() -> None:
    """For this process (a training worker, or the driver before an export): idempotent."""
    import torch

    os.environ["TORCH_FORCE_WEIGHTS_ONLY_LOAD"] = "1"
    allowed = []
    for dotted in DEEPSPEED_CHECKPOINT_CLASSES:
        module, name = dotted.rsplit(".", 1)
        try:
            allowed.append(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):  # another DeepSpeed version: its checkpoints will say what they need
            continue
    torch.serialization.add_safe_globals(allowed)


def check_not_world_writable(folder: Path) -> None:
    """A folder whose pickles anyone may replace is refused before anything in it is loaded."""
    open_to_all = []
    for path in [folder, *folder.rglob("*")]:
        if path.is_symlink():
            continue
        if path.stat().st_mode & stat.S_IWOTH:
            open_to_all.append(str(path))
    if open_to_all:
        raise UserInputError(f"{folder} holds files anyone may write ({', '.join(open_to_all[:3])}"
                             f"{', ...' if len(open_to_all) > 3 else ''}): a sweep's state is code (Tune pickles it), "
                             f"so it is not resumed from there; chmod o-w -R {folder} if you trust its contents")

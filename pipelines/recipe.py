"""The fine-tuning recipe: parameter groups, the optimizer and the learning-rate schedule.

A pretrained encoder (BERT, Wav2Vec2, ViT: any `transformers.PreTrainedModel` inside
the model) fine-tunes at `train.encoder_lr`, a rate that keeps what it learned in
pre-training; everything trained from scratch (projections, fusion, heads, the conv
and CNN encoders) learns at `train.lr`. Biases and norm weights (every tensor with
fewer than two dimensions) get no weight decay. With `train.layer_decay < 1`, each
pretrained layer below the top learns more slowly (layer-wise learning-rate decay).

The schedule is a linear warmup over `train.warmup_ratio` of all optimizer steps,
then a linear decay to 0, so it scales with the data instead of a fixed step count.

DeepSpeed gets these as a client optimizer and scheduler (torch's AdamW, fused on
CUDA), so no DeepSpeed op is ever JIT-compiled at worker start, on CPU or GPU.
"""
from __future__ import annotations

import re
from typing import Any, Callable

import torch
from torch import nn

from mmei.platform.config import TrainConfig

_LAYER = re.compile(r"(?:^|\.)(?:encoder\.)?layers?\.(\d+)\.")
_BOTTOM = ("embeddings", "feature_extractor", "feature_projection", "masked_spec_embed")


def pretrained_modules(model: nn.Module) -> dict[str, nn.Module]:
    """Name → every outermost `transformers.PreTrainedModel` inside `model`."""
    from transformers import PreTrainedModel

    found: dict[str, nn.Module] = {}
    for name, module in model.named_modules():
        if isinstance(module, PreTrainedModel) and not any(name.startswith(f"{outer}.") for outer in found):
            found[name] = module
    return found


def layer_depth(name: str, layers: int) -> int:
    """0 for embeddings and the feature encoder, i + 1 for transformer layer i, layers + 1 above."""
    match = _LAYER.search(name)
    if match:
        return int(match.group(1)) + 1
    if name.startswith(_BOTTOM):
        return 0
    return layers + 1


def parameter_groups(model: nn.Module, train: TrainConfig) -> list[dict[str, Any]]:
    """AdamW parameter groups, each with `lr`, `weight_decay` and a readable `name`.

    Frozen parameters are left out. Groups with equal settings are merged, so the
    count stays small whatever the depth.
    """
    groups: dict[tuple[str, float, float], dict[str, Any]] = {}

    def add(parameter: nn.Parameter, kind: str, lr: float) -> None:
        decay = 0.0 if parameter.ndim < 2 else train.weight_decay
        key = (kind, lr, decay)
        if key not in groups:
            groups[key] = {"name": f"{kind}{'' if decay else '_no_decay'}", "params": [], "lr": lr,
                           "weight_decay": decay}
        groups[key]["params"].append(parameter)

    owned: set[int] = set()
    for prefix, module in pretrained_modules(model).items():
        layers = int(getattr(module.config, "num_hidden_layers", 0) or 0)
        for name, parameter in module.named_parameters():
            owned.add(id(parameter))
            if not parameter.requires_grad:
                continue
            depth = min(layer_depth(name, layers), layers + 1)
            scale = train.layer_decay ** max(0, layers - depth) if layers else 1.0
            kind = "encoder" if scale == 1.0 else f"encoder_depth{depth}"
            add(parameter, kind, train.encoder_lr * scale)
    for parameter in model.parameters():
        if id(parameter) not in owned and parameter.requires_grad:
            add(parameter, "head", train.lr)
    return list(groups.values())


class WarmupLinearDecay:
    """LambdaLR factor: 0 → 1 over `warmup` steps, then 1 → 0 at `total` steps.

    A class rather than a closure so DeepSpeed can save and restore it with the
    scheduler's state in every checkpoint.
    """

    def __init__(self, total: int, warmup: int):
        self.total = max(1, total)
        self.warmup = max(0, min(warmup, self.total - 1))

    def __call__(self, step: int) -> float:
        if step < self.warmup:
            return (step + 1) / (self.warmup + 1)
        return max(0.0, (self.total - step) / max(1, self.total - self.warmup))


def warmup_steps(train: TrainConfig, total_steps: int) -> int:
    return int(round(train.warmup_ratio * total_steps))


def make_optimizer(train: TrainConfig, on_cuda: bool) -> Callable[[list[dict[str, Any]]], torch.optim.Optimizer]:
    """What DeepSpeed calls with the parameter groups: torch AdamW, fused on CUDA."""
    def build(groups: list[dict[str, Any]]) -> torch.optim.Optimizer:
        return torch.optim.AdamW(groups, lr=train.lr, weight_decay=train.weight_decay, fused=on_cuda or None)

    return build


def make_scheduler(train: TrainConfig, total_steps: int) -> Callable[[torch.optim.Optimizer], Any]:
    """What DeepSpeed calls with its (possibly ZeRO-wrapped) optimizer."""
    def build(optimizer: torch.optim.Optimizer) -> torch.optim.lr_scheduler.LambdaLR:
        return torch.optim.lr_scheduler.LambdaLR(optimizer, WarmupLinearDecay(total_steps, warmup_steps(train, total_steps)))

    return build

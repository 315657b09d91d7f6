"""Test-time perturbations of feature batches: modality ablation and robustness.

Pure functions of (batch, level, seed): the same call gives the same perturbed batch,
so ablation and robustness numbers are reproducible.
- drop: mark modalities absent (what a request without audio looks like);
- gaussian noise on audio and visual features, in their normalised units;
- token dropout on text: a share of the real tokens (not [CLS]) is masked out.
"""
from __future__ import annotations

import torch

from mmei.platform.config import MODALITIES


def drop_modalities(batch: dict[str, torch.Tensor], dropped: tuple[str, ...]) -> dict[str, torch.Tensor]:
    present = batch["present"].clone()
    for modality in dropped:
        present[:, MODALITIES.index(modality)] = False
    return {**batch, "present": present}


def add_noise(batch: dict[str, torch.Tensor], sigma: float, seed: int) -> dict[str, torch.Tensor]:
    if sigma <= 0:
        return batch
    generator = torch.Generator().manual_seed(seed)
    noisy = dict(batch)
    for key in ("audio", "frames"):
        noisy[key] = batch[key] + sigma * torch.randn(batch[key].shape, generator=generator, dtype=batch[key].dtype)
    return noisy


def drop_tokens(batch: dict[str, torch.Tensor], rate: float, seed: int) -> dict[str, torch.Tensor]:
    if rate <= 0:
        return batch
    generator = torch.Generator().manual_seed(seed)
    mask = batch["attention_mask"].clone()
    droppable = mask.bool()
    droppable[:, 0] = False  # keep [CLS]
    drop = (torch.rand(mask.shape, generator=generator) < rate) & droppable
    mask[drop] = 0
    return {**batch, "attention_mask": mask}

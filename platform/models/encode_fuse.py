"""The forward MMEI and its baselines share: encode, hide modalities in training, fuse.

Serve runs the encoders and `fuse` as separate deployments, so each model's own work
lives in `fuse`; `forward` is the same for every model and is written once here.
"""
from __future__ import annotations

import torch
from torch import nn

from mmei.platform.config import MODALITIES
from mmei.platform.models.modality_dropout import drop_modalities
from mmei.platform.models.output import ModelOutput


class EncodeThenFuse(nn.Module):
    """Subclasses set `modalities`, `encoders` (one per modality) and `modality_dropout`,
    and implement `fuse`."""

    modalities: tuple[str, ...]
    encoders: nn.ModuleDict
    modality_dropout: float

    def forward(self, batch: dict[str, torch.Tensor]) -> ModelOutput:
        present = batch["present"].bool()[:, [MODALITIES.index(m) for m in self.modalities]]
        if self.training:
            present = drop_modalities(present, self.modality_dropout)
        return self.fuse({m: self.encoders[m](batch) for m in self.modalities}, present)

    def fuse(self, encoded: dict[str, tuple[torch.Tensor, torch.Tensor]], present: torch.Tensor) -> ModelOutput:
        """Encoder outputs (tokens, valid) per modality and the (B, len(modalities))
        presence mask → heads."""
        raise NotImplementedError

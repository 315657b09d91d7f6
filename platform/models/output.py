"""What every model's forward returns, whatever its type."""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class ModelOutput:
    logits: dict[str, torch.Tensor]  # head name → (B, classes); "score" → (B, 1), the sentiment score
    fusion_weights: torch.Tensor  # (B, 3) over (text, audio, visual); 0 where absent or unused
    fused: torch.Tensor | None = None  # (B, hidden) joint representation, where the model has one

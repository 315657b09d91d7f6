"""Joint objective: the sum of the per-head cross-entropies, skipping unlabelled rows."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from mmei.platform.labels import HEADS, IGNORE_INDEX
from mmei.platform.models.output import ModelOutput


def joint_loss(output: ModelOutput, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
    total = output.fusion_weights.new_zeros(())
    parts = {}
    for head in HEADS:
        labels = batch[head].long()
        if (labels != IGNORE_INDEX).any():
            loss = F.cross_entropy(output.logits[head].float(), labels, ignore_index=IGNORE_INDEX)
            total = total + loss
            parts[head] = float(loss.detach())
    return total, parts

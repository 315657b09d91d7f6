"""Joint objective: the sum over heads of each head's mean cross-entropy over its labelled rows.

Every head always adds a term, 0 when a batch has no labels for it, instead of being
skipped: a data-dependent branch would sync with the device every step, and ranks
whose batches differ would build different graphs, which hangs ZeRO's collectives.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from mmei.platform.labels import HEADS, IGNORE_INDEX
from mmei.platform.models.output import ModelOutput


def joint_loss(output: ModelOutput, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """(total loss, detached per-head losses), all on the model's device."""
    total = output.fusion_weights.new_zeros((), dtype=torch.float32)
    parts = {}
    for head in HEADS:
        labels = batch[head].long()
        summed = F.cross_entropy(output.logits[head].float(), labels, ignore_index=IGNORE_INDEX, reduction="sum")
        loss = summed / (labels != IGNORE_INDEX).sum().clamp_min(1)
        total = total + loss
        parts[head] = loss.detach()
    return total, parts

"""Joint objective: the sum over heads of each head's mean cross-entropy over its labelled
rows, plus `score_weight` × the mean L1 error of the sentiment score over rows that have one
(MMSA trains its regression models with L1).

Every head always adds a term, 0 when a batch has no labels for it, instead of being
skipped: a data-dependent branch would sync with the device every step, and ranks
whose batches differ would build different graphs, which hangs ZeRO's collectives.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from mmei.platform.labels import HEADS, IGNORE_INDEX, SCORE_HEAD
from mmei.platform.models.output import ModelOutput


def joint_loss(output: ModelOutput, batch: dict[str, torch.Tensor],
               score_weight: float = 1.0) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """(total loss, detached per-head losses), all on the model's device."""
    total = output.fusion_weights.new_zeros((), dtype=torch.float32)
    parts = {}
    for head in HEADS:
        labels = batch[head].long()
        summed = F.cross_entropy(output.logits[head].float(), labels, ignore_index=IGNORE_INDEX, reduction="sum")
        loss = summed / (labels != IGNORE_INDEX).sum().clamp_min(1)
        total = total + loss
        parts[head] = loss.detach()
    if "score" in batch:  # a key of the batch, not a value: every rank decides alike
        target = batch["score"].float()
        known = torch.isfinite(target)
        error = (output.logits[SCORE_HEAD][:, 0].float() - torch.nan_to_num(target)).abs()
        loss = torch.where(known, error, torch.zeros_like(error)).sum() / known.sum().clamp_min(1)
        total = total + score_weight * loss
        parts[SCORE_HEAD] = loss.detach()
    return total, parts

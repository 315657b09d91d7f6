"""Late-fusion baseline: one classifier per modality, logits averaged over the present.

Its fusion weights are the averaging weights: uniform over present modalities.
"""
from __future__ import annotations

import torch
from torch import nn

from mmei.platform.config import MODALITIES, Config
from mmei.platform.models.encode_fuse import EncodeThenFuse
from mmei.platform.models.fusion import normalise_over_present
from mmei.platform.models.layers import LearnedVectors, masked_mean
from mmei.platform.models.mmei import build_encoders, heads_for
from mmei.platform.models.output import ModelOutput


class LateFusionModel(EncodeThenFuse):
    def __init__(self, config: Config, pretrained: bool = True):
        super().__init__()
        self.modalities = MODALITIES
        self.modality_dropout = config.model.modality_dropout
        self.encoders = build_encoders(config, MODALITIES, pretrained)
        self.heads = nn.ModuleDict({m: heads_for(config, config.model.hidden_size) for m in MODALITIES})
        # Bias-only logits for a sample with nothing present, so the output stays defined.
        self.prior = nn.ModuleDict({head: LearnedVectors(1, layer[-1].out_features)
                                    for head, layer in self.heads["text"].items()})


    def fuse(self, encoded: dict[str, tuple[torch.Tensor, torch.Tensor]], present: torch.Tensor) -> ModelOutput:
        """Encoder outputs per modality → averaged logits (see FusionModel.fuse)."""
        weights = normalise_over_present(torch.ones_like(present, dtype=torch.float32), present)
        per_modality = {}
        for m in MODALITIES:
            tokens, valid = encoded[m]
            vector = masked_mean(tokens, valid)
            per_modality[m] = {head: layer(vector) for head, layer in self.heads[m].items()}
        nothing = ~present.any(dim=1, keepdim=True)
        zeros = torch.zeros(present.shape[0], dtype=torch.long, device=present.device)
        logits = {}
        for head, prior in self.prior.items():
            stacked = torch.stack([per_modality[m][head] for m in MODALITIES], dim=1)
            averaged = (weights.unsqueeze(-1) * stacked).sum(dim=1)
            logits[head] = torch.where(nothing, prior(zeros), averaged)
        return ModelOutput(logits=logits, fusion_weights=weights)

"""MulT (Tsai et al., ACL 2019), the fusion-transformer baseline the paper compares with,
made mask-aware for missing modalities.

    encoders → for each target t, a directional cross-modal transformer from each other
    source s (s→t: queries from t, keys and values from s; six in all: L→A, L→V, A→L,
    A→V, V→L, V→A) → concatenate t's two streams (2d) → self-attention over t's
    sequence → pool → concatenate the three targets (6d) → residual projection → heads

Sized by its own knobs: its width d (`model.mult_hidden_size`; each encoder's output is
projected to it, as MulT's 1-D convolutions project its inputs), `model.mult_cross_layers`
per direction and `model.mult_self_layers` per target. The presets set d so that MulT's
trainable parameters are within 10% of MMEI's. Differences from the original, for
unaligned, padded and missing inputs:
- each target is pooled by a masked mean over its valid steps (the original takes the
  last step, which a padded sequence does not have);
- every cross-modal block has a learned null key, so an absent source is attended as
  null; an absent target adds zeros to the concatenation; with nothing present a
  learned vector stands in, as in MMEI;
- MulT has no modality weights: the reported fusion weights are uniform over the
  present modalities.
"""
from __future__ import annotations

import torch
from torch import nn

from mmei.platform.config import MODALITIES, Config
from mmei.platform.models.cross_modal import CrossModalLayer
from mmei.platform.models.encode_fuse import EncodeThenFuse
from mmei.platform.models.fusion import normalise_over_present
from mmei.platform.models.layers import LearnedVectors, attention_safe_mask, masked_mean
from mmei.platform.models.mmei import build_encoders, heads_for
from mmei.platform.models.output import ModelOutput


def directions() -> list[tuple[str, str]]:
    """(source, target) pairs: every modality into every other one."""
    return [(source, target) for target in MODALITIES for source in MODALITIES if source != target]


class MulTModel(EncodeThenFuse):
    def __init__(self, config: Config, pretrained: bool = True):
        super().__init__()
        model = config.model
        width, heads, dropout = model.mult_hidden_size or model.hidden_size, model.num_heads, model.dropout
        self.modalities = MODALITIES
        self.modality_dropout = model.modality_dropout
        self.encoders = build_encoders(config, MODALITIES, pretrained)
        self.project = nn.ModuleDict({m: nn.Linear(model.hidden_size, width) for m in MODALITIES})
        self.null_key = LearnedVectors(1, width)
        self.cross = nn.ModuleDict({f"{source}_to_{target}": nn.ModuleList(
            CrossModalLayer(width, heads, dropout) for _ in range(model.mult_cross_layers))
            for source, target in directions()})
        self.self_attention = nn.ModuleDict({target: nn.ModuleList(
            CrossModalLayer(2 * width, heads, dropout) for _ in range(model.mult_self_layers))
            for target in MODALITIES})
        combined = 2 * width * len(MODALITIES)
        self.projection = nn.Sequential(nn.Linear(combined, combined), nn.ReLU(), nn.Dropout(dropout),
                                        nn.Linear(combined, combined))
        self.nothing_present = LearnedVectors(1, combined)
        self.heads = heads_for(config, combined)


    def fuse(self, encoded: dict[str, tuple[torch.Tensor, torch.Tensor]], present: torch.Tensor) -> ModelOutput:
        """Encoder outputs (tokens, valid) per modality → heads (see FusionModel.fuse)."""
        batch = present.shape[0]
        tokens = {m: self.project[m](encoded[m][0]) for m in MODALITIES}
        usable = {m: encoded[m][1] & present[:, i, None] for i, m in enumerate(MODALITIES)}
        null = self.null_key(torch.zeros(batch, 1, dtype=torch.long, device=present.device))
        null_valid = torch.ones(batch, 1, dtype=torch.bool, device=present.device)
        pooled = []
        for target in MODALITIES:
            streams = []
            for source in MODALITIES:
                if source == target:
                    continue
                context = torch.cat([null, tokens[source]], dim=1)
                context_valid = torch.cat([null_valid, usable[source]], dim=1)
                stream = tokens[target]
                for layer in self.cross[f"{source}_to_{target}"]:
                    stream = layer(stream, context, context_valid)
                streams.append(stream)
            sequence = torch.cat(streams, dim=-1)
            keys = attention_safe_mask(usable[target])  # an absent target's row is masked out below
            for layer in self.self_attention[target]:
                sequence = layer(sequence, sequence, keys)
            pooled.append(masked_mean(sequence, usable[target]))  # zeros when the target is absent
        joint = torch.cat(pooled, dim=-1)
        joint = joint + self.projection(joint)
        fallback = self.nothing_present(torch.zeros(batch, dtype=torch.long, device=present.device))
        fused = torch.where(present.any(dim=1, keepdim=True), joint, fallback)
        logits = {head: layer(fused) for head, layer in self.heads.items()}
        weights = normalise_over_present(torch.ones_like(present, dtype=torch.float32), present)
        return ModelOutput(logits=logits, fusion_weights=weights, fused=fused)

"""MMEI and the fusion-style baselines that share its skeleton.

    text/audio/visual encoders → [cross-modal transformer] → masked mean per modality
      → fusion (per-sample modality weights) → emotion / sentiment / intent heads

MMEI is (cross-modal transformer, attention fusion), as in the paper. The same class
with other switches gives two baselines: early fusion (no cross-modal layers, concat
fusion) and text-only. MulT (`mult.py`) and late fusion have their own classes on
the same encoders and heads.
"""
from __future__ import annotations

import torch
from torch import nn

from mmei.platform.config import MODALITIES, Config
from mmei.platform.labels import SCORE_HEAD
from mmei.platform.models.audio_encoder import build_audio_encoder
from mmei.platform.models.cross_modal import CrossModalTransformer, SelfAttentionStack
from mmei.platform.models.encode_fuse import EncodeThenFuse
from mmei.platform.models.fusion import build_fusion
from mmei.platform.models.layers import LearnedVectors, masked_mean
from mmei.platform.models.output import ModelOutput
from mmei.platform.models.text_encoder import TextEncoder
from mmei.platform.models.visual_encoder import VisualEncoder


def build_encoders(config: Config, modalities: tuple[str, ...], pretrained: bool) -> nn.ModuleDict:
    makers = {
        "text": lambda: TextEncoder(config.model, pretrained),
        "audio": lambda: build_audio_encoder(config.model, config.features, pretrained),
        "visual": lambda: VisualEncoder(config.model, config.features, pretrained),
    }
    return nn.ModuleDict({m: makers[m]() for m in modalities})


def heads_for(config: Config, hidden: int) -> nn.ModuleDict:
    """One classifier per head, plus the one-output sentiment-score regressor."""
    sizes = {**config.labels.sizes(), SCORE_HEAD: 1}
    return nn.ModuleDict({
        head: nn.Sequential(nn.Dropout(config.model.dropout), nn.Linear(hidden, size)) for head, size in sizes.items()
    })


def scatter_weights(weights: torch.Tensor, modalities: tuple[str, ...]) -> torch.Tensor:
    """(B, len(modalities)) → (B, 3) in MODALITIES order, zeros for unused modalities."""
    full = weights.new_zeros(weights.shape[0], len(MODALITIES))
    for i, m in enumerate(modalities):
        full[:, MODALITIES.index(m)] = weights[:, i]
    return full


class FusionModel(EncodeThenFuse):
    def __init__(self, config: Config, modalities: tuple[str, ...] = MODALITIES, cross_modal: bool = True,
                 fusion: str = "attention", pretrained: bool = True, self_layers: int = 0):
        """`self_layers`: self-attention layers over each modality's own tokens (text_only's depth)."""
        super().__init__()
        model = config.model
        self.modalities = modalities
        self.modality_dropout = model.modality_dropout
        self.encoders = build_encoders(config, modalities, pretrained)
        self.modality_embedding = LearnedVectors(len(modalities), model.hidden_size)
        use_cross = cross_modal and len(modalities) > 1 and model.cross_layers > 0
        self.cross = (CrossModalTransformer(modalities, model.hidden_size, model.num_heads, model.cross_layers,
                                            model.dropout) if use_cross else None)
        self.own = (nn.ModuleDict({m: SelfAttentionStack(model.hidden_size, model.num_heads, self_layers,
                                                          model.dropout) for m in modalities})
                    if self_layers else None)
        self.fusion = build_fusion(fusion, model.hidden_size, len(modalities))
        self.nothing_present = LearnedVectors(1, model.hidden_size)
        self.heads = heads_for(config, model.hidden_size)


    def fuse(self, encoded: dict[str, tuple[torch.Tensor, torch.Tensor]], present: torch.Tensor) -> ModelOutput:
        """Encoder outputs (tokens, valid) per modality → heads. Serve's Fusion deployment
        calls this on what the encoder deployments return; `forward` is encode + fuse.

        `present` is (B, len(self.modalities)). An absent modality's tokens are never
        read (masked everywhere below), so any placeholder of the right batch size will do.
        """
        kinds = self.modality_embedding(torch.arange(len(self.modalities), device=present.device))
        tokens = {m: encoded[m][0] + kinds[i] for i, m in enumerate(self.modalities)}
        valid = {m: encoded[m][1] for m in self.modalities}
        if self.own is not None:
            tokens = {m: self.own[m](tokens[m], valid[m]) for m in self.modalities}
        if self.cross is not None:
            tokens = self.cross(tokens, valid, present)
        vectors = torch.stack([masked_mean(tokens[m], valid[m]) for m in self.modalities], dim=1)
        fused, weights = self.fusion(vectors, present)
        fallback = self.nothing_present(torch.zeros(present.shape[0], dtype=torch.long, device=present.device))
        fused = torch.where(present.any(dim=1, keepdim=True), fused, fallback)
        logits = {head: layer(fused) for head, layer in self.heads.items()}
        return ModelOutput(logits=logits, fusion_weights=scatter_weights(weights, self.modalities), fused=fused)

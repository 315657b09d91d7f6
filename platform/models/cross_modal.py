"""Cross-modal transformer: every modality's tokens attend to the other modalities.

Each layer, per modality m: pre-norm cross-attention with queries from m and keys
from the concatenated tokens of the other modalities that are present, then an FFN.
A learned null token is always among the keys, so a sample whose other modalities
are all missing attends to it instead of producing NaN (MulT's design, made
mask-aware). `SelfAttentionStack` is the same layer with a modality's own tokens as
keys: the text_only baseline's depth (`model.text_only_layers`).
"""
from __future__ import annotations

import torch
from torch import nn

from mmei.platform.models.layers import LearnedVectors


class CrossModalLayer(nn.Module):
    def __init__(self, hidden: int, heads: int, dropout: float):
        super().__init__()
        self.norm_query = nn.LayerNorm(hidden)
        self.norm_context = nn.LayerNorm(hidden)
        self.attention = nn.MultiheadAttention(hidden, heads, dropout=dropout, batch_first=True)
        self.norm_ffn = nn.LayerNorm(hidden)
        self.ffn = nn.Sequential(nn.Linear(hidden, 4 * hidden), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(4 * hidden, hidden), nn.Dropout(dropout))

    def forward(self, query: torch.Tensor, context: torch.Tensor, context_valid: torch.Tensor) -> torch.Tensor:
        keys = self.norm_context(context)
        attended, _ = self.attention(self.norm_query(query), keys, keys, key_padding_mask=~context_valid,
                                     need_weights=False)
        query = query + attended
        return query + self.ffn(self.norm_ffn(query))


class CrossModalTransformer(nn.Module):
    def __init__(self, modalities: tuple[str, ...], hidden: int, heads: int, layers: int, dropout: float):
        super().__init__()
        self.modalities = modalities
        self.null_token = LearnedVectors(1, hidden)
        self.layers = nn.ModuleList(
            nn.ModuleDict({m: CrossModalLayer(hidden, heads, dropout) for m in modalities}) for _ in range(layers)
        )

    def forward(self, tokens: dict[str, torch.Tensor], valid: dict[str, torch.Tensor],
                present: torch.Tensor) -> dict[str, torch.Tensor]:
        """`present` is (B, len(modalities)); an absent modality's tokens are never keys."""
        batch = present.shape[0]
        null = self.null_token(torch.zeros(batch, 1, dtype=torch.long, device=present.device))
        null_valid = torch.ones(batch, 1, dtype=torch.bool, device=present.device)
        usable = {m: valid[m] & present[:, i, None] for i, m in enumerate(self.modalities)}
        for layer in self.layers:
            updated = {}
            for m in self.modalities:
                others = [o for o in self.modalities if o != m]
                context = torch.cat([null] + [tokens[o] for o in others], dim=1)
                context_valid = torch.cat([null_valid] + [usable[o] for o in others], dim=1)
                updated[m] = layer[m](tokens[m], context, context_valid)
            tokens = updated
        return tokens


class SelfAttentionStack(nn.Module):
    """Mask-aware self-attention over one modality's tokens: each layer's keys are the
    tokens themselves and a learned null key, so a row with no valid token stays finite."""

    def __init__(self, hidden: int, heads: int, layers: int, dropout: float):
        super().__init__()
        self.null_token = LearnedVectors(1, hidden)
        self.layers = nn.ModuleList(CrossModalLayer(hidden, heads, dropout) for _ in range(layers))

    def forward(self, tokens: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        batch = tokens.shape[0]
        null = self.null_token(torch.zeros(batch, 1, dtype=torch.long, device=tokens.device))
        keys_valid = torch.cat([torch.ones(batch, 1, dtype=torch.bool, device=tokens.device), valid], dim=1)
        for layer in self.layers:
            tokens = layer(tokens, torch.cat([null, tokens], dim=1), keys_valid)
        return tokens

"""Small building blocks shared by the encoders and the fusion models."""
from __future__ import annotations

import torch
from torch import nn


def attention_safe_mask(valid: torch.Tensor) -> torch.Tensor:
    """Key mask that never hides every key: an empty row attends to position 0.

    A row with no valid key makes softmax produce NaN, which would leak into the
    loss even though the modality is absent. The row's output is finite garbage
    that downstream `present` masks give zero weight (and so zero gradient).
    """
    safe = valid.clone()
    safe[:, 0] |= ~valid.any(dim=1)
    return safe


def masked_mean(tokens: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """(B, L, H) mean over valid positions; rows with none give zeros."""
    weights = valid.to(tokens.dtype).unsqueeze(-1)
    return (tokens * weights).sum(dim=1) / weights.sum(dim=1).clamp_min(1.0)


class LearnedVectors(nn.Module):
    """A table of learned vectors, looked up inside its own forward.

    ZeRO-3 gathers a module's partitioned weights around that module's forward; a bare
    nn.Parameter used directly in a parent's forward (sliced, expanded) is seen at
    size 0 in backward. Every such vector in our models lives in one of these.
    """

    def __init__(self, count: int, width: int, std: float = 0.0):
        super().__init__()
        self.table = nn.Embedding(count, width)
        if std:
            nn.init.normal_(self.table.weight, std=std)
        else:
            nn.init.zeros_(self.table.weight)

    def forward(self, index: torch.Tensor) -> torch.Tensor:
        return self.table(index)


def first_n(n: int, like: torch.Tensor) -> torch.Tensor:
    return torch.arange(n, device=like.device)


class SequenceTransformer(nn.Module):
    """Learned positions + pre-norm transformer encoder layers over a masked sequence."""

    def __init__(self, hidden: int, heads: int, layers: int, dropout: float, max_len: int):
        super().__init__()
        self.positions = LearnedVectors(max_len, hidden, std=0.02)
        layer = nn.TransformerEncoderLayer(hidden, heads, 4 * hidden, dropout, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.layers = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False) if layers else None
        self.norm = nn.LayerNorm(hidden)

    def forward(self, tokens: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        tokens = tokens + self.positions(first_n(tokens.shape[1], tokens))
        if self.layers is not None:
            tokens = self.layers(tokens, src_key_padding_mask=~attention_safe_mask(valid))
        return self.norm(tokens)

"""Fusion of per-modality vectors (B, M, H) into one (B, H), with per-sample weights.

- attention: score_m = vᵀ tanh(W h_m), softmax over the present modalities (the paper);
- gated: σ(wᵀ h_m) per modality, normalised over the present ones;
- concat: a projection of the concatenated vectors (absent ones zeroed, presence
  flags appended). It has no learned weights, so it reports uniform weights over the
  present modalities.
Missing modalities always get weight exactly 0; weights sum to 1 over the present.
"""
from __future__ import annotations

import torch
from torch import nn


def normalise_over_present(scores: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
    """Masked softmax-like normalisation; rows with nothing present give all zeros."""
    weights = scores * present.to(scores.dtype)
    return weights / weights.sum(dim=-1, keepdim=True).clamp_min(1e-12)


class AttentionFusion(nn.Module):
    def __init__(self, hidden: int, modalities: int):
        super().__init__()
        self.score = nn.Sequential(nn.Linear(hidden, hidden), nn.Tanh(), nn.Linear(hidden, 1, bias=False))

    def forward(self, vectors: torch.Tensor, present: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        scores = self.score(vectors).squeeze(-1).masked_fill(~present, float("-inf"))
        scores = torch.where(present.any(-1, keepdim=True), scores, torch.zeros_like(scores))
        weights = normalise_over_present(torch.softmax(scores, dim=-1), present)
        return (weights.unsqueeze(-1) * vectors).sum(dim=1), weights


class GatedFusion(nn.Module):
    def __init__(self, hidden: int, modalities: int):
        super().__init__()
        self.gate = nn.Linear(hidden, 1)

    def forward(self, vectors: torch.Tensor, present: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        weights = normalise_over_present(torch.sigmoid(self.gate(vectors).squeeze(-1)), present)
        return (weights.unsqueeze(-1) * vectors).sum(dim=1), weights


class ConcatFusion(nn.Module):
    def __init__(self, hidden: int, modalities: int):
        super().__init__()
        self.project = nn.Sequential(nn.Linear(modalities * (hidden + 1), hidden), nn.GELU())

    def forward(self, vectors: torch.Tensor, present: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        flags = present.to(vectors.dtype)
        joined = torch.cat([vectors * flags.unsqueeze(-1), flags.unsqueeze(-1)], dim=-1).flatten(1)
        return self.project(joined), normalise_over_present(torch.ones_like(flags), present)


FUSIONS = {"attention": AttentionFusion, "gated": GatedFusion, "concat": ConcatFusion}


def build_fusion(kind: str, hidden: int, modalities: int) -> nn.Module:
    return FUSIONS[kind](hidden, modalities)

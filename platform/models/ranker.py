"""The learned ranker: (user state, item) features → expected satisfaction and engagement.

A small MLP with two outputs: the satisfaction a shown item earns (0 when the user
gives no feedback) and log(1 + engagement seconds). Items are ranked by the first.
Trained by `mmei train-ranker` (Ray Train) on logged feedback; see ranker_features.py
for the inputs.
"""
from __future__ import annotations

import torch
from torch import nn


class RankerModel(nn.Module):
    def __init__(self, width: int, hidden: int = 64):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(width, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                 nn.Linear(hidden, 2))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(N, width) → (N, 2): [expected satisfaction, expected log(1 + seconds)]."""
        return self.net(features)

"""Modality dropout: hide present modalities at random in training, never all of them.

Training with missing inputs is what makes the model usable when a user sends only
text, or a clip with no face.
"""
from __future__ import annotations

import torch


def drop_modalities(present: torch.Tensor, rate: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Return a copy of the (B, M) presence mask with each True kept with prob 1 - rate.

    A row that would lose every modality keeps one of its present ones, chosen at
    random; rows with nothing present stay empty.
    """
    if rate <= 0:
        return present
    keep = torch.rand(present.shape, generator=generator, device=present.device) >= rate
    dropped = present & keep
    # Rows that lost everything get one present modality back. Computed for every row,
    # with no `if emptied.any()`: a branch on a device value is a host sync each step.
    emptied = present.any(dim=1) & ~dropped.any(dim=1)
    noise = torch.rand(present.shape, generator=generator, device=present.device)
    choice = (noise * present).argmax(dim=1)
    rescue = torch.nn.functional.one_hot(choice, present.shape[1]).bool() & emptied[:, None]
    return dropped | rescue

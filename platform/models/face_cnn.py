"""`model.visual_encoder: convnet`: a VGG-style face CNN, for real expressions.

The `cnn` encoder (three strided convolutions, no normalisation) was made for the
synthetic corpus's drawn faces; on FER2013 it scores below HOG + logistic regression.
Expression recognisers that work on 48x48 crops share one recipe, kept here:

- `len(model.visual_channels)` blocks of two 3x3 convolutions with a per-position
  channel norm (spectrogram_cnn.ChannelNorm: absent frames pass through as zeros, so
  batch statistics would be skewed), each followed by 2x2 max-pooling;
- the last maps pooled to 3x3 and flattened, not averaged to one value per channel:
  where a feature is (mouth or brow) is the expression;
- dropout and a projection to `hidden_size`;
- in training only, a random horizontal flip and a random shift of up to 1/12 of the
  image per frame: a face is the same face mirrored or a few pixels off-centre.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mmei.platform.config import ModelConfig
from mmei.platform.models.spectrogram_cnn import conv_block


GRID = 3  # the last feature maps, pooled to GRID x GRID regions of the face


def flip_and_shift(images: torch.Tensor) -> torch.Tensor:
    """(N, C, S, S): mirror half the images and shift each by up to S/12 pixels (edge-padded)."""
    n, _, size, _ = images.shape
    flip = torch.rand(n, device=images.device) < 0.5
    images = torch.where(flip[:, None, None, None], images.flip(3), images)
    pad = max(1, size // 12)
    padded = F.pad(images, (pad, pad, pad, pad), mode="replicate")
    dx, dy = (torch.randint(0, 2 * pad + 1, (2, n), device=images.device))
    rows = (torch.arange(size, device=images.device)[None, :] + dy[:, None])  # (N, S)
    cols = (torch.arange(size, device=images.device)[None, :] + dx[:, None])
    index = torch.arange(n, device=images.device)[:, None, None]
    return padded.permute(0, 2, 3, 1)[index, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)


class FaceConvNet(nn.Module):
    def __init__(self, model: ModelConfig):
        super().__init__()
        channels = list(model.visual_channels)
        self.blocks = nn.Sequential(*[conv_block(c_in, c_out) for c_in, c_out in zip([3, *channels], channels)])
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(GRID), nn.Flatten(), nn.Dropout(model.dropout),
                                  nn.Linear(channels[-1] * GRID * GRID, model.hidden_size))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if self.training:
            images = flip_and_shift(images)
        return self.head(self.blocks(images))

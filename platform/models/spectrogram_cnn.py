"""`model.audio_encoder: cnn2d`: a 2-D CNN over the log-mel image, for real speech.

Emotion in a voice lives in local time-frequency shapes (pitch contours, energy
bursts, breathiness) that a 2-D convolution sees at any pitch; the `conv` encoder's
1-D convolutions treat every mel band as a separate channel and, on real RAVDESS
clips, do no better than MFCC statistics. What this encoder does, in order:

- normalises each utterance per mel band over its valid frames (the speaker's
  timbre and the microphone are not the emotion; loudness contours survive);
- in training only, warps each clip's frequency axis and stretches its time axis by
  up to `model.audio_warp` (vocal-tract-length perturbation: a new speaker is, to a first
  approximation, the same spectrum scaled), then masks random bands and spans
  (SpecAugment), the standard regulariser for a few hundred clips per class;
- `len(model.audio_channels)` blocks of two 3x3 convolutions with a per-position
  channel norm (`ChannelNorm`, which says why not BatchNorm or GroupNorm), each
  halving time and frequency;
- flattens what is left of frequency into one token per time step, projected to
  `model.hidden_size`, then a `SequenceTransformer` (`model.audio_layers`; none when
  0 and pooling by statistics);
- `model.audio_pooling=statistics` then gives one clip token from the mean and standard
  deviation of those over the valid steps (x-vector statistics pooling). How much the
  voice varies is an emotion cue in itself (anger and fear swing, sadness and calm stay
  flat) that a mean of the steps cannot carry. On RAVDESS, speaker-independent, a
  standalone copy of this encoder with a linear head scored test macro-F1 0.522 with it
  and 0.476 with a plain mean (one seed each); inside MMEI the `audio` preset with it
  scores as the frames preset did, in a third of the time (docs/benchmarks.md).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mmei.platform.config import FeatureConfig, ModelConfig
from mmei.platform.models.layers import SequenceTransformer


class ChannelNorm(nn.Module):
    """LayerNorm over the channels at each position (ConvNeXt's LayerNorm2d).

    Not BatchNorm: absent inputs go through as zeros and ranks see different batches.
    Not GroupNorm either: it normalises each sample over its positions, so the average
    over time or space that pooling takes comes out nearly the same for every sample.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.norm = nn.LayerNorm(channels)

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        return self.norm(maps.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


def conv_block(channels_in: int, channels_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(channels_in, channels_out, 3, padding=1, bias=False), ChannelNorm(channels_out), nn.GELU(),
        nn.Conv2d(channels_out, channels_out, 3, padding=1, bias=False), ChannelNorm(channels_out), nn.GELU(),
        nn.MaxPool2d(2, ceil_mode=True),
    )


def utterance_normalise(mel: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """(B, T, M) → zero mean, unit variance per band over each clip's valid frames; padding → 0."""
    weights = valid.to(mel.dtype).unsqueeze(-1)
    count = weights.sum(dim=1, keepdim=True).clamp_min(1.0)
    mean = (mel * weights).sum(dim=1, keepdim=True) / count
    var = (((mel - mean) ** 2) * weights).sum(dim=1, keepdim=True) / count
    return (mel - mean) / (var + 1e-5).sqrt() * weights


def warp(mel: torch.Tensor, amount: float) -> torch.Tensor:
    """(B, T, M) → each clip's mel axis scaled by 1±amount about its lowest band, time about its start."""
    b = mel.shape[0]
    scale = 1.0 + (torch.rand(b, 2, device=mel.device) * 2 - 1) * amount  # [:, 0] frequency, [:, 1] time
    theta = torch.zeros(b, 2, 3, device=mel.device, dtype=mel.dtype)
    theta[:, 0, 0], theta[:, 0, 2] = scale[:, 0], scale[:, 0] - 1
    theta[:, 1, 1], theta[:, 1, 2] = scale[:, 1], scale[:, 1] - 1
    image = mel.unsqueeze(1)
    grid = F.affine_grid(theta, list(image.shape), align_corners=False)
    return F.grid_sample(image, grid, padding_mode="zeros", align_corners=False).squeeze(1)


def spec_augment(mel: torch.Tensor, bands: int, steps: int) -> torch.Tensor:
    """Zero one random span of up to `bands` mel bands and two of up to `steps` frames per clip."""
    b, t, m = mel.shape
    keep = torch.ones_like(mel)
    for size, axis, length in ((bands, 2, m), (steps, 1, t), (steps, 1, t)):
        width = torch.randint(0, size + 1, (b,), device=mel.device)
        start = (torch.rand(b, device=mel.device) * (length - width).clamp_min(1)).long()
        position = torch.arange(length, device=mel.device)[None, :]
        hidden = (position >= start[:, None]) & (position < (start + width)[:, None])
        keep = keep * (~hidden).to(mel.dtype).unsqueeze(3 - axis)
    return mel * keep


class SpectrogramCnnEncoder(nn.Module):
    def __init__(self, model: ModelConfig, features: FeatureConfig):
        super().__init__()
        channels = list(model.audio_channels)
        self.blocks = nn.Sequential(*[conv_block(c_in, c_out) for c_in, c_out in zip([1, *channels], channels)])
        self.halvings = len(channels)
        bands = features.n_mels
        for _ in channels:
            bands = -(-bands // 2)
        self.project = nn.Linear(channels[-1] * bands, model.hidden_size)
        self.dropout = nn.Dropout(model.dropout)
        max_len = -(-features.audio_max_steps // 2 ** self.halvings) + 1
        self.by_statistics = model.audio_pooling == "statistics"
        self.sequence = (SequenceTransformer(model.hidden_size, model.num_heads, model.audio_layers, model.dropout, max_len)
                         if model.audio_layers or not self.by_statistics else None)
        if self.by_statistics:
            self.pool = nn.Sequential(nn.Linear(2 * model.hidden_size, model.hidden_size), nn.LayerNorm(model.hidden_size))
        self.warp = model.audio_warp
        self.mask_bands = max(1, features.n_mels // 8)
        self.mask_steps = max(1, features.audio_max_steps // 20)

    def forward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        valid = batch["audio_mask"].bool()
        mel = utterance_normalise(batch["audio"], valid)
        if self.training:
            if self.warp > 0:
                mel = warp(mel, self.warp) * valid.to(mel.dtype).unsqueeze(-1)
            mel = spec_augment(mel, self.mask_bands, self.mask_steps)
        maps = self.blocks(mel.unsqueeze(1))  # (B, C, T', M')
        tokens = self.project(self.dropout(maps.permute(0, 2, 1, 3).flatten(2)))
        steps = valid.float().unsqueeze(1)
        for _ in range(self.halvings):
            steps = F.max_pool1d(steps, 2, 2, ceil_mode=True)
        valid_tokens = steps.squeeze(1).bool()[:, : tokens.shape[1]]
        if self.sequence is not None:
            tokens = self.sequence(tokens, valid_tokens)
        if not self.by_statistics:
            return tokens, valid_tokens
        clip = self.pool(mean_and_std(F.gelu(tokens), valid_tokens)).unsqueeze(1)
        return clip, valid_tokens.any(dim=1, keepdim=True)


def mean_and_std(tokens: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """(B, T, H) over each clip's valid steps → (B, 2H): mean, then standard deviation."""
    weights = valid.to(tokens.dtype).unsqueeze(-1)
    count = weights.sum(dim=1).clamp_min(1.0)
    mean = (tokens * weights).sum(dim=1) / count
    var = (((tokens - mean.unsqueeze(1)) ** 2) * weights).sum(dim=1) / count
    return torch.cat([mean, (var + 1e-5).sqrt()], dim=1)

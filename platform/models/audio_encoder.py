"""Audio encoders: conv subsampling + transformer over log-mel, a 2-D CNN over the
log-mel (`cnn2d`, spectrogram_cnn.py), or Wav2Vec2.

The paper uses Wav2Vec2 for speech. No Wav2Vec2 weights ship in any package we can
reach offline, so `audio_encoder: wav2vec2` loads a local folder
(`audio_model_path`) or builds the class from `audio_hf_config` with random weights.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mmei.platform.config import FeatureConfig, ModelConfig
from mmei.platform.models.layers import SequenceTransformer
from mmei.platform.models.spectrogram_cnn import SpectrogramCnnEncoder


class ConvAudioEncoder(nn.Module):
    """(B, T, n_mels or feature dim) → two stride-2 convs (4× fewer steps) → transformer."""

    def __init__(self, model: ModelConfig, features: FeatureConfig):
        super().__init__()
        hidden = model.hidden_size
        self.subsample = nn.Sequential(
            nn.Conv1d(features.audio_width, hidden, 3, stride=2, padding=1), nn.GELU(),
            nn.Conv1d(hidden, hidden, 3, stride=2, padding=1), nn.GELU(),
        )
        max_len = features.audio_max_steps // 4 + 2
        self.sequence = SequenceTransformer(hidden, model.num_heads, model.audio_layers, model.dropout, max_len)

    def forward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        tokens = self.subsample(batch["audio"].transpose(1, 2)).transpose(1, 2)
        valid = batch["audio_mask"].float().unsqueeze(1)
        for _ in range(2):
            valid = F.max_pool1d(valid, 2, 2, ceil_mode=True)
        valid = valid.squeeze(1).bool()[:, : tokens.shape[1]]
        return self.sequence(tokens, valid), valid


def conv_output_lengths(lengths: torch.Tensor, kernels: list[int], strides: list[int]) -> torch.Tensor:
    """Frames Wav2Vec2's convolutional feature encoder makes from `lengths` samples
    (no padding: L' = (L - kernel) // stride + 1 per layer, never below 0)."""
    for kernel, stride in zip(kernels, strides):
        lengths = torch.div(lengths - kernel, stride, rounding_mode="floor") + 1
        lengths = lengths.clamp_min(0)
    return lengths


class Wav2Vec2AudioEncoder(nn.Module):
    """transformers Wav2Vec2Model over raw 16 kHz waveforms (features.audio_input=waveform).

    Safe to train under DeepSpeed at scale:
    - layerdrop is 0: ranks that skip different layers run different collectives, which
      hangs ZeRO-3.
    - the valid frames come from each clip's length through the conv arithmetic, not from
      a private transformers helper.
    - an absent clip is explicit: the backbone sees it as a silent, unmasked clip (finite
      everywhere) and every one of its frames is marked invalid.
    - `model.audio_freeze_feature_encoder` freezes the convolutional feature encoder, as
      fine-tuning recipes for Wav2Vec2 do.
    - the attention mask is passed only to models trained with one (feat_extract_norm
      "layer"); "group"-norm models such as wav2vec2-base expect zero padding and no mask.
    """

    def __init__(self, model: ModelConfig, pretrained: bool = True):
        super().__init__()
        from transformers import Wav2Vec2Config, Wav2Vec2Model

        if model.audio_model_path and pretrained:
            self.backbone = Wav2Vec2Model.from_pretrained(model.audio_model_path, local_files_only=True, layerdrop=0.0)
        else:
            config = (Wav2Vec2Config.from_pretrained(model.audio_model_path, local_files_only=True)
                      if model.audio_model_path else Wav2Vec2Config(**model.audio_hf_config))
            config.layerdrop = 0.0
            self.backbone = Wav2Vec2Model(config)
        self.backbone.config.layerdrop = 0.0
        if model.audio_freeze_feature_encoder:
            self.backbone.freeze_feature_encoder()
        self.project = nn.Linear(self.backbone.config.hidden_size, model.hidden_size)

    def forward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        sample_mask = batch["audio_mask"].bool()
        absent = ~sample_mask.any(dim=1, keepdim=True)
        config = self.backbone.config
        mask = (sample_mask | absent).long() if config.feat_extract_norm == "layer" else None
        hidden = self.backbone(batch["audio"], attention_mask=mask).last_hidden_state
        lengths = conv_output_lengths(sample_mask.sum(dim=1), list(config.conv_kernel), list(config.conv_stride))
        valid = torch.arange(hidden.shape[1], device=hidden.device)[None, :] < lengths[:, None]
        return self.project(hidden), valid


def build_audio_encoder(model: ModelConfig, features: FeatureConfig, pretrained: bool = True) -> nn.Module:
    if model.audio_encoder == "wav2vec2":
        if features.audio_input != "waveform":
            raise ValueError("model.audio_encoder=wav2vec2 needs features.audio_input=waveform")
        return Wav2Vec2AudioEncoder(model, pretrained)
    if model.audio_encoder == "cnn2d":
        if features.audio_input != "logmel":
            raise ValueError("model.audio_encoder=cnn2d needs features.audio_input=logmel")
        return SpectrogramCnnEncoder(model, features)
    if features.audio_input == "waveform":
        raise ValueError("model.audio_encoder=conv needs features.audio_input=logmel or features")
    return ConvAudioEncoder(model, features)

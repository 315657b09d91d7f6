"""Visual encoders: a per-frame image model followed by a temporal transformer.

`cnn` is a small 3-layer CNN; `convnet` a VGG-style face CNN (face_cnn.py); `vit` is a transformers ViTModel (the paper's choice
for faces), loaded from `visual_model_path` or built from `visual_hf_config`.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from mmei.platform.config import FeatureConfig, ModelConfig
from mmei.platform.models.face_cnn import FaceConvNet
from mmei.platform.models.layers import SequenceTransformer


class SmallCnn(nn.Module):
    def __init__(self, hidden: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.GELU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.GELU(),
            nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.GELU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, hidden),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images)


def processor_normalisation(folder: str | None) -> tuple[list[float], list[float]]:
    """image_mean and image_std from a local ViT folder's preprocessor_config.json;
    ViT's own default (0.5, 0.5) when there is none."""
    if folder:
        path = Path(folder) / "preprocessor_config.json"
        if path.is_file():
            processor = json.loads(path.read_text())
            return list(processor.get("image_mean", [0.5] * 3)), list(processor.get("image_std", [0.5] * 3))
    return [0.5] * 3, [0.5] * 3


class VitFrames(nn.Module):
    """transformers ViTModel per frame (the paper's face encoder).

    - `interpolate_pos_encoding` is on, so any `features.image_size` works with a model
      pre-trained at another resolution.
    - Featurization gives every model pixels in [-1, 1] (mean 0.5, std 0.5); frames are
      renormalised here to the mean and std of the model's own image processor.
    """

    def __init__(self, model: ModelConfig, features: FeatureConfig, pretrained: bool):
        super().__init__()
        from transformers import ViTConfig, ViTModel

        if model.visual_model_path and pretrained:
            self.backbone = ViTModel.from_pretrained(model.visual_model_path, local_files_only=True, add_pooling_layer=False)
        elif model.visual_model_path:
            config = ViTConfig.from_pretrained(model.visual_model_path, local_files_only=True)
            self.backbone = ViTModel(config, add_pooling_layer=False)
        else:
            config = ViTConfig(**{"image_size": features.image_size, **model.visual_hf_config})
            self.backbone = ViTModel(config, add_pooling_layer=False)
        mean, std = processor_normalisation(model.visual_model_path)
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)
        self.project = nn.Linear(self.backbone.config.hidden_size, model.hidden_size)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        pixels = (images * 0.5 + 0.5 - self.mean.to(images.dtype)) / self.std.to(images.dtype)
        hidden = self.backbone(pixel_values=pixels, interpolate_pos_encoding=True).last_hidden_state
        return self.project(hidden[:, 0])


class VisualEncoder(nn.Module):
    def __init__(self, model: ModelConfig, features: FeatureConfig, pretrained: bool = True):
        super().__init__()
        self.vit = features.visual_input != "features" and model.visual_encoder == "vit"
        if features.visual_input == "features":  # pre-extracted vectors per frame
            self.frame = nn.Sequential(nn.LayerNorm(features.visual_feature_dim),
                                       nn.Linear(features.visual_feature_dim, model.hidden_size))
        elif self.vit:
            self.frame = VitFrames(model, features, pretrained)
        elif model.visual_encoder == "convnet":
            self.frame = FaceConvNet(model)
        else:
            self.frame = SmallCnn(model.hidden_size)
        self.sequence = SequenceTransformer(model.hidden_size, model.num_heads, model.visual_layers,
                                            model.dropout, features.visual_max_steps)

    def forward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        frames = batch["frames"]  # (B, F, 3, S, S) images or (B, F, D) vectors
        b, f = frames.shape[:2]
        valid = batch["frame_mask"].bool()
        flat = frames.flatten(0, 1)
        if not self.vit:  # cheap per frame: every slot goes through, absent ones are masked later
            return self.sequence(self.frame(flat).view(b, f, -1), valid), valid
        # ViT is expensive: only present frames go through it. At least one always does,
        # so the module runs on every rank and batch (ZeRO-3 gathers its weights in forward).
        chosen = valid.flatten().clone()
        chosen[0] |= ~chosen.any()
        encoded = self.frame(flat[chosen])
        tokens = encoded.new_zeros(b * f, encoded.shape[-1])
        tokens[chosen] = encoded
        return self.sequence(tokens.view(b, f, -1), valid), valid

"""Visual encoders: a per-frame image model followed by a temporal transformer.

`cnn` is a small 3-layer CNN; `vit` is a transformers ViTModel (the paper's choice
for faces), loaded from `visual_model_path` or built from `visual_hf_config`.
"""
from __future__ import annotations

import torch
from torch import nn

from mmei.platform.config import FeatureConfig, ModelConfig
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


class VitFrames(nn.Module):
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
        self.project = nn.Linear(self.backbone.config.hidden_size, model.hidden_size)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.project(self.backbone(pixel_values=images).last_hidden_state[:, 0])


class VisualEncoder(nn.Module):
    def __init__(self, model: ModelConfig, features: FeatureConfig, pretrained: bool = True):
        super().__init__()
        if features.visual_input == "features":  # pre-extracted vectors per frame
            self.frame = nn.Sequential(nn.LayerNorm(features.visual_feature_dim),
                                       nn.Linear(features.visual_feature_dim, model.hidden_size))
        elif model.visual_encoder == "vit":
            self.frame = VitFrames(model, features, pretrained)
        else:
            self.frame = SmallCnn(model.hidden_size)
        self.sequence = SequenceTransformer(model.hidden_size, model.num_heads, model.visual_layers,
                                            model.dropout, features.max_frames)

    def forward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        frames = batch["frames"]  # (B, F, 3, S, S) images or (B, F, D) vectors
        b, f = frames.shape[:2]
        tokens = self.frame(frames.flatten(0, 1)).view(b, f, -1)
        valid = batch["frame_mask"].bool()
        return self.sequence(tokens, valid), valid

"""`build_model(config)`: the one way to get MMEI or any baseline.

| type          | modalities | cross-modal                                  | fusion                          |
|---------------|------------|----------------------------------------------|---------------------------------|
| mmei          | all three  | each modality attends to the others (`cross_layers`) | model.fusion (attention): per-sample modality weights |
| mult          | all three  | MulT: six directional s→t transformers (`mult_cross_layers`), then self-attention per target (`mult_self_layers`) | concatenation of the three targets (6d), residual projection |
| early_fusion  | all three  | none                                         | concatenation of the pooled encoders |
| late_fusion   | all three  | none                                         | average of per-modality logits  |
| text_only     | text       | none (`text_only_layers` of self-attention over the text, for the budget) | —       |

Every model shares the encoders (`model.hidden_size` wide) and the heads, so a
comparison differs only in how the modalities meet.
"""
from __future__ import annotations

from torch import nn

from mmei.platform.config import Config
from mmei.platform.models.late_fusion import LateFusionModel
from mmei.platform.models.mmei import FusionModel
from mmei.platform.models.mult import MulTModel

MODEL_TYPES = ("mmei", "mult", "early_fusion", "late_fusion", "text_only")


def build_model(config: Config, pretrained: bool = True) -> nn.Module:
    """`pretrained=False` skips loading text weights (a bundle loads its own)."""
    kind = config.model.type
    if kind == "mmei":
        return FusionModel(config, fusion=config.model.fusion, pretrained=pretrained)
    if kind == "mult":
        return MulTModel(config, pretrained=pretrained)
    if kind == "early_fusion":
        return FusionModel(config, cross_modal=False, fusion="concat", pretrained=pretrained)
    if kind == "text_only":
        return FusionModel(config, modalities=("text",), cross_modal=False, fusion="attention", pretrained=pretrained,
                           self_layers=config.model.text_only_layers)
    if kind == "late_fusion":
        return LateFusionModel(config, pretrained=pretrained)
    raise ValueError(f"unknown model.type {kind!r}; one of {MODEL_TYPES}")

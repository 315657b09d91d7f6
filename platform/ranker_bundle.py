"""A learned-ranker bundle: weights plus the feature spec they were trained with.

Written by `mmei train-ranker`; read by `mmei eval-ranker` and the Serve Ranker, so
scoring never depends on training code.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from mmei.platform.catalog import Item
from mmei.platform.labels import LabelSpaces
from mmei.platform.models.ranker import RankerModel
from mmei.platform.ranker_features import PairFeatures

WEIGHTS, META = "ranker.safetensors", "ranker.json"


def save_ranker_bundle(state: dict[str, torch.Tensor], folder: Path, meta: dict) -> Path:
    """Weights and meta (width, kinds, labels, inputs, emotion_blind, history, and training facts)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().contiguous() for k, v in state.items()}, str(folder / WEIGHTS))
    (folder / META).write_text(json.dumps({"format": 1, **meta}, indent=2))
    return folder


class LearnedRanker:
    """A ranker bundle, loaded for scoring the whole catalog against one state."""

    def __init__(self, folder: Path, items: list[Item]):
        if not (Path(folder) / META).is_file():
            raise FileNotFoundError(f"{folder} is not a ranker bundle (no {META}); write one with mmei train-ranker")
        meta = json.loads((Path(folder) / META).read_text())
        self.folder = str(folder)
        self.labels = LabelSpaces(**meta["labels"])
        self.emotion_blind, self.history = meta["emotion_blind"], meta.get("history", False)
        self.features = PairFeatures(items, self.labels, meta["kinds"], history=self.history)
        self.model = RankerModel(meta["width"])
        self.model.load_state_dict(load_file(str(Path(folder) / WEIGHTS)))
        self.model.eval()

    @torch.no_grad()
    def score(self, emotion: np.ndarray, intent: np.ndarray, history: np.ndarray | None = None) -> np.ndarray:
        """Every catalog item's expected satisfaction; `history` (user_history.py) when the bundle reads one."""
        x = torch.from_numpy(self.features(emotion, intent, emotion_blind=self.emotion_blind,
                                           history=history).astype(np.float32))
        return self.model(x)[:, 0].numpy()

import itertools

import numpy as np
import pytest
import torch

from mmei.platform.config import load_config
from mmei.platform.features import featurize_batch, to_tensors
from mmei.platform.labels import HEADS, LabelSpaces

# every non-empty subset of (text, audio, visual)
PRESENCE = [combo for combo in itertools.product([True, False], repeat=3) if any(combo)]


def labelled_batch(rows, features) -> dict[str, torch.Tensor]:
    batch = to_tensors(featurize_batch(rows, features))
    labels = LabelSpaces()
    for head in HEADS:
        batch[head] = torch.tensor([labels.encode(head, row[head]) for row in rows])
    return batch


@pytest.fixture(scope="module")
def full_batch(corpus_rows):
    """8 corpus rows with all three modalities, featurized with the tiny config."""
    rows = [r for r in corpus_rows if r["text"] and r["audio"] and r["frames"]][:8]
    return labelled_batch(rows, load_config("tiny").features)

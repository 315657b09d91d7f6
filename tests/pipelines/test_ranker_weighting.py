"""Inverse-propensity weighting of the ranker's rows (`mmei ranker train --clip W`) on a
deployed ranker's SYNTHETIC log: each row weighs (1/n) / its logged propensity, clipped;
off, or on a uniform log, every row weighs 1."""
import json

import numpy as np
import pytest

from mmei.pipelines.ranker_data import load_logged, training_arrays
from mmei.pipelines.sources.interactions import write_interactions
from mmei.pipelines.sources.synthetic_catalog import KINDS
from mmei.pipelines.train_ranker import train_ranker
from mmei.platform.catalog import load_catalog
from mmei.platform.labels import LabelSpaces
from mmei.platform.ranker_features import PairFeatures
from mmei.platform.store import Store
from mmei.serving.config import DEFAULT_CATALOG

LABELS = LabelSpaces()
EPSILON = 0.3


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    items = load_catalog(DEFAULT_CATALOG, LABELS)
    root = tmp_path_factory.mktemp("weighting")
    kwargs = dict(users=60, days=4, seed=21, progress=lambda _: None)
    explored = write_interactions(root / "explore", items, LABELS, policy="explore", epsilon=EPSILON, **kwargs)
    uniform = write_interactions(root / "uniform", items, LABELS, **kwargs)
    return items, explored["store_url"], uniform["store_url"]


def test_each_row_weighs_its_clipped_inverse_propensity_and_only_with_clip(logs):
    items, explored, uniform = logs
    features = PairFeatures(items, LABELS, KINDS)
    logged = load_logged(Store(explored), 1, items)
    n = len(items)
    _, _, weights = training_arrays(logged.train, logged, features, items, False, clip=3.0)
    expected = np.concatenate([np.minimum((1 / n) / np.array(r["propensities"]), 3.0) for r in logged.train])
    assert np.allclose(weights, expected, rtol=1e-6)
    greedy, explored_weight = (1 / n) / (1 - EPSILON + EPSILON / n), 1 / EPSILON
    assert np.allclose(np.unique(weights), [greedy, 3.0], rtol=1e-5)  # 1/ε = 3.33 is clipped to 3
    assert explored_weight > 3.0
    assert (training_arrays(logged.train, logged, features, items, False)[2] == 1).all()  # off by default
    flat = load_logged(Store(uniform), 1, items)
    assert (training_arrays(flat.train, flat, features, items, False, clip=3.0)[2] == 1).all()


def test_ranker_train_with_clip_records_the_weighting(ray_cluster, logs, tmp_path):
    items, explored, _ = logs
    bundle = train_ranker(explored, tmp_path / "weighted", items, LABELS, epochs=2, inputs="emotion-aware",
                          clip=10.0, echo=lambda _: None)
    meta = json.loads((bundle / "ranker.json").read_text())
    weighting = meta["weighting"]
    assert weighting["inverse_propensity"] is True and weighting["clip"] == 10.0
    assert weighting["max_weight"] == pytest.approx(1 / EPSILON, rel=1e-5)
    assert 0 < weighting["effective_rows"] < meta["train_rows"] / 2  # the greedy rows, most of the log, weigh ~1/n
    assert np.isfinite(meta["val_mse"])

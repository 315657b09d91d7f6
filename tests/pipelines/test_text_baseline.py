"""The TF-IDF + logistic-regression baseline on prepared feature shards."""
import pyarrow.parquet as pq

from mmei.pipelines.feature_dataset import read_manifest
from mmei.pipelines.text_baseline import C_GRID, tfidf_logistic_regression
from mmei.platform.labels import IGNORE_INDEX
from mmei.platform.metrics import head_metrics


def test_baseline_scores_exactly_the_labelled_test_texts_and_beats_chance(features_dir):
    rows = pq.read_table([features_dir / name for name in read_manifest(features_dir)["outputs"]]).to_pylist()
    expected = sorted(r["sample_id"] for r in rows if r["split"] == "test" and r["text"]
                      and r["intent_id"] != IGNORE_INDEX)
    result = tfidf_logistic_regression(features_dir, "intent")
    assert sorted(result["ids"]) == expected and len(result["predictions"]) == len(expected)
    assert result["C"] in C_GRID
    import numpy as np

    probabilities = np.eye(8)[result["predictions"]]
    # SYNTHETIC intents are stated in words most of the time: a bag of words finds them
    assert head_metrics(probabilities, result["labels"])["macro_f1"] > 0.3

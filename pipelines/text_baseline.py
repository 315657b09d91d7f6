"""The classical text baseline: TF-IDF (words and bigrams) + logistic regression.

It reads the same prepared feature shards the models train on (their `text`,
`split` and label-id columns), so it sees exactly the rows MMEI sees, quarantine
included. Its one hyperparameter, the inverse regularisation C, is chosen on the val
split from a fixed grid, as MMEI's epoch is chosen on val: the same budget of
looking at validation data. scikit-learn is imported only here.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from mmei.pipelines.feature_dataset import read_manifest
from mmei.pipelines.logistic_on_val import logistic_regression_on_val
from mmei.platform.labels import IGNORE_INDEX

C_GRID = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)


def labelled_texts(data_dir: Path, head: str) -> dict[str, dict[str, Any]]:
    """split → {"ids", "texts", "labels"} for rows with text and a label for `head`."""
    files = [data_dir / name for name in read_manifest(data_dir)["outputs"]]
    table = pa.concat_tables(pq.read_table(path, columns=["sample_id", "split", "text", f"{head}_id"])
                             for path in files)
    splits: dict[str, dict[str, list]] = {}
    for row in table.to_pylist():
        if row["text"] and row["text"].strip() and row[f"{head}_id"] != IGNORE_INDEX:
            split = splits.setdefault(row["split"], {"ids": [], "texts": [], "labels": []})
            split["ids"].append(row["sample_id"])
            split["texts"].append(row["text"])
            split["labels"].append(row[f"{head}_id"])
    return {name: {**split, "labels": np.array(split["labels"])} for name, split in splits.items()}


def tfidf_logistic_regression(data_dir: Path, head: str, evaluate_on: str = "test") -> dict[str, Any]:
    """Fit on train, pick C on val, predict `evaluate_on`: ids, predictions, labels, C."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    data = labelled_texts(data_dir, head)
    for split in ("train", "val", evaluate_on):
        if split not in data:
            raise ValueError(f"{data_dir} has no labelled {head} texts in split {split!r}")
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    train = vectorizer.fit_transform(data["train"]["texts"])
    val = vectorizer.transform(data["val"]["texts"])
    val_f1, best_c, model = logistic_regression_on_val(train, data["train"]["labels"], val, data["val"]["labels"],
                                                       C_GRID)
    target = data[evaluate_on]
    return {"ids": target["ids"], "labels": target["labels"], "C": best_c, "val_macro_f1": float(val_f1),
            "predictions": model.predict(vectorizer.transform(target["texts"]))}

"""Classical baselines for real voices and faces, on the rows MMEI trains on.

- **audio**: MFCC statistics → logistic regression. 40 MFCCs (an orthonormal DCT of
  the prepared log-mel, the same frames the model sees) and their deltas, mean and
  standard deviation over each clip's valid frames: 160 numbers per clip. The classic
  speech-emotion floor.
- **visual**: HOG (scikit-image: 9 orientations, 8x8-pixel cells, 2x2-cell blocks,
  L2-Hys) of the grey face → logistic regression. The classic expression floor.

Like the text baseline (text_baseline.py), each reads the prepared feature shards, so
it sees exactly the rows MMEI sees, quarantine included, and picks its one
hyperparameter C on val from a fixed grid, as MMEI's epoch is picked on val.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import pyarrow.parquet as pq

from mmei.pipelines.feature_dataset import read_manifest
from mmei.pipelines.logistic_on_val import logistic_regression_on_val
from mmei.platform.labels import IGNORE_INDEX

C_GRID = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
MFCC_COUNT = 40


def dct_matrix(bands: int, count: int) -> np.ndarray:
    """(bands, count) orthonormal DCT-II: log-mel → MFCC."""
    n = np.arange(bands)[:, None]
    k = np.arange(count)[None, :]
    basis = np.cos(np.pi / bands * (n + 0.5) * k) * np.sqrt(2.0 / bands)
    basis[:, 0] /= np.sqrt(2.0)
    return basis


def mfcc_statistics(log_mel: np.ndarray) -> np.ndarray:
    """(T, bands) log-mel → mean and std of MFCCs and their deltas: (4 * 40,)."""
    mfcc = log_mel @ dct_matrix(log_mel.shape[1], min(MFCC_COUNT, log_mel.shape[1]))
    delta = np.gradient(mfcc, axis=0) if len(mfcc) > 1 else np.zeros_like(mfcc)
    return np.concatenate([mfcc.mean(0), mfcc.std(0), delta.mean(0), delta.std(0)])


def hog_vector(frame: np.ndarray) -> np.ndarray:
    """(3, S, S) uint8 RGB → HOG of its grey image."""
    from skimage.feature import hog

    grey = frame.astype(np.float32).mean(axis=0)
    return hog(grey, orientations=9, pixels_per_cell=(8, 8), cells_per_block=(2, 2), block_norm="L2-Hys")


def labelled_media(data_dir: Path, head: str, modality: str) -> dict[str, dict[str, Any]]:
    """split → {"ids", "x", "labels"} for rows with `modality` and a `head` label."""
    manifest = read_manifest(data_dir)
    features = manifest["features"]
    if modality == "audio":
        if features["audio_input"] != "logmel":
            raise ValueError("the MFCC baseline needs log-mel features (features.audio_input=logmel)")
        width = features["n_mels"]
        vector: Callable[[Any], np.ndarray] = lambda values: mfcc_statistics(np.asarray(values, np.float32).reshape(-1, width))  # noqa: E731
    elif modality == "visual":
        if features["visual_input"] != "frames":
            raise ValueError("the HOG baseline needs image frames (features.visual_input=frames)")
        size = features["image_size"]
        vector = lambda values: hog_vector(np.asarray(values, np.uint8).reshape(-1, 3, size, size)[0])  # noqa: E731
    else:
        raise ValueError(f"no classical baseline for modality {modality!r}")
    column = "audio" if modality == "audio" else "frames"
    splits: dict[str, dict[str, list]] = {}
    for name in manifest["outputs"]:
        table = pq.read_table(data_dir / name, columns=["sample_id", "split", column, f"{head}_id"])
        for row in table.to_pylist():
            if row[column] and row[f"{head}_id"] != IGNORE_INDEX:
                split = splits.setdefault(row["split"], {"ids": [], "x": [], "labels": []})
                split["ids"].append(row["sample_id"])
                split["x"].append(vector(row[column]))
                split["labels"].append(row[f"{head}_id"])
    return {name: {"ids": split["ids"], "x": np.stack(split["x"]), "labels": np.array(split["labels"])}
            for name, split in splits.items()}


def media_logistic_regression(data_dir: Path, head: str, modality: str, evaluate_on: str = "test") -> dict[str, Any]:
    """Fit on train, pick C on val, predict `evaluate_on`: ids, predictions, labels, C, feature."""
    from sklearn.preprocessing import StandardScaler

    data = labelled_media(data_dir, head, modality)
    for split in ("train", "val", evaluate_on):
        if split not in data:
            raise ValueError(f"{data_dir} has no labelled {modality} rows in split {split!r}")
    scaler = StandardScaler().fit(data["train"]["x"])
    train, val = scaler.transform(data["train"]["x"]), scaler.transform(data["val"]["x"])
    val_f1, best_c, model = logistic_regression_on_val(train, data["train"]["labels"], val, data["val"]["labels"],
                                                       C_GRID, max_iter=3000)
    target = data[evaluate_on]
    return {"ids": target["ids"], "labels": target["labels"], "C": best_c, "val_macro_f1": float(val_f1),
            "feature": "MFCC statistics" if modality == "audio" else "HOG",
            "predictions": model.predict(scaler.transform(target["x"]))}

import numpy as np
import pytest

from mmei.platform.labels import IGNORE_INDEX
from mmei.platform.metrics import confusion_matrix, head_metrics


def one_hot(predictions, classes=3, confidence=0.8):
    probabilities = np.full((len(predictions), classes), (1 - confidence) / (classes - 1))
    probabilities[np.arange(len(predictions)), predictions] = confidence
    return probabilities


def test_metrics_match_a_hand_computed_example():
    # truth 0 0 1 1 2, predicted 0 1 1 1 0: F1 per class 0.5, 0.8, 0.0
    labels = np.array([0, 0, 1, 1, 2])
    metrics = head_metrics(one_hot([0, 1, 1, 1, 0]), labels)
    assert metrics["accuracy"] == pytest.approx(0.6)
    assert metrics["macro_f1"] == pytest.approx(1.3 / 3)
    assert metrics["weighted_f1"] == pytest.approx(2.6 / 5)
    assert metrics["cross_entropy"] == pytest.approx(-(3 * np.log(0.8) + 2 * np.log(0.1)) / 5)


def test_unlabelled_rows_are_left_out():
    labels = np.array([0, IGNORE_INDEX, 1])
    assert head_metrics(one_hot([0, 2, 1]), labels)["n"] == 2
    assert head_metrics(one_hot([0, 2, 1]), labels)["accuracy"] == 1.0


def test_confusion_matrix_rows_are_truth():
    matrix = confusion_matrix(np.array([0, 0, 2]), np.array([1, 0, 2]), 3)
    assert matrix.tolist() == [[1, 1, 0], [0, 0, 0], [0, 0, 1]]

"""`--compare`'s paired statistics, from predictions whose truth is known (no training:
the quickstart test runs the whole comparison through Ray Train)."""
import numpy as np
import pytest

from mmei.pipelines.compare import SplitPredictions, compare_sections, verdict, verdict_line
from mmei.platform.labels import HEADS
from mmei.platform.metrics import joint_metrics
from mmei.platform.predict import Outputs

ROWS, CLASSES = 300, {"emotion": 7, "sentiment": 3, "intent": 4}


def outputs(labels, right, rng):
    """Outputs that predict the true class with probability `right`."""
    probabilities = {}
    for head, size in CLASSES.items():
        predicted = np.where(rng.random(ROWS) < right, labels[head], rng.integers(0, size, ROWS))
        probabilities[head] = np.full((ROWS, size), 0.1 / size) + 0.9 * np.eye(size)[predicted]
    zeros = np.zeros((ROWS, 3))
    return Outputs(probabilities, labels, zeros, zeros, np.zeros(ROWS), np.full(ROWS, np.nan))


def shuffled(ids, out, rng):
    """The same rows in another order, as another Ray Data read may return them."""
    order = rng.permutation(ROWS)
    return ([ids[i] for i in order],
            Outputs({h: p[order] for h, p in out.probabilities.items()}, {h: v[order] for h, v in out.labels.items()},
                    out.fusion_weights, out.present, out.scores, out.score_targets))


def test_each_baseline_gets_paired_statistics_on_the_same_rows_whatever_order_they_came_in():
    rng = np.random.default_rng(0)
    ids = [f"s{i:04d}" for i in range(ROWS)]
    labels = {head: rng.integers(0, size, ROWS) for head, size in CLASSES.items()}
    test, runs = SplitPredictions(), {"mmei": [], "weak": [], "equal": []}
    for seed in range(3):
        for kind, right in (("mmei", 0.8), ("weak", 0.4), ("equal", 0.8)):
            out = outputs(labels, right, rng)
            runs[kind].append(joint_metrics(out.probabilities, out.labels))
            test.add(kind, *shuffled(ids, out, rng))
    summary = {kind: {"macro_f1_mean": (np.mean([m["macro_f1_mean"] for m in r]), 0.0),
                      "loss": (np.mean([m["loss"] for m in r]), 0.0)} for kind, r in runs.items()}
    result = verdict(summary, test)
    weak, equal = result["baselines"]["weak"], result["baselines"]["equal"]
    assert weak["paired_difference"] == pytest.approx(summary["mmei"]["macro_f1_mean"][0] - summary["weak"]["macro_f1_mean"][0])
    assert weak["resolved"] and weak["paired_difference_ci"][0] > 0 and weak["paired_p_value"] < 0.05
    assert not equal["resolved"] and equal["paired_difference_ci"][0] < 0 < equal["paired_difference_ci"][1]
    assert result["best_baseline"] == "equal"
    compared = {"seeds": 3, "verdict": result, "summary": summary,
                "parameters": dict.fromkeys(runs, {"trainable": 1, "total": 2}), "budget": {"epochs": 1, "batch_size": 8, "num_workers": 2,
                                                                  "lr": 1e-3, "encoder_lr": 1e-4, "warmup_ratio": 0.1,
                                                                  "select": "best"}}
    assert verdict_line(compared).endswith("not resolved at this budget")
    table = "\n".join(compare_sections(compared))
    assert "| weak |" in table and "MMEI better" in table and "| equal |" in table


def test_a_model_evaluated_on_other_rows_is_refused():
    rng = np.random.default_rng(1)
    labels = {head: rng.integers(0, size, ROWS) for head, size in CLASSES.items()}
    test = SplitPredictions()
    test.add("mmei", [f"s{i}" for i in range(ROWS)], outputs(labels, 0.8, rng))
    with pytest.raises(RuntimeError, match="other test rows"):
        test.add("late_fusion", [f"t{i}" for i in range(ROWS)], outputs(labels, 0.8, rng))
    assert set(HEADS) == set(CLASSES)

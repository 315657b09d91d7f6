"""`--compare`'s paired statistics, from predictions whose truth is known (no training:
the quickstart test runs the whole comparison through Ray Train)."""
import json

import numpy as np
import pytest
import yaml

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


def write_sweep(folder, kind, lr, **budget):
    """A finished sweep's files as `mmei tune --model KIND --output folder/KIND` leaves them."""
    from mmei.platform.config import load_config

    best = folder / kind / "best"
    best.mkdir(parents=True)
    best.joinpath("config.yaml").write_text(yaml.safe_dump(load_config("tiny", [f"train.lr={lr}"]).to_dict()))
    meta = {"samples": 8, "epochs": 2, "search": "random", "scheduler": "asha", "space": {"train.lr": {"loguniform": [1e-4, 1e-2]}}}
    (folder / kind / "sweep_meta.json").write_text(json.dumps({**meta, **budget}))


def test_tuned_is_all_or_none_and_the_sweeps_must_share_their_budget(tmp_path):
    from mmei.pipelines.compare import check_tuned, with_model
    from mmei.platform.config import load_config
    from mmei.platform.errors import UserInputError

    write_sweep(tmp_path, "mmei", 0.002)
    with pytest.raises(UserInputError, match="no finished sweep for late_fusion"):
        check_tuned(tmp_path, ["mmei", "late_fusion"])
    write_sweep(tmp_path, "late_fusion", 0.004, samples=4, search="optuna")
    with pytest.raises(UserInputError, match=r"samples: mmei 8, late_fusion 4; search: mmei 'random', late_fusion 'optuna'"):
        check_tuned(tmp_path, ["mmei", "late_fusion"])
    write_sweep(tmp_path, "text_only", 0.004)
    check_tuned(tmp_path, ["mmei", "text_only"])  # same budget: accepted
    tuned = with_model(load_config("tiny"), "text_only", seed=2, tuned=tmp_path)
    assert (tuned.model.type, tuned.train.lr, tuned.train.seed) == ("text_only", 0.004, 2)


@pytest.mark.parametrize("preset", ["tiny", "mintrec", "mmsa", "text", "base"])
def test_every_preset_gives_each_baseline_mmeis_trainable_budget(preset):
    """Trainable parameters, so tiny's frozen 11.7M-weight embedding table cannot make any
    baseline pass. On base, text_only cannot match: the audio and visual encoders and
    cross-modal layers it lacks hold 39% of MMEI's trainable weights, so it is refused and
    must be left out with --models."""
    from mmei.pipelines.compare import parameter_counts
    from mmei.platform.config import load_config
    from mmei.platform.errors import UserInputError
    from mmei.platform.models.build import MODEL_TYPES

    config = load_config(preset)
    kinds = [kind for kind in MODEL_TYPES if not (preset == "base" and kind == "text_only")]
    counts = parameter_counts(config, kinds)
    assert all(abs(c["trainable"] / counts["mmei"]["trainable"] - 1) <= 0.10 for c in counts.values())
    if preset == "tiny":
        assert counts["mmei"]["total"] - counts["mmei"]["trainable"] > 10_000_000  # the frozen table, not counted
    if preset == "base":
        with pytest.raises(UserInputError, match=r"text_only .*\(-39%\).*--models"):
            parameter_counts(config, ["mmei", "text_only"])

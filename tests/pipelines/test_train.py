"""Ray Train + DeepSpeed on a real local cluster: learning, ZeRO 1-3, resume, failure, bundle.

Training is deterministic per epoch (seeds per epoch and rank, ordered data), so a
resumed or restarted run must reproduce the uninterrupted one's losses.
"""
import json
import subprocess
import sys

import pytest
from ray.train import TrainingFailedError

from mmei.pipelines.evaluate import evaluate_model
from mmei.pipelines.step_log import read_steps
from mmei.pipelines.train import run_training, selected_epoch
from mmei.platform.bundle import load_bundle
from mmei.platform.config import load_config

from tests.conftest import TRAINED_RUN_OVERRIDES as TINY


def config(*extra):
    return load_config("tiny", [*TINY, *extra])


@pytest.fixture(scope="module")
def features(features_dir):
    return features_dir


@pytest.fixture(scope="module")
def reference(trained_run):
    """Run A: ZeRO-2, 2 epochs, never interrupted (the session's shared run, trained with TINY)."""
    return trained_run


def losses(history):
    return [loss for h in history for loss in (h["train_loss"], h["val_loss"])]


def test_zero2_lowers_the_loss_and_writes_its_outputs(reference):
    out, result = reference
    assert len(result.history) == 2
    curve = losses(result.history)
    # the training loss falls; the val loss on 24 rows after 2 epochs is too noisy to assert on
    assert curve[2] < 0.97 * curve[0], curve
    assert json.loads((out / "history.json").read_text()) == result.history
    assert (out / "bundle" / "weights.safetensors").is_file()
    # each parameter group logs its own learning rate: BERT's and the heads'
    assert result.history[0]["lr"] > 0 and result.history[0]["lr_encoder"] > 0
    assert result.wandb_offline_dir and list(__import__("pathlib").Path(result.wandb_offline_dir).glob("*.wandb"))


def test_steps_jsonl_records_every_log_interval_and_each_epoch(reference):
    out, result = reference
    records = read_steps(out / "steps.jsonl")
    steps = [r for r in records if not r.get("epoch_end")]
    epochs = [r for r in records if r.get("epoch_end")]
    assert steps and all({"step", "loss", "lr", "lr_encoder", "grad_norm", "samples_per_s", "skipped_steps"} <= set(r)
                         for r in records)
    assert [r["step"] for r in steps] == list(range(4, epochs[-1]["step"] + 1, 4))
    assert [r["epoch"] for r in epochs] == [0, 1] and epochs[-1]["step"] == result.history[-1]["step"]
    assert all(r["skipped_steps"] == 0 and r["grad_norm"] > 0 and r["loss"] > 0 for r in steps)
    assert [r["val_macro_f1_mean"] for r in epochs] == [h["val_macro_f1_mean"] for h in result.history]
    assert json.loads((out / "run.json").read_text())["startup_s"] > 0


def test_resume_with_another_config_is_refused_before_anything_runs(features, reference):
    from mmei.platform.errors import UserInputError

    with pytest.raises(UserInputError, match=r"model.hidden_size: 64 → 32.*train.lr: 0.0003 → 0.1"):
        run_training(config("model.hidden_size=32", "train.lr=0.1"), features, reference[0], resume=True,
                     echo=lambda _: None)


def test_bundle_comes_from_the_best_validation_epoch(features, reference):
    out, result = reference
    best = max(result.history, key=lambda h: h["val_macro_f1_mean"])
    selected = json.loads((out / "run.json").read_text())["selected"]
    assert selected == {"select": "best", "metric": "val_macro_f1_mean", "epoch": best["epoch"],
                        "value": best["val_macro_f1_mean"]}
    metrics, _ = evaluate_model(load_bundle(result.bundle).model, features, "val")
    assert metrics["macro_f1_mean"] == pytest.approx(best["val_macro_f1_mean"], abs=1e-4)
    assert metrics["loss"] == pytest.approx(best["val_loss"], abs=1e-4)


def test_selection_rule_picks_the_first_best_epoch_or_the_last():
    history = [{"epoch": 0, "val_macro_f1_mean": 0.2}, {"epoch": 1, "val_macro_f1_mean": 0.5},
               {"epoch": 2, "val_macro_f1_mean": 0.5}, {"epoch": 3, "val_macro_f1_mean": 0.4}]
    assert selected_epoch(history, "best") == 1
    assert selected_epoch(history, "last") == 3


def test_resume_reproduces_the_uninterrupted_run(features, reference, tmp_path):
    """Run B stops after epoch 1 (a crash with no retries), then `--resume` finishes it."""
    with pytest.raises(TrainingFailedError):
        run_training(config("train.inject_failure_at=1:0", "train.max_failures=0"), features, tmp_path,
                     echo=lambda _: None)
    with pytest.raises(FileExistsError, match="--resume"):
        run_training(config(), features, tmp_path, echo=lambda _: None)
    resumed = run_training(config("train.inject_failure_at=1:0", "train.max_failures=0"), features, tmp_path,
                           resume=True, echo=lambda _: None)
    assert losses(resumed.history) == pytest.approx(losses(reference[1].history), rel=1e-5)
    # step numbering continues after the checkpoint, and the steps replay the uninterrupted run's
    steps = [(r["step"], r["loss"]) for r in read_steps(tmp_path / "steps.jsonl")]
    expected = [(r["step"], r["loss"]) for r in read_steps(reference[0] / "steps.jsonl")]
    assert [s for s, _ in steps] == [s for s, _ in expected]
    assert [loss for _, loss in steps] == pytest.approx([loss for _, loss in expected], rel=1e-5)


def test_a_worker_failure_mid_epoch_is_survived(features, reference, tmp_path):
    result = run_training(config("train.inject_failure_at=1:3", "train.max_failures=1"), features, tmp_path,
                          echo=lambda _: None)
    assert (tmp_path / "ray" / ".injected_failure").exists()  # the failure really happened
    assert losses(result.history) == pytest.approx(losses(reference[1].history), rel=1e-4)


@pytest.mark.parametrize("stage", [1, 3])
def test_other_zero_stages_train_and_export(features, tmp_path, stage):
    result = run_training(config(f"train.zero_stage={stage}", "train.epochs=1"), features, tmp_path,
                          echo=lambda _: None)
    checkpoint = sorted(p for p in (tmp_path / "ray" / "train").glob("checkpoint_*") if p.is_dir())[-1] / "deepspeed"
    if stage == 3:  # sharded: one model-state file per rank
        assert len(list(checkpoint.glob("zero_pp_rank_*_mp_rank_00_model_states.pt"))) == 2
    # the bundle reproduces what the live engine measured on the val split
    metrics, _ = evaluate_model(load_bundle(result.bundle).model, features, "val")
    for key in ("loss", "emotion_accuracy", "intent_macro_f1", "sentiment_cross_entropy"):
        assert metrics[key] == pytest.approx(result.history[-1][f"val_{key}"], abs=1e-4), key


def test_trained_bundle_loads_without_ray(reference):
    bundle = reference[0] / "bundle"
    code = ("import sys; from mmei.platform.bundle import load_bundle; "
            f"p = load_bundle({str(bundle)!r}); out = p.predict([{{'text': 'I love this AI song'}}]); "
            "assert out[0]['fusion_weights']['text'] == 1.0; "
            "assert not [m for m in ('ray', 'deepspeed') if m in sys.modules]")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr


def test_features_prepared_with_other_settings_are_refused(features, tmp_path):
    from mmei.platform.errors import UserInputError

    with pytest.raises(UserInputError, match="prepared with other features"):
        run_training(config("features.n_mels=16"), features, tmp_path, echo=lambda _: None)

"""Ray Tune sweeps on a real local cluster: outputs, W&B per trial, resume, reproducibility."""
import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from mmei.pipelines.train import run_training
from mmei.platform.bundle import load_bundle
from mmei.platform.config import config_from_dict, load_config
from mmei.tuning.sweep import run_sweep

QUICK = ["train.epochs=2", "train.batch_size=8"]


@pytest.fixture(scope="module")
def sweep(features_dir, tmp_path_factory):
    """2 trials with ASHA on the session's cluster, at once. Two are enough for every
    output and for ASHA's first rung; each more trial costs ~25 s of CPU here.

    Not in a subprocess with its own cluster: with two Ray clusters on one machine,
    Ray Train's PlacementGroupCleaner cannot tell which to ask ("Found multiple active
    Ray instances"), so the placement group of a trial ASHA stopped was never freed
    and the next trial waited forever for its CPU.
    """
    out = tmp_path_factory.mktemp("sweep") / "s"
    summary = run_sweep(load_config("tiny", QUICK), features_dir, out, samples=2, max_concurrent=2,
                        echo=lambda _: None)
    return out, summary


def test_an_asha_sweep_writes_every_output(sweep):
    out, summary = sweep
    for name in ("results.csv", "results.md", "objective.png", "best/config.yaml", "best/bundle/bundle.json"):
        assert (out / name).is_file(), name
    with (out / "results.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2 and all(row["objective"] for row in rows)
    assert {"model.fusion", "train.lr", "model.modality_dropout"} <= set(rows[0])
    assert load_bundle(out / "best" / "bundle").config.model.fusion == summary["best"]["model.fusion"]


def test_every_trial_has_an_offline_wandb_run_with_its_metrics(sweep):
    out, _ = sweep
    with (out / "results.csv").open() as handle:
        trial_ids = [row["trial_id"] for row in csv.DictReader(handle)]
    runs = sorted((out / "wandb").rglob("offline-run-*"))
    assert len(runs) == len(trial_ids) == 2, [run.name for run in runs]
    for trial_id in trial_ids:
        (run,) = [run for run in runs if run.name.endswith(f"-{trial_id}")]
        (log,) = run.glob("*.wandb")
        assert b"val_macro_f1_mean" in log.read_bytes(), run.name


def test_retraining_the_best_config_reproduces_its_objective(sweep, features_dir, tmp_path):
    out, summary = sweep
    best = config_from_dict(yaml.safe_load((out / "best" / "config.yaml").read_text()))
    result = run_training(best, features_dir, tmp_path, echo=lambda _: None)
    assert result.history[-1]["val_macro_f1_mean"] == pytest.approx(summary["best"]["objective"], abs=1e-4)


def last_objective(sweep_dir, trial_id):
    """The objective Tune recorded for a trial (its result.json, one JSON line per report)."""
    (result,) = sweep_dir.glob(f"sweep/*{trial_id}*/result.json")
    return json.loads(result.read_text().strip().splitlines()[-1])["val_macro_f1_mean"]


def checkpoints(sweep_dir, trial_id):
    return {p.name: p.stat().st_mtime for p in (sweep_dir / "trials" / trial_id).rglob("checkpoint_*")}


def test_an_interrupted_sweep_resumes_without_rerunning_finished_trials(ray_cluster, features_dir, tmp_path):
    """Two drivers, as a user runs them, on the session's cluster (`--address`): a
    cluster of their own would cost two starts, and two clusters confuse Ray Train."""
    out = tmp_path / "s"
    address = ["--address", ray_cluster.get_runtime_context().gcs_address]
    command = [sys.executable, "-m", "mmei.cluster.cli", "tune", "--data", str(features_dir), "--output", str(out),
               "--trials", "2", "--scheduler", "none", "--max-concurrent", "1", *address, "train.epochs=1",
               "train.batch_size=8"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    driver = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.time() + 400
    trials = []
    while time.time() < deadline and driver.poll() is None:
        trials = sorted((out / "trials").iterdir(), key=lambda t: t.stat().st_mtime) if (out / "trials").exists() else []
        if len(trials) >= 2:  # one trial at a time: the second started, so the first has finished
            break
        time.sleep(1)
    assert driver.poll() is None, "the sweep ended before it could be interrupted"
    # What an orchestrator sends; it means what Ctrl-C means to Tune (save the sweep, return early)
    driver.send_signal(signal.SIGTERM)
    _, stderr = driver.communicate(timeout=240)  # bounded: trial cleanup 20 s plus the W&B finish bound 120 s
    assert driver.returncode == 143 and "stopped by SIGTERM" in stderr, stderr[-3000:]
    assert "SIGTERM received" not in stderr and "Traceback" not in stderr
    finished = trials[0].name
    before = (last_objective(out, finished), checkpoints(out, finished))
    assert before[1], "the finished trial left no checkpoint"

    resumed = subprocess.run([sys.executable, "-m", "mmei.cluster.cli", "tune", "--output", str(out), "--resume",
                              *address],
                             capture_output=True, text=True, timeout=600, env=env)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    with (out / "results.csv").open() as handle:
        rows = {row["trial_id"]: row for row in csv.DictReader(handle)}
    assert len(rows) == 2 and all(row["status"] == "completed" for row in rows.values())
    assert float(rows[finished]["objective"]) == pytest.approx(before[0])
    assert checkpoints(out, finished) == before[1]  # not trained again
